//! `consul debug`: records what an operator needs to look at an agent — its self document,
//! host, members, metrics and logs over `-duration`, the Raft peers — into a directory laid out
//! as Consul's (`index.json`, `agent.json`, `host.json`, `members.json`, `metrics.json`,
//! `consul.log`, `listpeers.json`), then archives it as `<output>.tar.gz`. This agent has no Go
//! runtime profiles: `pprof` is left out of the default targets with Consul's warning for an
//! agent without `enable_debug`, and refused when asked for by name.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use api_types::client::{Client, QueryOptions};
use api_types::{format_go_duration, parse_go_duration};
use clap::{ArgAction, Parser};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const USAGE: &str = "Usage: consul debug [options]\n\n  Monitors a Consul agent for the specified period of time, recording\n  information about the agent, cluster, and environment to an archive\n  written to the specified path.\n\n  If ACLs are enabled, an 'operator:read' token must be supplied in order\n  to perform this operation.\n\n  To create a debug archive in the current directory for the default\n  duration and interval, capturing all information available:\n\n      $ consul debug\n\n  Flags can be used to customize the duration and interval of the\n  operation, to limit what is captured (-capture, repeatable), and to keep\n  the directory instead of an archive (-archive=false).\n\n      $ consul debug -interval=20s -duration=1m -capture metrics -capture agent";

/// Every target, in Consul's order; `cluster` is `members`' old name.
const TARGETS: &[&str] = &["metrics", "logs", "pprof", "host", "agent", "members"];

#[derive(Parser, Debug)]
struct DebugFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// One or more types of information to capture (metrics, logs, host, agent, members);
    /// repeatable. Defaults to everything available.
    #[arg(long, action = ArgAction::Append)]
    capture: Vec<String>,
    /// The interval in which to capture dynamic information.
    #[arg(long, default_value = "30s")]
    interval: String,
    /// The total time to record information.
    #[arg(long, default_value = "5m")]
    duration: String,
    /// Whether to archive and compress the files (false: leave the directory).
    #[arg(long, value_parser = goflags::go_bool, default_value = "true")]
    archive: Option<bool>,
    /// The path of the archive (without `.tar.gz`) or directory to create.
    #[arg(long)]
    output: Option<String>,
    /// Consul runs hcdiag with this; refused here.
    #[arg(long)]
    since: Option<String>,
    args: Vec<String>,
}

/// The flags' timing, archiving and request options.
struct How {
    interval: Duration,
    duration: Duration,
    archive: bool,
    query: QueryOptions,
}

/// What one run records, once its flags are checked.
struct Plan {
    interval: Duration,
    duration: Duration,
    output: PathBuf,
    archive: bool,
    capture: Vec<String>,
    /// The -token, -datacenter and the like of every request.
    query: QueryOptions,
}

fn go_duration(flag: &str, text: &str) -> Result<Duration, String> {
    match parse_go_duration(text) {
        Ok(ns) if ns >= 0 => Ok(Duration::from_nanos(ns as u64)),
        _ => Err(format!(
            "Error parsing flags: invalid value {text:?} for flag -{flag}: parse error"
        )),
    }
}

/// The UTC time now in `layout` (a `time` format description).
fn utc_now(layout: &str) -> String {
    time::format_description::parse_borrowed::<2>(layout)
        .ok()
        .and_then(|f| time::OffsetDateTime::now_utc().format(&f).ok())
        .unwrap_or_default()
}

/// Consul's default output name: `consul-debug-<UTC time with hyphens for colons>`.
fn default_output() -> String {
    format!(
        "consul-debug-{}",
        utc_now("[year]-[month]-[day]T[hour]-[minute]-[second]Z")
    )
}

/// Runs `consul debug`.
pub fn run(args: &[String]) -> i32 {
    let flags: DebugFlags = match goflags::parse("debug", USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("==> debug: Too many arguments provided, expected 0");
        return 1;
    }
    if flags.since.is_some() {
        eprintln!("==> -since runs HashiCorp's hcdiag, which this consul does not include");
        return 1;
    }
    let (interval, duration) = match (
        go_duration("interval", &flags.interval),
        go_duration("duration", &flags.duration),
    ) {
        (Ok(i), Ok(d)) => (i, d),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("==> {e}");
            return 1;
        }
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let output = flags.output.unwrap_or_else(default_output);
    let how = How {
        interval,
        duration,
        archive: flags.archive.unwrap_or(true),
        query: flags.http.query(),
    };
    super::block_on(async move {
        let (plan, version) = match prepare(&client, how, flags.capture, &output).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("==> Capture validation failed: {e}");
                return 1;
            }
        };
        record(&client, plan, &version).await
    })
}

/// Consul's checks before anything is written: timing bounds, the agent answering, known
/// targets, and an output directory that does not exist yet.
async fn prepare(
    client: &Client,
    how: How,
    capture: Vec<String>,
    output: &str,
) -> Result<(Plan, String), String> {
    let How {
        interval,
        duration,
        archive,
        query,
    } = how;
    if duration < Duration::from_secs(10) {
        return Err("duration must be longer than 10s".into());
    }
    if interval < Duration::from_secs(5) {
        // Consul's text names the duration's minimum here.
        return Err("interval must be longer than 10s".into());
    }
    if duration < interval {
        return Err(format!(
            "duration ({}) must be longer than interval ({})",
            format_go_duration(duration.as_nanos() as i64),
            format_go_duration(interval.as_nanos() as i64)
        ));
    }
    let (me, _) = client.agent_self().await.map_err(|e| {
        format!("error querying target agent: {e}. verify connectivity and agent address")
    })?;
    let version = me["Config"]["Version"]
        .as_str()
        .ok_or("agent response did not contain version key")?
        .to_string();
    let mut capture = capture;
    if capture.is_empty() {
        capture = TARGETS
            .iter()
            .filter(|t| **t != "pprof")
            .map(|t| t.to_string())
            .collect();
        eprintln!("[WARN] Unable to capture pprof. This agent has no Go runtime profiles.");
    }
    for t in &capture {
        if t == "pprof" {
            return Err("target pprof: this agent has no Go runtime profiles to capture".into());
        }
        if !TARGETS.contains(&t.as_str()) && t != "cluster" {
            return Err(format!("target not found: {t}"));
        }
    }
    let output = PathBuf::from(output);
    if output.exists() {
        return Err(format!(
            "output directory already exists: {}",
            output.display()
        ));
    }
    std::fs::create_dir_all(&output)
        .map_err(|e| format!("could not create output directory: {e}"))?;
    Ok((
        Plan {
            interval,
            duration,
            output,
            archive,
            capture,
            query,
        },
        version,
    ))
}

impl Plan {
    fn wants(&self, target: &str) -> bool {
        self.capture
            .iter()
            .any(|c| c == target || (target == "members" && c == "cluster"))
    }

    fn file(&self, name: &str) -> PathBuf {
        self.output.join(name)
    }
}

/// `v` as Consul writes these files: indented with tabs (`json.MarshalIndent(v, "", "\t")`).
fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<(), String> {
    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut text,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    v.serialize(&mut ser).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `index.json`: what was recorded, in Consul's field order.
#[derive(serde::Serialize)]
struct Index<'a> {
    #[serde(rename = "Version")]
    version: u32,
    #[serde(rename = "AgentVersion")]
    agent_version: &'a str,
    #[serde(rename = "Interval")]
    interval: String,
    #[serde(rename = "Duration")]
    duration: String,
    #[serde(rename = "Targets")]
    targets: &'a [String],
}

async fn record(client: &Client, plan: Plan, version: &str) -> i32 {
    let archive_name = if plan.archive {
        format!("{}.tar.gz", plan.output.display())
    } else {
        plan.output.display().to_string()
    };
    let go = |d: Duration| format_go_duration(d.as_nanos() as i64);
    println!("==> Starting debugger and capturing static information...");
    println!("     Agent Version: '{version}'");
    println!("          Interval: '{}'", go(plan.interval));
    println!("          Duration: '{}'", go(plan.duration));
    println!("            Output: '{archive_name}'");
    println!("           Capture: '{}'", plan.capture.join(", "));
    // Consul adds a grace period so that the last interval falls inside the duration.
    let duration = plan.duration + Duration::from_secs(2);

    if let Err(e) = capture_static(client, &plan).await {
        eprintln!("Static capture failed: {e}");
    }
    if plan.wants("metrics") || plan.wants("logs") {
        let (metrics, logs, ()) = tokio::join!(
            async {
                if plan.wants("metrics") {
                    stream_to(
                        client,
                        "/v1/agent/metrics/stream",
                        &[],
                        &plan.file("metrics.json"),
                        duration,
                    )
                    .await
                } else {
                    Ok(())
                }
            },
            async {
                if plan.wants("logs") {
                    stream_to(
                        client,
                        "/v1/agent/monitor",
                        &[("loglevel", "TRACE")],
                        &plan.file("consul.log"),
                        duration,
                    )
                    .await
                } else {
                    Ok(())
                }
            },
            intervals(plan.interval, duration),
        );
        if let Err(e) = metrics.and(logs) {
            eprintln!("==> Error encountered during collection: {e}");
        }
    }
    let index = Index {
        version: 1,
        agent_version: version,
        interval: go(plan.interval),
        duration: go(duration),
        targets: &plan.capture,
    };
    if let Err(e) = write_json(&plan.file("index.json"), &index) {
        eprintln!("==> Error creating index document: {e}");
        return 1;
    }
    if let Err(e) = capture_raft(client, &plan).await {
        eprintln!("Raft list peers capture failed: {e}");
    }
    if plan.archive {
        if let Err(e) = archive(&plan.output) {
            eprintln!("Archive creation failed: {e}");
            return 1;
        }
    }
    println!("    Saved debug archive: {archive_name}");
    0
}

/// `host.json`, `agent.json` and `members.json` (the WAN pool's members, as Consul asks).
async fn capture_static(client: &Client, plan: &Plan) -> Result<(), String> {
    let mut errors = Vec::new();
    let q = &plan.query;
    if plan.wants("host") {
        match client.get_json::<Value>("/v1/agent/host", q, &[]).await {
            Ok((v, _)) => {
                write_json(&plan.file("host.json"), &v).unwrap_or_else(|e| errors.push(e))
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if plan.wants("agent") {
        match client.agent_self().await {
            Ok((v, _)) => {
                write_json(&plan.file("agent.json"), &v).unwrap_or_else(|e| errors.push(e))
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if plan.wants("members") {
        match client
            .get_json::<Value>("/v1/agent/members", q, &[("wan", "1")])
            .await
        {
            Ok((v, _)) => {
                write_json(&plan.file("members.json"), &v).unwrap_or_else(|e| errors.push(e))
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Copies a streaming endpoint's lines into `path` for `duration`.
async fn stream_to(
    client: &Client,
    endpoint: &str,
    params: &[(&str, &str)],
    path: &Path,
    duration: Duration,
) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let mut lines = client
        .get_lines(endpoint, params)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let mut f = tokio::fs::File::create(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let copy = async {
        while let Ok(Some(line)) = lines.next_line().await {
            f.write_all(line.as_bytes()).await?;
            f.write_all(b"\n").await?;
        }
        std::io::Result::Ok(())
    };
    // The duration ending (the timeout) is the normal end.
    if let Ok(Err(e)) = tokio::time::timeout(duration, copy).await {
        return Err(format!("{}: {e}", path.display()));
    }
    f.flush()
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Consul's progress lines, one per interval, for the duration.
async fn intervals(interval: Duration, duration: Duration) {
    let now = || utc_now("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond] +0000 UTC");
    println!("==> Beginning capture interval {} (0)", now());
    println!("==> Capture successful {} (0)", now());
    let end = tokio::time::Instant::now() + duration;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let mut n = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                n += 1;
                println!("==> Capture successful {} ({n})", now());
            }
            _ = tokio::time::sleep_until(end) => return,
        }
    }
}

/// `listpeers.json`: `consul operator raft list-peers`' table.
async fn capture_raft(client: &Client, plan: &Plan) -> Result<(), String> {
    let (v, _) = client
        .operator_raft_configuration(&plan.query)
        .await
        .map_err(|e| format!("Failed to retrieve raft configuration: {e}"))?;
    let servers = v["Servers"].as_array().cloned().unwrap_or_default();
    let last = |s: &Value| s["LastIndex"].as_u64().unwrap_or(0);
    let leader_index = servers
        .iter()
        .find(|s| s["Leader"].as_bool() == Some(true))
        .map_or(0, last);
    let mut rows = vec![
        "Node\x1fID\x1fAddress\x1fState\x1fVoter\x1fRaftProtocol\x1fCommit Index\x1fTrails Leader By"
            .to_string(),
    ];
    for s in &servers {
        let leader = s["Leader"].as_bool() == Some(true);
        let behind = leader_index.saturating_sub(last(s));
        let trails = match (leader, behind) {
            (true, _) => "-".to_string(),
            (false, 1) => "1 commit".to_string(),
            (false, n) => format!("{n} commits"),
        };
        let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
        let protocol = match text("ProtocolVersion").as_str() {
            "" => "<=1".to_string(),
            p => p.to_string(),
        };
        rows.push(
            [
                text("Node"),
                text("ID"),
                text("Address"),
                if leader { "leader" } else { "follower" }.to_string(),
                s["Voter"].as_bool().unwrap_or(false).to_string(),
                protocol,
                last(s).to_string(),
                trails,
            ]
            .join("\x1f"),
        );
    }
    std::fs::write(
        plan.file("listpeers.json"),
        super::render::columnize_with(&rows, '\x1f'),
    )
    .map_err(|e| format!("failed to create listpeers file: {e}"))
}

/// `<dir>.tar.gz` holding `dir` under its own name, written to a temporary file and renamed
/// into place; the directory is removed once archived.
fn archive(dir: &Path) -> Result<(), String> {
    let target = PathBuf::from(format!("{}.tar.gz", dir.display()));
    let tmp = PathBuf::from(format!("{}.tmp", target.display()));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "consul-debug".into());
    let written = (|| -> std::io::Result<()> {
        let f = std::fs::File::create(&tmp)?;
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all(&name, dir)?;
        let f = tar.into_inner()?.finish()?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("failed to create compressed archive: {e}"));
    }
    std::fs::remove_dir_all(dir).map_err(|e| format!("failed to remove archived directory: {e}"))
}
