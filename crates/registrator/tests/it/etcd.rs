//! `etcd://` and `skydns2://` end to end: our `registrator` binary against the test's own
//! etcd (Debian's `etcd-server`, started per test on free loopback ports, killed on drop) and
//! the test's own busybox containers. Checks the keys, values and leases etcd holds as the
//! containers start and stop, TTL refresh, resync, `-cleanup`, a key expiring once
//! registrator is gone, and registrations queued while etcd is down. Fails when Docker or
//! `etcd` is missing.

use super::common::etcd_server::{Entry, EtcdServer};
use super::common::{docker, hostname, registrator, require_docker, unique, Container, Image};
use registrator::registry::{etcd, Etcd, Registry};
use std::time::Duration;
use test_support::wait_until;

/// Generous: polls return as soon as the condition holds.
const T: Duration = Duration::from_secs(30);

/// Polls `key` until `want` holds for it (within [`T`]); the entry that did.
async fn poll(etcd: &EtcdServer, key: &str, want: impl Fn(&Entry) -> bool) -> Option<Entry> {
    let deadline = std::time::Instant::now() + T;
    loop {
        if let Some(e) = etcd.get(key).await.filter(|e| want(e)) {
            return Some(e);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `key` exists and returns it.
async fn appears(etcd: &EtcdServer, key: &str, log: impl Fn() -> String) -> Entry {
    match poll(etcd, key, |_| true).await {
        Some(e) => e,
        None => panic!(
            "{key} never appeared; keys: {:?}\n{}",
            etcd.keys("/").await,
            log()
        ),
    }
}

async fn disappears(etcd: &EtcdServer, key: &str, log: impl Fn() -> String) {
    let ok = wait_until(T, || async { etcd.get(key).await.is_none() }).await;
    assert!(
        ok,
        "{key} still there: {:?}\n{}",
        etcd.get(key).await,
        log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd_keys_follow_containers_with_ttl_refresh() {
    require_docker();
    let etcd = EtcdServer::start().await;
    let name = unique("etcdttl");
    let image = Image::busybox(&name, "EXPOSE 80");
    let reg = registrator(&[
        "-ip=127.0.0.1",
        "-ttl=8",
        "-ttl-refresh=1",
        &etcd.uri("etcd", "/services"),
    ]);
    let c = Container::run(&name, &["-p", "0:80", &image.tag]);
    let port = c.host_port("80/tcp");
    let key = format!("/services/{name}/{}:{name}:80", hostname());
    let first = appears(&etcd, &key, || reg.log()).await;
    assert_eq!(first.value, format!("127.0.0.1:{port}"));
    assert_ne!(first.lease, 0, "no lease with -ttl");
    // Refreshed: written again on a fresh lease of -ttl seconds, the previous one revoked.
    let refreshed = poll(&etcd, &key, |e| {
        e.lease != first.lease && e.mod_revision > first.mod_revision
    })
    .await;
    let Some(now) = refreshed else {
        panic!("not refreshed: {:?}\n{}", etcd.get(&key).await, reg.log());
    };
    assert_eq!(now.value, first.value);
    assert_eq!(etcd.granted_ttl(now.lease).await, Some(8));
    let revoked = wait_until(T, || async {
        etcd.granted_ttl(first.lease).await.is_none()
    })
    .await;
    assert!(revoked, "the replaced lease is still alive");
    assert!(reg.log().contains("refreshed: "), "{}", reg.log());
    // Stopped: deregistered.
    docker(&["stop", "-t", "1", &c.name]);
    disappears(&etcd, &key, || reg.log()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd_without_ttl_resyncs_and_cleans_up() {
    require_docker();
    let etcd = EtcdServer::start().await;
    let me = hostname();
    // Left by an earlier run on this host (its container is gone), and another host's.
    let gone = unique("gone");
    let dangling = format!("/svc/{gone}/{me}:{gone}:80");
    let foreign = format!("/svc/{gone}/not-{me}:{gone}:80");
    etcd.put(&dangling, "127.0.0.1:1").await;
    etcd.put(&foreign, "127.0.0.1:2").await;
    let name = unique("etcdplain");
    let image = Image::busybox(&name, "EXPOSE 80");
    let c = Container::run(&name, &["-p", "0:80", &image.tag]);
    let port = c.host_port("80/tcp");
    let reg = registrator(&[
        "-ip=127.0.0.1",
        "-resync=1",
        "-cleanup",
        &etcd.uri("etcd", "/svc/"),
    ]);
    let key = format!("/svc/{name}/{me}:{name}:80");
    let entry = appears(&etcd, &key, || reg.log()).await;
    assert_eq!(entry.value, format!("127.0.0.1:{port}"));
    assert_eq!(entry.lease, 0, "a lease without -ttl");
    disappears(&etcd, &dangling, || reg.log()).await;
    assert!(
        etcd.get(&foreign).await.is_some(),
        "another host's key removed"
    );
    // Removed behind registrator's back: -resync writes it again.
    etcd.delete(&key).await;
    let back = appears(&etcd, &key, || reg.log()).await;
    assert_eq!(back.value, entry.value);
    docker(&["stop", "-t", "1", &c.name]);
    disappears(&etcd, &key, || reg.log()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn skydns2_records_expire_without_registrator() {
    require_docker();
    let etcd = EtcdServer::start().await;
    let name = unique("sky");
    let image = Image::busybox(&name, "EXPOSE 80");
    let reg = registrator(&[
        "-ip=127.0.0.1",
        "-ttl=4",
        "-ttl-refresh=1",
        &etcd.uri("skydns2", "/cluster.local"),
    ]);
    // SkyDNS wants DNS-valid service IDs (upstream's documented SERVICE_ID).
    let id = format!("{name}-1");
    let c = Container::run(
        &name,
        &["-p", "0:80", "-e", &format!("SERVICE_ID={id}"), &image.tag],
    );
    let port = c.host_port("80/tcp");
    let key = format!("/skydns/local/cluster/{name}/{id}");
    let entry = appears(&etcd, &key, || reg.log()).await;
    assert_eq!(
        entry.value,
        format!("{{\"host\":\"127.0.0.1\",\"port\":{port}}}")
    );
    assert_eq!(etcd.granted_ttl(entry.lease).await, Some(4));
    docker(&["stop", "-t", "1", &c.name]);
    disappears(&etcd, &key, || reg.log()).await;

    // Started again, then registrator killed: nothing refreshes the lease, the record expires.
    docker(&["start", &c.name]);
    appears(&etcd, &key, || reg.log()).await;
    let log = reg.log();
    drop(reg);
    disappears(&etcd, &key, || log.clone()).await;
}

/// No etcd at the address: every call fails as unreachable (worth retrying), so the loop
/// queues changes instead of dropping them.
#[tokio::test]
async fn unreachable_etcd_is_retryable() {
    let held = test_support::ReservedPort::loopback();
    let target = etcd::parse_etcd(&format!("etcd://127.0.0.1:{}/s", held.port()))
        .unwrap_or_else(|e| panic!("{e}"));
    let client = Etcd::connect(&target, 5)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reg = api_types::ServiceRegistration {
        id: "h:web:80".into(),
        name: "web".into(),
        address: "127.0.0.1".into(),
        port: 80,
        ..Default::default()
    };
    for err in [
        client.ping().await.err(),
        client.register(&reg).await.err(),
        client.deregister(&reg).await.err(),
    ] {
        let err = err.unwrap_or_else(|| panic!("answered from a refused port"));
        assert!(err.is_retryable(), "{err}");
    }
}

/// etcd down while a container starts: the registration waits in the queue and lands once
/// etcd is back (same ports, same data dir).
#[tokio::test(flavor = "multi_thread")]
async fn etcd_down_registrations_wait_until_it_is_back() {
    require_docker();
    let mut etcd = EtcdServer::start().await;
    let reg = registrator(&["-ip=127.0.0.1", &etcd.uri("etcd", "/q")]);
    let started = wait_until(T, || async { reg.log().contains("Syncing services on") }).await;
    assert!(started, "{}", reg.log());
    etcd.kill();
    let name = unique("etcdq");
    let image = Image::busybox(&name, "EXPOSE 80");
    let c = Container::run(&name, &["-p", "0:80", &image.tag]);
    let port = c.host_port("80/tcp");
    let queued = wait_until(T, || async {
        reg.log().contains("queueing changes until it is back")
    })
    .await;
    assert!(queued, "{}", reg.log());
    etcd.restart().await;
    let key = format!("/q/{name}/{}:{name}:80", hostname());
    let entry = appears(&etcd, &key, || reg.log()).await;
    assert_eq!(entry.value, format!("127.0.0.1:{port}"));
}
