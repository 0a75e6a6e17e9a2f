//! The real `registrator` binary against the real Docker engine and a recording fake Consul
//! agent: initial sync, start/die, queueing while the agent is down, `-cleanup`, Docker health,
//! `-deregister=on-success` and the KV backend. Assertions look only at this test's own
//! containers (other tests run containers concurrently).

use super::common::fake_consul::FakeConsul;
use super::common::{
    docker, hostname, registrator, require_docker, unique, wait_until, Container, Image,
};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn sid(name: &str, port: u16) -> String {
    format!("{}:{name}:{port}", hostname())
}

async fn wait_call(fake: &FakeConsul, call: &str, why: &str, log: &dyn Fn() -> String) {
    let ok = wait_until(T, || async { fake.calls().iter().any(|c| c == call) }).await;
    assert!(
        ok,
        "{why}: no `{call}` in {:?}\nregistrator log:\n{}",
        fake.calls(),
        log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registers_on_sync_and_start_deregisters_on_die() {
    require_docker();
    let fake = FakeConsul::start().await;
    let name = unique("tut");
    let image = Image::busybox(&name, "EXPOSE 80");
    let before = Container::run(&format!("{name}-1"), &["-p", "0:80", &image.tag]);
    let reg = registrator(&["-ip=127.0.0.1", &fake.uri()]);
    let id1 = sid(&before.name, 80);
    wait_call(&fake, &format!("register {id1}"), "initial sync", &|| {
        reg.log()
    })
    .await;
    let body = fake.service(&id1).unwrap_or_default();
    assert_eq!(
        body,
        json!({"ID": id1, "Name": name, "Port": before.host_port("80/tcp"), "Address": "127.0.0.1"})
    );
    let after = Container::run(&format!("{name}-2"), &["-p", "0:80", &image.tag]);
    let id2 = sid(&after.name, 80);
    wait_call(&fake, &format!("register {id2}"), "start event", &|| {
        reg.log()
    })
    .await;
    docker(&["stop", "-t", "1", &after.name]);
    wait_call(&fake, &format!("deregister {id2}"), "die event", &|| {
        reg.log()
    })
    .await;
    // A restart re-registers under the same ID: no duplicates.
    docker(&["start", &after.name]);
    let ok = wait_until(T, || async {
        fake.calls()
            .iter()
            .filter(|c| **c == format!("register {id2}"))
            .count()
            == 2
    })
    .await;
    assert!(ok, "{:?}", fake.calls());
    assert!(fake.service(&id1).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn queues_changes_while_consul_is_down() {
    require_docker();
    let mut fake = FakeConsul::start().await;
    let name = unique("queue");
    let image = Image::busybox(&name, "EXPOSE 80");
    let reg = registrator(&["-ip=127.0.0.1", &fake.uri()]);
    let ok = wait_until(T, || async { reg.log().contains("Syncing services on") }).await;
    assert!(ok, "{}", reg.log());
    fake.stop().await;
    let c = Container::run(&name, &["-p", "0:80", &image.tag]);
    let id = sid(&c.name, 80);
    let ok = wait_until(T, || async { reg.log().contains("queueing changes") }).await;
    assert!(ok, "{}", reg.log());
    docker(&["kill", &c.name]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    fake.restart().await;
    wait_call(
        &fake,
        &format!("deregister {id}"),
        "queued deregistration",
        &|| reg.log(),
    )
    .await;
    let calls = fake.calls();
    let r = calls.iter().position(|x| *x == format!("register {id}"));
    let d = calls.iter().position(|x| *x == format!("deregister {id}"));
    assert!(r.is_some() && r < d, "order: {calls:?}");
    assert!(fake.service(&id).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_removes_dangling_services_of_this_host() {
    require_docker();
    let fake = FakeConsul::start().await;
    let ghost = sid(&unique("ghost"), 80);
    let other = format!("some-other-host:{}:80", unique("x"));
    fake.insert(&ghost, json!({"ID": ghost, "Name": "ghost"}));
    fake.insert(&other, json!({"ID": other, "Name": "x"}));
    fake.insert("custom-id", json!({"ID": "custom-id", "Name": "custom"}));
    let reg = registrator(&["-cleanup", &fake.uri()]);
    wait_call(
        &fake,
        &format!("deregister {ghost}"),
        "dangling cleanup",
        &|| reg.log(),
    )
    .await;
    assert!(fake.service(&other).is_some());
    assert!(fake.service("custom-id").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_health_drives_a_ttl_check() {
    require_docker();
    let fake = FakeConsul::start().await;
    let name = unique("health");
    let image = Image::busybox(
        &name,
        "EXPOSE 80\nHEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD [\"/bin/busybox\", \"test\", \"-f\", \"/ok\"]",
    );
    let reg = registrator(&["-ip=127.0.0.1", &fake.uri()]);
    let script =
        "/bin/busybox touch /ok; /bin/busybox sleep 4; /bin/busybox rm /ok; /bin/busybox sleep 60";
    let c = Container::run(&name, &["-p", "0:80", &image.tag, "sh", "-c", script]);
    let id = sid(&c.name, 80);
    wait_call(&fake, &format!("register {id}"), "register", &|| reg.log()).await;
    let check = fake
        .service(&id)
        .and_then(|b| b.get("Check").cloned())
        .unwrap_or_default();
    assert_eq!(check.get("TTL"), Some(&json!("1m30s")), "{check}");
    wait_call(&fake, &format!("pass service:{id}"), "healthy", &|| {
        reg.log()
    })
    .await;
    wait_call(&fake, &format!("fail service:{id}"), "unhealthy", &|| {
        reg.log()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_success_keeps_failed_containers_registered() {
    require_docker();
    let fake = FakeConsul::start().await;
    let name = unique("onsucc");
    let image = Image::busybox(&name, "EXPOSE 80");
    let reg = registrator(&["-deregister=on-success", "-ip=127.0.0.1", &fake.uri()]);
    let ok = wait_until(T, || async { reg.log().contains("Syncing services on") }).await;
    assert!(ok, "{}", reg.log());
    let failing = Container::run(
        &format!("{name}-f"),
        &[
            "-p",
            "0:80",
            &image.tag,
            "sh",
            "-c",
            "/bin/busybox sleep 2; exit 3",
        ],
    );
    let killed = Container::run(&format!("{name}-k"), &["-p", "0:80", &image.tag]);
    let (idf, idk) = (sid(&failing.name, 80), sid(&killed.name, 80));
    wait_call(
        &fake,
        &format!("register {idf}"),
        "register failing",
        &|| reg.log(),
    )
    .await;
    wait_call(
        &fake,
        &format!("register {idk}"),
        "register killed",
        &|| reg.log(),
    )
    .await;
    docker(&["kill", &killed.name]);
    wait_call(
        &fake,
        &format!("deregister {idk}"),
        "signal exit deregisters",
        &|| reg.log(),
    )
    .await;
    let exited = wait_until(T, || async {
        docker(&["inspect", "-f", "{{.State.Status}}", &failing.name]) == "exited"
    })
    .await;
    assert!(exited);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !fake.calls().contains(&format!("deregister {idf}")),
        "{:?}",
        fake.calls()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn consulkv_writes_ip_port() {
    require_docker();
    let fake = FakeConsul::start().await;
    let name = unique("kv");
    let image = Image::busybox(&name, "EXPOSE 80");
    let uri = format!("consulkv://127.0.0.1:{}/services", fake.port);
    let reg = registrator(&["-ip=127.0.0.1", &uri]);
    let c = Container::run(&name, &["-p", "0:80", &image.tag]);
    let id = sid(&c.name, 80);
    let key = format!("services/{name}/{id}");
    wait_call(
        &fake,
        &format!("kv-put {key}=127.0.0.1:{}", c.host_port("80/tcp")),
        "kv put",
        &|| reg.log(),
    )
    .await;
    docker(&["kill", &c.name]);
    wait_call(&fake, &format!("kv-delete {key}"), "kv delete", &|| {
        reg.log()
    })
    .await;
}
