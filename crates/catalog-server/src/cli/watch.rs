//! `consul watch`: a blocking query on one view of the catalog (`key`, `keyprefix`, `services`,
//! `nodes`, `service`, `checks`, `event`), as Consul's watch plans run it. Without a child
//! command the first result is printed (JSON, four-space indent) and the command exits; with
//! one, the child runs on every change with the result on its stdin and `CONSUL_INDEX` set,
//! until it fails (exit 1) or the watch is interrupted (exit 0).

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use api_types::client::{Client, ClientError, QueryOptions};
use api_types::json::{to_go_json, to_go_json_indent};
use api_types::{HealthCheck, KvPair, Node, ServiceEntry};
use clap::Parser;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The first wait after a failed query; doubled on each failure up to [`MAX_RETRY`].
const RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(180);

#[derive(Parser, Debug)]
struct WatchFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Specifies the watch type. One of key, keyprefix, services, nodes, service, checks, or event.
    #[arg(long = "type", default_value = "")]
    kind: String,
    /// Specifies the key to watch. Only for 'key' type.
    #[arg(long, default_value = "")]
    key: String,
    /// Specifies the key prefix to watch. Only for 'keyprefix' type.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Specifies the service to watch. Required for 'service' type, optional for 'checks' type.
    #[arg(long, default_value = "")]
    service: String,
    /// Specifies the service tag to filter on. Optional for 'service' type.
    #[arg(long, default_value = "")]
    tag: String,
    /// Specifies if only hosts passing all checks are displayed. Optional for 'service' type, must be one of `[true|false]`. Defaults false.
    #[arg(long, default_value = "")]
    passingonly: String,
    /// Use a shell to run the command (can set a custom shell via the SHELL environment variable).
    #[arg(long, value_parser = goflags::go_bool, default_value = "true")]
    shell: Option<bool>,
    /// Specifies the states to watch. Optional for 'checks' type.
    #[arg(long, default_value = "")]
    state: String,
    /// Specifies an event name to watch. Only for 'event' type.
    #[arg(long, default_value = "")]
    name: String,
    args: Vec<String>,
}

/// What is watched, validated as Consul's `watch.Parse` validates the parameters.
#[derive(Debug, Clone, PartialEq)]
enum View {
    Key(String),
    KeyPrefix(String),
    Services,
    Nodes,
    Service {
        name: String,
        tags: Vec<String>,
        passing: bool,
    },
    ChecksOfService(String),
    ChecksInState(String),
    Event(String),
}

/// An event as `/v1/event/list` lists it, in Consul's field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Payload")]
    payload: Option<String>,
    #[serde(rename = "NodeFilter")]
    node_filter: String,
    #[serde(rename = "ServiceFilter")]
    service_filter: String,
    #[serde(rename = "TagFilter")]
    tag_filter: String,
    #[serde(rename = "Version")]
    version: u32,
    #[serde(rename = "LTime")]
    ltime: u64,
}

/// One answer: its index, and its data encoded for the handler's stdin (compact, which is also
/// what changes are compared on) and for printing (indented).
struct Answer {
    index: u64,
    compact: Vec<u8>,
    pretty: Vec<u8>,
}

impl Answer {
    fn of<T: Serialize + ?Sized>(index: u64, data: &T) -> Answer {
        Answer {
            index,
            compact: to_go_json(data, false),
            pretty: to_go_json_indent(data, b"    "),
        }
    }
}

/// The view the flags ask for, or Consul's error text.
fn view_of(f: &WatchFlags, stale: bool) -> Result<View, String> {
    // Every parameter given; each view consumes those it knows, the rest are invalid.
    let mut given: BTreeMap<&str, &str> = [
        ("key", f.key.as_str()),
        ("prefix", f.prefix.as_str()),
        ("service", f.service.as_str()),
        ("tag", f.tag.as_str()),
        ("state", f.state.as_str()),
        ("name", f.name.as_str()),
        ("passingonly", f.passingonly.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let mut take = |k: &str| given.remove(k).unwrap_or("").to_string();
    let view = match f.kind.as_str() {
        "key" => match take("key") {
            k if k.is_empty() => return Err("Must specify a single key to watch".into()),
            k => View::Key(k),
        },
        "keyprefix" => match take("prefix") {
            p if p.is_empty() => return Err("Must specify a single prefix to watch".into()),
            p => View::KeyPrefix(p),
        },
        "services" => View::Services,
        "nodes" => View::Nodes,
        "service" => {
            let name = take("service");
            if name.is_empty() {
                return Err("Must specify a single service to watch".into());
            }
            let tag = take("tag");
            let passing = match take("passingonly") {
                p if p.is_empty() => false,
                p => api_types::parse_bool(&p).ok_or_else(|| {
                    format!("Failed to parse passingonly flag: strconv.ParseBool: parsing {p:?}: invalid syntax")
                })?,
            };
            View::Service {
                name,
                tags: if tag.is_empty() { vec![] } else { vec![tag] },
                passing,
            }
        }
        "checks" => {
            let (service, state, tag) = (take("service"), take("state"), take("tag"));
            if !tag.is_empty() {
                return Err("-tag with -type=checks: not implemented by this consul".into());
            }
            match (service.is_empty(), state.is_empty()) {
                (false, false) => return Err("Cannot specify service and state".into()),
                (false, true) => View::ChecksOfService(service),
                (true, false) => View::ChecksInState(state),
                (true, true) => View::ChecksInState("any".into()),
            }
        }
        "event" => View::Event(take("name")),
        "connect_roots" | "connect_leaf" | "agent_service" => {
            return Err(format!(
                "watch type {}: not implemented by this consul",
                f.kind
            ))
        }
        other => return Err(format!("Unsupported watch type: {other}")),
    };
    if stale && matches!(view, View::Event(_)) {
        given.insert("stale", "true");
    }
    if !given.is_empty() {
        let bad: Vec<&str> = given.keys().copied().collect();
        return Err(format!("Invalid parameters: [{}]", bad.join(" ")));
    }
    Ok(view)
}

/// One blocking query of `view` after `index`.
async fn fetch(
    client: &Client,
    view: &View,
    index: u64,
    stale: bool,
) -> Result<Answer, ClientError> {
    let q = QueryOptions {
        index: (index > 0).then_some(index),
        stale,
        ..Default::default()
    };
    Ok(match view {
        View::Key(key) => {
            let (pair, meta) = client.kv_get(key, &q).await?;
            Answer::of(meta.index, &pair)
        }
        View::KeyPrefix(prefix) => {
            let (pairs, meta): (Vec<KvPair>, _) = client.kv_list(prefix, &q).await?;
            Answer::of(meta.index, &pairs)
        }
        View::Services => {
            let (services, meta) = client.catalog_services(&q).await?;
            Answer::of(meta.index, &services)
        }
        View::Nodes => {
            let (nodes, meta): (Vec<Node>, _) = client.catalog_nodes(&q).await?;
            Answer::of(meta.index, &nodes)
        }
        View::Service {
            name,
            tags,
            passing,
        } => {
            let q = QueryOptions {
                tag: tags.clone(),
                passing: *passing,
                ..q
            };
            let (entries, meta): (Vec<ServiceEntry>, _) = client.health_service(name, &q).await?;
            Answer::of(meta.index, &entries)
        }
        View::ChecksOfService(service) => {
            let (checks, meta): (Vec<HealthCheck>, _) = client.health_checks(service, &q).await?;
            Answer::of(meta.index, &checks)
        }
        View::ChecksInState(state) => {
            let (checks, meta): (Vec<HealthCheck>, _) = client.health_state(state, &q).await?;
            Answer::of(meta.index, &checks)
        }
        View::Event(name) => {
            let q = QueryOptions { stale: false, ..q };
            let extra: Vec<(&str, &str)> = if name.is_empty() {
                vec![]
            } else {
                vec![("name", name.as_str())]
            };
            let (events, meta): (Vec<Event>, _) =
                client.get_json("/v1/event/list", &q, &extra).await?;
            // Only the events after the one the last answer ended with.
            let seen = events.iter().position(|e| event_index(&e.id) == index);
            let fresh = match seen {
                Some(i) => &events[i + 1..],
                None => &events[..],
            };
            Answer::of(meta.index, fresh)
        }
    })
}

/// Consul's index of an event: its UUID's two 64-bit halves XORed.
fn event_index(id: &str) -> u64 {
    match uuid::Uuid::parse_str(id) {
        Ok(u) => {
            let v = u.as_u128();
            ((v >> 64) as u64) ^ (v as u64)
        }
        Err(_) => 0,
    }
}

/// Runs `consul watch [options] [child...]`.
pub fn run(args: &[String]) -> i32 {
    let usage = "Usage: consul watch [options] [child...]\n\n  Watches for changes in a given data view from Consul. If a child process\n  is specified, it will be invoked with the latest results on changes. Otherwise,\n  the latest values are dumped to stdout and the watch terminates.\n\n  Providing the watch type is required, and other parameters may be required\n  or supported depending on the watch type.";
    let flags: WatchFlags = match goflags::parse("watch", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if flags.kind.is_empty() {
        eprintln!("Watch type must be specified\n\n{usage}");
        return 1;
    }
    let stale = flags.http.stale;
    let view = match view_of(&flags, stale) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let child = flags.args.clone();
    let shell = flags.shell.unwrap_or(true);
    super::block_on(async move {
        if let Err(e) = client.agent_self().await {
            eprintln!("Error querying Consul agent: {e}");
            return 1;
        }
        tokio::select! {
            code = watch(&client, &view, stale, &child, shell) => code,
            _ = interrupted() => 0,
        }
    })
}

async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// The watch loop: query, and on each change print (then stop) or run the child.
async fn watch(client: &Client, view: &View, stale: bool, child: &[String], shell: bool) -> i32 {
    let mut index = 0u64;
    let mut last: Option<Vec<u8>> = None;
    let mut retry = RETRY;
    loop {
        let answer = match fetch(client, view, index, stale).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("[ERROR] watch: Watch errored: error=\"{e}\" retry={retry:?}");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(MAX_RETRY);
                continue;
            }
        };
        retry = RETRY;
        if index != 0 && answer.index == index {
            continue;
        }
        // An index going backwards (a restored snapshot) starts over.
        index = if answer.index < index {
            0
        } else {
            answer.index
        };
        if last.as_ref() == Some(&answer.compact) {
            continue;
        }
        last = Some(answer.compact.clone());
        if child.is_empty() {
            println!("{}", String::from_utf8_lossy(&answer.pretty));
            return 0;
        }
        if let Err(e) = run_child(child, shell, answer.index, &answer.compact).await {
            eprintln!("{e}");
            return 1;
        }
    }
}

/// Runs the handler with the answer on stdin (Go's `json.Encoder`: compact plus a newline).
async fn run_child(child: &[String], shell: bool, index: u64, data: &[u8]) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let argv = crate::health::script::command_argv(child, shell);
    let Some((program, args)) = argv.split_first() else {
        return Err("Error starting handler: no command".to_string());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    cmd.env("CONSUL_INDEX", index.to_string())
        .stdin(std::process::Stdio::piped());
    let mut proc = cmd
        .spawn()
        .map_err(|e| format!("Error starting handler: {e}"))?;
    if let Some(mut stdin) = proc.stdin.take() {
        let mut input = data.to_vec();
        input.push(b'\n');
        // A handler that does not read its input is not an error.
        let _ = stdin.write_all(&input).await;
    }
    let status = proc
        .wait()
        .await
        .map_err(|e| format!("Error executing handler: {e}"))?;
    if status.success() {
        return Ok(());
    }
    Err(match status.code() {
        Some(c) => format!("Error executing handler: exit status {c}"),
        None => "Error executing handler: signal: killed".to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> WatchFlags {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        goflags::parse("watch", "", &args).unwrap()
    }

    #[test]
    fn views_are_validated_like_consul() {
        assert_eq!(
            view_of(&flags(&["-type=key", "-key=a"]), false),
            Ok(View::Key("a".into()))
        );
        assert_eq!(
            view_of(&flags(&["-type=key"]), false).unwrap_err(),
            "Must specify a single key to watch"
        );
        assert_eq!(
            view_of(&flags(&["-type=services", "-key=a", "-name=x"]), false).unwrap_err(),
            "Invalid parameters: [key name]"
        );
        assert_eq!(
            view_of(&flags(&["-type=checks"]), false),
            Ok(View::ChecksInState("any".into()))
        );
        assert_eq!(
            view_of(
                &flags(&["-type=checks", "-service=a", "-state=critical"]),
                false
            )
            .unwrap_err(),
            "Cannot specify service and state"
        );
        assert_eq!(
            view_of(
                &flags(&[
                    "-type=service",
                    "-service=web",
                    "-tag=v1",
                    "-passingonly=true"
                ]),
                false
            ),
            Ok(View::Service {
                name: "web".into(),
                tags: vec!["v1".into()],
                passing: true
            })
        );
        assert!(view_of(
            &flags(&["-type=service", "-service=w", "-passingonly=yes"]),
            false
        )
        .unwrap_err()
        .starts_with("Failed to parse passingonly flag"));
        assert_eq!(
            view_of(&flags(&["-type=bogus"]), false).unwrap_err(),
            "Unsupported watch type: bogus"
        );
        assert!(view_of(&flags(&["-type=connect_roots"]), false)
            .unwrap_err()
            .contains("not implemented by this consul"));
    }

    #[test]
    fn children_after_the_flags() {
        let f = flags(&["-type=nodes", "-shell=false", "cat", "-x"]);
        assert_eq!(f.args, vec!["cat", "-x"]);
        assert_eq!(f.shell, Some(false));
    }
}
