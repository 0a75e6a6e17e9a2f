//! Helpers shared by the system tests and `loopbench` (the rest comes from `test-support`).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;
use test_support::wait_until_blocking;

/// One plain `GET /` to 127.0.0.1:`port` (nginx); the body of a 200, trimmed.
pub fn get(port: u16) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match test_support::http_get(addr, "/", Duration::from_secs(5)) {
        Ok((200, body)) => Some(body.trim().to_string()),
        _ => None,
    }
}

/// One line per image (`docker images -a`), per container (`docker ps -a`) and per network:
/// id, names, labels.
pub fn docker_objects() -> BTreeSet<String> {
    let list = |args: &[&str]| -> Vec<String> {
        let out = Command::new("docker").args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let images = list(&[
        "images",
        "-a",
        "--no-trunc",
        "--format",
        "image {{.ID}} {{.Repository}}:{{.Tag}} {{.CreatedAt}}",
    ]);
    let containers = list(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "container {{.ID}} {{.Names}} {{.Image}} {{.Labels}}",
    ]);
    let networks = list(&[
        "network",
        "ls",
        "--no-trunc",
        "--format",
        "network {{.ID}} {{.Name}} {{.Labels}}",
    ]);
    images
        .into_iter()
        .chain(containers)
        .chain(networks)
        .collect()
}

/// `after` against `before`: nothing that was there is gone, and nothing new is ours (named with
/// `mark`, or labelled by the tutorial). Objects others create meanwhile are printed, not failed.
pub fn assert_left_as_found(before: &BTreeSet<String>, after: &BTreeSet<String>, mark: &str) {
    let gone: Vec<_> = before.difference(after).collect();
    let new: Vec<_> = after.difference(before).collect();
    eprintln!(
        "docker objects: {} before, {} after; gone {gone:?}; new {new:?}",
        before.len(),
        after.len()
    );
    assert!(
        gone.is_empty(),
        "the tutorial removed what it did not create: {gone:?}"
    );
    let ours: Vec<_> = new
        .iter()
        .filter(|l| {
            l.contains(mark) || l.contains("consul-tutorial.") || l.contains("<none>:<none>")
        })
        .collect();
    assert!(ours.is_empty(), "the tutorial left behind: {ours:?}");
}

pub fn wait(secs: u64, what: &str, cond: impl FnMut() -> bool) {
    assert!(
        wait_until_blocking(Duration::from_secs(secs), cond),
        "timed out waiting for {what}"
    );
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs `examples/<example>/run <args>` with `env`; whether it succeeded, and its stdout and
/// stderr together.
pub fn run_example(example: &str, env: &[(String, String)], args: &[&str]) -> (bool, String) {
    let script = test_support::workspace_root().join(format!("examples/{example}/run"));
    let out = Command::new(script)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
