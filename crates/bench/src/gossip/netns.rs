//! The network namespace the gossip benchmark runs in, and what is read or set inside it: the
//! packet loss on the namespace's own loopback (`tc netem`, or an nftables rule where the
//! kernel was built without netem), its counters, and the kernel's UDP counters.
//!
//! `bench --gossip` creates a namespace (`ip netns add`), brings its loopback up and re-runs
//! itself inside (`ip netns exec ... bench ... --gossip-inner`); the inner run starts the servers
//! and the members there, so everything they send crosses the namespace's `lo` only, and the
//! loss put on it affects nobody else. The namespace is deleted when the inner run ends;
//! namespaces of earlier runs that were interrupted are deleted at the next start once no
//! process is left in them.

use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::{Command, Stdio};

/// Every namespace this benchmark creates is named `<PREFIX><pid>`.
const PREFIX: &str = "catalog-bench-gossip-";
/// The environment variable that tells the inner run the outer run's namespace (`net:[...]`).
const HOST_NETNS: &str = "BENCH_GOSSIP_HOST_NETNS";

/// Runs `program args`, failing with its stderr when it fails.
fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program} (apt-get install -y iproute2)"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A namespace this process created; deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn create() -> anyhow::Result<Netns> {
        let name = format!("{PREFIX}{}", std::process::id());
        run("ip", &["netns", "add", &name]).context("ip netns add (needs root)")?;
        let ns = Netns { name };
        run("ip", &["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let file = std::path::Path::new("/run/netns").join(&self.name);
        if !file.exists() {
            return;
        }
        if let Err(e) = run("ip", &["netns", "delete", &self.name]) {
            eprintln!(
                "bench --gossip: could not delete namespace {}: {e:#}",
                self.name
            );
        }
    }
}

/// Deletes the namespaces earlier runs left behind (interrupted): those whose creator (the pid
/// in the name) is gone and that no process is in.
fn delete_stale() {
    let Ok(list) = run("ip", &["netns", "list"]) else {
        return;
    };
    for name in list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(PREFIX))
    {
        let owner_alive = name[PREFIX.len()..].parse::<u32>().map_or(true, |pid| {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        });
        if owner_alive {
            continue;
        }
        let empty = run("ip", &["netns", "pids", name]).is_ok_and(|p| p.trim().is_empty());
        if empty && run("ip", &["netns", "delete", name]).is_ok() {
            eprintln!("bench --gossip: deleted namespace {name} left by an earlier run");
        }
    }
}

/// Runs this binary again with `args` and `--gossip-inner`, inside a namespace of its own;
/// returns its exit code once the namespace is gone.
pub fn run_inside(args: Vec<OsString>) -> anyhow::Result<i32> {
    for tool in ["ip", "tc"] {
        if Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            bail!("{tool} not found: apt-get install -y iproute2");
        }
    }
    delete_stale();
    let exe = std::env::current_exe().context("which binary am I")?;
    let ns = Netns::create()?;
    eprintln!(
        "bench --gossip: running inside network namespace {}",
        ns.name
    );
    let host = std::fs::read_link("/proc/self/ns/net").context("reading my network namespace")?;
    let status = Command::new("ip")
        .args(["netns", "exec", &ns.name])
        .env(HOST_NETNS, host)
        .arg(exe)
        .args(args)
        .arg("--gossip-inner")
        .stdin(Stdio::null())
        .status()
        .context("ip netns exec")?;
    drop(ns);
    Ok(status.code().unwrap_or(1))
}

/// Whether this process runs in a network namespace other than the one `bench --gossip` was
/// started in (told by [`HOST_NETNS`]) and init's: loss is only ever put on a loopback that is
/// not the host's.
pub fn in_private_netns() -> bool {
    let ns = |p: &str| std::fs::read_link(p).ok().map(|l| l.display().to_string());
    let Some(me) = ns("/proc/self/ns/net") else {
        return false;
    };
    let host = std::env::var(HOST_NETNS).ok();
    let init = ns("/proc/1/ns/net");
    (host.is_some() || init.is_some())
        && host.as_deref() != Some(me.as_str())
        && init.as_deref() != Some(me.as_str())
}

/// How the loss is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// `tc qdisc ... netem loss P%` on `lo`.
    Netem,
    /// A kernel without netem (`CONFIG_NET_SCH_NETEM` unset): an nftables rule on `lo`'s
    /// ingress hook drops each packet with the same probability (`numgen random`).
    Nftables,
}

impl Loss {
    pub fn describe(self, percent: f64) -> String {
        match self {
            Loss::Netem => format!("`tc qdisc add dev lo root netem loss {percent}%`"),
            Loss::Nftables => format!(
                "an nftables rule on the loopback's ingress hook, \
                 `numgen random mod 10000 < {:.0} drop` (this kernel has no netem: \
                 `CONFIG_NET_SCH_NETEM` is not set)",
                percent * 100.0
            ),
        }
    }
}

const NFT_TABLE: &str = "catalog_bench_loss";

/// Drops `percent` of the packets crossing this namespace's loopback (every protocol), with
/// netem, or nftables where the kernel has no netem.
pub fn loss_on(percent: f64) -> anyhow::Result<Loss> {
    if !in_private_netns() {
        bail!("refusing to drop packets on the host's loopback: not in a namespace of our own");
    }
    let loss = format!("{percent}%");
    let netem = run(
        "tc",
        &[
            "qdisc", "replace", "dev", "lo", "root", "netem", "loss", &loss, "limit", "100000",
        ],
    );
    let Err(netem_error) = netem else {
        return Ok(Loss::Netem);
    };
    let rules = format!(
        "table netdev {NFT_TABLE} {{\n  chain ingress {{\n    type filter hook ingress device \"lo\" \
         priority 0; policy accept;\n    counter\n    numgen random mod 10000 < {:.0} counter drop\n  }}\n}}\n",
        percent * 100.0
    );
    let mut nft = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "netem failed ({netem_error:#}) and nft cannot run (apt-get install -y nftables)"
            )
        })?;
    if let Some(mut stdin) = nft.stdin.take() {
        use std::io::Write;
        stdin.write_all(rules.as_bytes())?;
    }
    let out = nft.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "netem failed ({netem_error:#}), and so did nft: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(Loss::Nftables)
}

/// Removes the loss again.
pub fn loss_off(loss: Loss) {
    if !in_private_netns() {
        return;
    }
    let _ = match loss {
        Loss::Netem => run("tc", &["qdisc", "del", "dev", "lo", "root"]),
        Loss::Nftables => run("nft", &["delete", "table", "netdev", NFT_TABLE]),
    };
}

/// (packets seen, packets dropped) by the loss's own counters.
pub fn loss_counters(loss: Loss) -> Option<(u64, u64)> {
    match loss {
        Loss::Netem => netem_counters(),
        Loss::Nftables => {
            let out = run("nft", &["list", "table", "netdev", NFT_TABLE]).ok()?;
            // "counter packets 20000 bytes 2560000" then "numgen ... counter packets 1035 ..."
            let counts: Vec<u64> = out
                .lines()
                .filter_map(|l| {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    let i = w.iter().position(|x| *x == "packets")?;
                    w.get(i + 1)?.parse().ok()
                })
                .collect();
            match counts.as_slice() {
                [all, dropped, ..] => Some((*all, *dropped)),
                _ => None,
            }
        }
    }
}

/// (packets sent, packets dropped) by the loopback's root qdisc (netem's own counters).
fn netem_counters() -> Option<(u64, u64)> {
    let out = run("tc", &["-s", "qdisc", "show", "dev", "lo"]).ok()?;
    // " Sent 123 bytes 4 pkt (dropped 5, overlimits 0 requeues 0)"
    let line = out.lines().find(|l| l.trim_start().starts_with("Sent "))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |w: &str| {
        words
            .iter()
            .position(|x| *x == w)
            .and_then(|i| words.get(i + 1))
            .map(|v| v.trim_end_matches(','))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let pkts = words
        .iter()
        .position(|x| *x == "pkt")
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| words.get(i))
        .and_then(|v| v.parse::<u64>().ok())?;
    Some((pkts, after("(dropped")?))
}

/// The kernel's UDP counters of this namespace (`/proc/net/snmp`: InDatagrams, RcvbufErrors,
/// SndbufErrors, ...).
pub fn udp_counters() -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("Udp:")).collect();
    let mut out = BTreeMap::new();
    if let [names, values, ..] = rows.as_slice() {
        for (k, v) in names
            .split_whitespace()
            .zip(values.split_whitespace())
            .skip(1)
        {
            if let Ok(v) = v.parse() {
                out.insert(k.to_string(), v);
            }
        }
    }
    out
}
