//! De-duplication (`-dedup`): three instances rendering the same template (same source,
//! contents and destination path, each in a directory of its own) against the real consul.
//! One holds the lock on `consul-template/dedup/<template ID>/data` and alone watches the
//! dependency; all render; leadership moves when the leader is killed or stopped. Data in
//! another format (a Go consul-template's gob) is ignored with a warning.

use std::path::Path;
use std::time::Duration;

use api_types::client::{Client, KvPutOptions, QueryOptions};
use ctemplate::dedup::{self, LOCK_FLAG_VALUE};
use ctemplate::signal::Signal;

use super::harness::{read, wait_until, Consul, Ct};

const T: Duration = Duration::from_secs(30);
/// A killed leader's session expires after twice its TTL (15s): allow for that.
const EXPIRY: Duration = Duration::from_secs(90);
const TEMPLATE: &str = "value={{key \"dd/a\"}}";
const DEP: &str = "kv.block(dd/a)";

fn key_for(src: &Path) -> String {
    let id = dedup::template_id(&src.display().to_string(), TEMPLATE, "out.txt");
    dedup::data_key("consul-template/dedup/", &id)
}

/// The session holding `key`, if any.
async fn holder(client: &Client, key: &str) -> Option<String> {
    let (pair, _) = client.kv_get(key, &QueryOptions::default()).await.ok()?;
    pair.map(|p| p.session).filter(|s| !s.is_empty())
}

/// The session an instance logged it created.
fn session_of(ct: &Ct) -> Vec<String> {
    ct.stderr()
        .lines()
        .filter_map(|l| l.split("(dedup) created session ").nth(1))
        .map(|s| s.trim().to_string())
        .collect()
}

fn start(consul: &Consul, src: &Path, cwd: &Path) -> Ct {
    Ct::start_in(
        &[
            "-consul-addr".into(),
            consul.addr(),
            "-template".into(),
            format!("{}:out.txt", src.display()),
            "-dedup".into(),
            "-log-level=debug".into(),
        ],
        cwd,
    )
}

#[tokio::test]
async fn one_leader_watches_and_every_instance_renders() {
    let consul = Consul::start().await;
    let client = consul.client();
    consul.put("dd/a", "one").await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("t.ctmpl");
    std::fs::write(&src, TEMPLATE).unwrap();
    let key = key_for(&src);
    let dirs: Vec<_> = (0..3)
        .map(|i| {
            let d = dir.path().join(format!("host{i}"));
            std::fs::create_dir(&d).unwrap();
            d
        })
        .collect();
    let mut cts: Vec<Option<Ct>> = dirs.iter().map(|d| Some(start(&consul, &src, d))).collect();
    let out = |i: usize| read(&dirs[i].join("out.txt"));
    let logs = |cts: &[Option<Ct>]| {
        cts.iter()
            .flatten()
            .map(|c| c.stderr())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };

    // every instance renders; one holds the lock
    for i in 0..3 {
        assert!(
            wait_until(T, || async { out(i) == "value=one" }).await,
            "instance {i}: {:?}\n{}",
            out(i),
            logs(&cts)
        );
    }
    let mut leader = None;
    assert!(wait_until(T, || async { holder(&client, &key).await.is_some() }).await);
    let session = holder(&client, &key).await.unwrap();
    for (i, ct) in cts.iter().enumerate() {
        if session_of(ct.as_ref().unwrap()).contains(&session) {
            assert!(leader.is_none(), "two instances own {session}");
            leader = Some(i);
        }
    }
    let leader = leader.unwrap_or_else(|| panic!("no instance owns {session}\n{}", logs(&cts)));
    // the key holds the leader's data in our format, with the lock flags
    assert!(
        wait_until(T, || async {
            let Ok((Some(p), _)) = client.kv_get(&key, &QueryOptions::default()).await else {
                return false;
            };
            p.flags == LOCK_FLAG_VALUE
                && dedup::decode_payload(&p.value_bytes()).is_ok_and(|d| d.data.contains_key(DEP))
        })
        .await,
        "{}",
        logs(&cts)
    );
    // only the leader watches the dependency
    for (i, ct) in cts.iter().enumerate() {
        let log = ct.as_ref().unwrap().stderr();
        let watches = log.contains(&format!("(watcher) adding {DEP}"));
        assert_eq!(
            watches,
            i == leader,
            "instance {i} (leader {leader}):\n{log}"
        );
        if i != leader {
            assert!(log.contains("(dedup) loading 1 dependencies from"), "{log}");
        }
    }

    // a change reaches all three
    consul.put("dd/a", "two").await;
    for i in 0..3 {
        assert!(
            wait_until(T, || async { out(i) == "value=two" }).await,
            "instance {i}: {:?}\n{}",
            out(i),
            logs(&cts)
        );
    }

    // kill -9 the leader: its session expires, another instance takes the lock
    cts[leader].as_mut().unwrap().kill9();
    cts[leader] = None;
    let mut next = None;
    assert!(
        wait_until(EXPIRY, || async {
            holder(&client, &key).await.is_some_and(|s| s != session)
        })
        .await,
        "no new leader\n{}",
        logs(&cts)
    );
    let session2 = holder(&client, &key).await.unwrap();
    for (i, ct) in cts.iter().enumerate() {
        if ct
            .as_ref()
            .is_some_and(|c| session_of(c).contains(&session2))
        {
            next = Some(i);
        }
    }
    let next = next.unwrap_or_else(|| panic!("no survivor owns {session2}\n{}", logs(&cts)));
    consul.put("dd/a", "three").await;
    for i in (0..3).filter(|&i| i != leader) {
        assert!(
            wait_until(T, || async { out(i) == "value=three" }).await,
            "instance {i}: {:?}\n{}",
            out(i),
            logs(&cts)
        );
    }

    // stop the new leader gracefully: its session is destroyed, the last one takes over
    let mut stopping = cts[next].take().unwrap();
    stopping.signal(Signal::INT);
    assert_eq!(
        stopping.wait_exit(T).await,
        Some(0),
        "{}",
        stopping.stderr()
    );
    assert!(stopping.stderr().contains("(dedup) releasing lock '"));
    let last = (0..3).find(|&i| i != leader && i != next).unwrap();
    assert!(
        wait_until(T, || async {
            let mine = session_of(cts[last].as_ref().unwrap());
            holder(&client, &key)
                .await
                .is_some_and(|s| mine.contains(&s))
        })
        .await,
        "{}",
        logs(&cts)
    );
    consul.put("dd/a", "four").await;
    assert!(
        wait_until(T, || async { out(last) == "value=four" }).await,
        "{:?}\n{}",
        out(last),
        logs(&cts)
    );
    assert!(cts[last]
        .as_ref()
        .unwrap()
        .stderr()
        .contains(&format!("(watcher) adding {DEP}")));
}

#[tokio::test]
async fn data_in_another_format_is_ignored_with_a_warning() {
    let consul = Consul::start().await;
    let client = consul.client();
    consul.put("dd/a", "one").await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("t.ctmpl");
    std::fs::write(&src, TEMPLATE).unwrap();
    let key = key_for(&src);
    // a Go consul-template leads the group and stored gob+LZW data
    let session = client
        .session_create(&serde_json::json!({"Name": "go", "TTL": "60s", "Behavior": "delete"}))
        .await
        .unwrap();
    let gob: &[u8] = &[0x0c, 0xff, 0x81, 0x03, 0x01, 0x01, 0x0c, 0x74];
    let locked = client
        .kv_put(
            &key,
            gob,
            &KvPutOptions {
                flags: Some(LOCK_FLAG_VALUE),
                acquire: Some(session.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(locked);
    let host = dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let ct = start(&consul, &src, &host);
    assert!(
        wait_until(T, || async {
            ct.stderr().contains("[WARN] (dedup) ignoring data in '")
                && ct.stderr().contains("format")
        })
        .await,
        "{}",
        ct.stderr()
    );
    assert_eq!(read(&host.join("out.txt")), "");
    assert!(!ct.stderr().contains(&format!("(watcher) adding {DEP}")));
    // the Go leader goes away: this instance takes the lock and renders
    client.session_destroy(&session).await.unwrap();
    assert!(
        wait_until(T, || async { read(&host.join("out.txt")) == "value=one" }).await,
        "{}",
        ct.stderr()
    );
    assert!(ct.stderr().contains("(dedup) acquired lock '"));
}
