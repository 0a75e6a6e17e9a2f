//! The CLI against a real server: the tutorial's `consul members` and `consul info | grep leader`,
//! and `consul kv`.

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread")]
async fn members_and_info_like_the_tutorial() {
    let s = TestServer::start().await;
    let (code, out, err) = tokio::task::block_in_place(|| s.cli(&["members"]));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Node "), "{out}");
    assert!(lines[0].contains("Address") && lines[0].contains("Status") && lines[0].contains("Segment"));
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "test-node");
    assert_eq!(row[2], "alive");
    assert_eq!(row[3], "server");

    let (code, out, err) = tokio::task::block_in_place(|| s.cli(&["info"]));
    assert_eq!(code, 0, "{err}");
    let leader: Vec<&str> = out.lines().filter(|l| l.contains("leader")).collect();
    assert_eq!(leader[0], "\tleader = true", "{out}");
    assert_eq!(leader[1], format!("\tleader_addr = 127.0.0.1:{}", s.server_port));

    let (code, _, _) = tokio::task::block_in_place(|| s.cli(&["members", "-status=failed"]));
    assert_eq!(code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_commands() {
    let s = TestServer::start().await;
    let (code, out, err) = tokio::task::block_in_place(|| s.cli(&["kv", "put", "app/name", "demo"]));
    assert_eq!((code, out.as_str()), (0, "Success! Data written to: app/name\n"), "{err}");
    let (code, out, _) = tokio::task::block_in_place(|| s.cli(&["kv", "get", "app/name"]));
    assert_eq!((code, out.as_str()), (0, "demo\n"));
    let (code, _, err) = tokio::task::block_in_place(|| s.cli(&["kv", "get", "app/missing"]));
    assert_eq!(code, 1);
    assert_eq!(err, "Error! No key exists at: app/missing\n");
    let (code, out, _) = tokio::task::block_in_place(|| s.cli(&["kv", "delete", "app/name"]));
    assert_eq!((code, out.as_str()), (0, "Success! Deleted key: app/name\n"));
}
