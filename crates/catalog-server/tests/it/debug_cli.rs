//! `consul debug` against a real agent: the archive holds Consul's files (`index.json`,
//! `agent.json`, `host.json`, `members.json`, `metrics.json`, `consul.log`,
//! `listpeers.json`) under the output's name; `-archive=false` leaves the directory; what it
//! cannot record or run is refused by name.

use crate::common::TestServer;
use std::collections::BTreeSet;
use std::io::Read;

fn run(s: &TestServer, args: &[&str]) -> (i32, String, String) {
    tokio::task::block_in_place(|| s.cli(args))
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_records_consuls_files_into_an_archive() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let out_arg = format!("-output={}", out.display());
    let (code, stdout, stderr) = run(&s, &["debug", "-duration=10s", "-interval=5s", &out_arg]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Saved debug archive:"), "{stdout}");
    assert!(!out.exists(), "the directory is removed once archived");

    let f = std::fs::File::open(dir.path().join("bundle.tar.gz")).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut files = std::collections::BTreeMap::new();
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut text = String::new();
        if e.header().entry_type().is_file() {
            e.read_to_string(&mut text).unwrap();
            files.insert(name, text);
        }
    }
    let names: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    for want in [
        "bundle/index.json",
        "bundle/agent.json",
        "bundle/host.json",
        "bundle/members.json",
        "bundle/metrics.json",
        "bundle/consul.log",
        "bundle/listpeers.json",
    ] {
        assert!(names.contains(want), "{want} missing from {names:?}");
    }
    let index: serde_json::Value = serde_json::from_str(&files["bundle/index.json"]).unwrap();
    assert_eq!(index["Version"], 1);
    assert_eq!(index["Interval"], "5s");
    assert_eq!(
        index["Targets"],
        serde_json::json!(["metrics", "logs", "host", "agent", "members"])
    );
    let agent: serde_json::Value = serde_json::from_str(&files["bundle/agent.json"]).unwrap();
    assert_eq!(agent["Config"]["NodeName"], "test-node");
    assert!(
        files["bundle/metrics.json"].contains("\"Gauges\""),
        "{}",
        files["bundle/metrics.json"]
    );
    assert!(
        files["bundle/listpeers.json"].starts_with("Node ")
            && files["bundle/listpeers.json"].contains("leader"),
        "{}",
        files["bundle/listpeers.json"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_keeps_the_directory_and_refuses_what_it_cannot_do() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plain");
    let out_arg = format!("-output={}", out.display());
    let (code, stdout, stderr) = run(
        &s,
        &[
            "debug",
            "-duration=10s",
            "-interval=5s",
            "-archive=false",
            "-capture=agent",
            "-capture",
            "host",
            &out_arg,
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut found: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(
        found,
        ["agent.json", "host.json", "index.json", "listpeers.json"]
    );
    assert!(
        std::fs::read_to_string(out.join("agent.json"))
            .unwrap()
            .starts_with("{\n\t\""),
        "tab-indented as Consul writes it"
    );

    // The output exists now; pprof, -since and short durations are refused.
    for (args, why) in [
        (
            vec!["debug", "-duration=10s", "-interval=5s", out_arg.as_str()],
            "output directory already exists",
        ),
        (
            vec!["debug", "-capture=pprof", "-output=/nonexistent/x"],
            "no Go runtime profiles",
        ),
        (
            vec!["debug", "-capture=disk", "-output=/nonexistent/x"],
            "target not found: disk",
        ),
        (
            vec!["debug", "-duration=5s"],
            "duration must be longer than 10s",
        ),
        (vec!["debug", "-since=1h"], "hcdiag"),
    ] {
        let (code, stdout, stderr) = run(&s, &args);
        assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}
