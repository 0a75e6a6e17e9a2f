//! Storage faults against the real binary: damaged files are detected and named, damage the
//! snapshot covers is skipped, leftovers never block a start, a data dir has one agent.

use crate::common::TestServer;
use std::path::{Path, PathBuf};
use std::time::Duration;

const KEYS: usize = 150;

/// A server that snapshots every 64 entries and keeps 32 behind the snapshot, holding
/// `KEYS` keys, stopped cleanly.
async fn stopped_server_with_a_snapshot() -> TestServer {
    let mut s = TestServer::start().await;
    let cfg = s.data_dir().join("snap.json");
    std::fs::write(
        &cfg,
        r#"{"raft_snapshot_threshold": 64, "raft_trailing_logs": 32}"#,
    )
    .unwrap();
    s.terminate();
    s.push_arg(format!("-config-file={}", cfg.display()));
    s.start().await;
    for i in 0..KEYS {
        let (code, body) = s.put(&format!("/v1/kv/k{i}"), format!("v{i}")).await;
        assert_eq!(code, 200, "{body}");
    }
    assert!(snapshot(&s).exists(), "no snapshot was written");
    s.terminate();
    s
}

fn snapshot(s: &TestServer) -> PathBuf {
    s.data_dir().join("raft/snapshot.bin")
}

fn segment(s: &TestServer) -> PathBuf {
    s.data_dir().join("raft/wal/00000000000000000001.wal")
}

fn flip(path: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    f.write_all_at(&[b[0] ^ 0x10], offset).unwrap();
}

/// Where the written part of a zero-filled file ends.
fn used_len(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |p| p as u64 + 1)
}

async fn assert_every_key(s: &TestServer) {
    for i in 0..KEYS {
        let (code, body) = s.get(&format!("/v1/kv/k{i}?raw")).await.unwrap();
        assert_eq!(
            (code, body.as_str()),
            (200, format!("v{i}").as_str()),
            "k{i}"
        );
    }
}

/// Starts and expects a refusal whose log says `what`.
fn assert_refused(s: &mut TestServer, what: &[&str]) {
    s.spawn();
    let status = s.wait_exit(Duration::from_secs(30));
    let log = s.output();
    assert!(
        status.is_some_and(|st| !st.success()),
        "a damaged data dir was not refused: {status:?}\n{log}"
    );
    for w in what {
        assert!(log.contains(w), "the refusal does not say {w:?}:\n{log}");
    }
}

#[tokio::test]
async fn a_flipped_bit_in_the_snapshot_is_refused_naming_the_file() {
    let mut s = stopped_server_with_a_snapshot().await;
    let path = snapshot(&s);
    let len = std::fs::metadata(&path).unwrap().len();
    flip(&path, len / 2);
    assert_refused(&mut s, &[&path.display().to_string(), "checksum mismatch"]);
    // Put back, it starts with everything.
    flip(&path, len / 2);
    s.start().await;
    assert_every_key(&s).await;
}

#[tokio::test]
async fn wal_damage_the_snapshot_covers_is_skipped_and_later_damage_refused() {
    let mut s = stopped_server_with_a_snapshot().await;
    let wal = segment(&s);
    let pristine = std::fs::read(&wal).unwrap();
    // The first record is long covered by the snapshot.
    flip(&wal, 40);
    s.start().await;
    assert_every_key(&s).await;
    assert!(
        s.output().contains("skipping damaged raft log records"),
        "{}",
        s.output()
    );
    s.terminate();

    // The last record is newer than any snapshot.
    std::fs::write(&wal, &pristine).unwrap();
    flip(&wal, used_len(&wal) - 3);
    assert_refused(&mut s, &[&wal.display().to_string(), "offset", "record"]);
}

#[tokio::test]
async fn leftovers_of_interrupted_work_do_not_block_a_start() {
    let mut s = stopped_server_with_a_snapshot().await;
    let raft = s.data_dir().join("raft");
    let leftovers = [
        raft.join("snapshot.bin.tmp"),
        raft.join("snap.0000000000000ABC.generating"),
        raft.join("wal/00000000000000000002.wal.tmp"),
    ];
    std::fs::write(&leftovers[0], vec![7u8; 4096]).unwrap();
    std::fs::write(&leftovers[1], b"").unwrap();
    std::fs::write(&leftovers[2], vec![1u8; 100]).unwrap();
    s.start().await;
    assert_every_key(&s).await;
    for l in &leftovers {
        assert!(!l.exists(), "{} was left", l.display());
    }
}

#[tokio::test]
async fn a_second_agent_on_the_same_data_dir_is_refused() {
    let s = TestServer::start().await;
    let mut other = TestServer::start_with(&[]).await;
    other.terminate();
    other.set_data_dir(s.data_dir());
    assert_refused(&mut other, &["in use by another consul agent"]);
    // The first one is untouched.
    let (code, _) = s.put("/v1/kv/still", "here").await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn a_damaged_node_id_is_refused_not_replaced() {
    let mut s = TestServer::start().await;
    s.terminate();
    let path = s.data_dir().join("node-id");
    let id = std::fs::read_to_string(&path).unwrap();
    // Still a UUID, another one: the store knows whose it is.
    let other = if id.starts_with('a') { "b" } else { "a" };
    std::fs::write(&path, format!("{other}{}", &id[1..])).unwrap();
    assert_refused(&mut s, &["node ID", id.trim()]);
    // Not a UUID at all.
    std::fs::write(&path, "garbage").unwrap();
    assert_refused(&mut s, &["does not hold a node ID"]);
    std::fs::write(&path, &id).unwrap();
    s.start().await;
}
