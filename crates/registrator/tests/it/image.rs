//! The tutorial's done-when check, end to end with the shipped artefacts: the workspace's real
//! `consul` server (tutorial step 1, on sockets the test bound, with a temp data dir), OUR registrator image
//! built by `deploy/registrator/build.sh` and started exactly as step 2
//! (`docker run -d --net=host -v /var/run/docker.sock:/tmp/docker.sock <image> -ip=127.0.0.1
//! consul://127.0.0.1:<port>`), and the four application containers of step 3 from FROM-scratch
//! busybox httpd images standing in for `nginx` and `httpd`.
//!
//! Everything carries a unique `regit-<pid>-<n>` prefix and is removed by guards: the image
//! repositories are `<prefix>/nginx:test` and `<prefix>/httpd:test` (base names `nginx` and
//! `httpd`, the service names), the containers `test-0N-<prefix>`. The registrator sees every
//! container on the engine, so assertions look only at this test's instances.
//!
//! Cost: the image build runs `cargo build --release --target x86_64-unknown-linux-gnu -p
//! registrator` (a no-op when fresh, ~35 s after a registrator change on 2 cores, several
//! minutes from a cold target dir, plus any wait for the target-dir lock). CI should build the
//! image once up front (`deploy/registrator/build.sh ci/registrator:test`) and pass it as
//! `REGISTRATOR_TEST_IMAGE=ci/registrator:test`: the test then runs that image and leaves it
//! in place (it is not the test's to remove). Fails when Docker or `target/debug/consul` is
//! missing.

use super::common::consul_agent::ConsulAgent;
use super::common::{
    docker, docker_raw, hostname, registrator_image, require_docker, unique, wait_until, Container,
    Image,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// `ServiceID → "address:port"` for the instances of `service` whose ID contains `mark`.
async fn instances(agent: &ConsulAgent, service: &str, mark: &str) -> BTreeMap<String, String> {
    let v = agent.get(&format!("/v1/catalog/service/{service}")).await;
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let id = s["ServiceID"].as_str()?;
            id.contains(mark).then(|| {
                let addr = format!(
                    "{}:{}",
                    s["ServiceAddress"].as_str().unwrap_or_default(),
                    s["ServicePort"]
                );
                (id.to_string(), addr)
            })
        })
        .collect()
}

/// `n` distinct free host ports (the tutorial's 81..84, moved to where nothing listens).
fn free_ports(n: usize) -> Vec<u16> {
    let mut ports: Vec<u16> = Vec::new();
    while ports.len() < n {
        // Docker publishes them itself: the racy free_port is the only way.
        let p = test_support::free_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    ports
}

#[tokio::test(flavor = "multi_thread")]
async fn tutorial_with_registrator_image_and_real_consul() {
    require_docker();
    let prefix = unique("tut");
    // Step 1: the consul server.
    let agent = ConsulAgent::start_server().await;
    // Step 2: our image, run as the tutorial runs gliderlabs/registrator:latest.
    let prebuilt = std::env::var("REGISTRATOR_TEST_IMAGE")
        .ok()
        .filter(|s| !s.is_empty());
    // Built here unless given; the guard removes only what this test built.
    let built = prebuilt
        .is_none()
        .then(|| registrator_image(&format!("{prefix}/registrator:test")));
    let reg_tag = built
        .as_ref()
        .map(|i| i.tag.clone())
        .or(prebuilt)
        .unwrap_or_default();
    let reg = Container::run(
        &format!("{prefix}-registrator"),
        &[
            "--net=host",
            "-v",
            "/var/run/docker.sock:/tmp/docker.sock",
            &reg_tag,
            "-ip=127.0.0.1",
            &agent.uri(),
        ],
    );
    let reg_log = || {
        let out = docker_raw(&["logs", &reg.name]);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let ready = wait_until(T, || async { reg_log().contains("Syncing services on") }).await;
    assert!(ready, "registrator did not start:\n{}", reg_log());

    // Step 3: four application containers.
    let nginx = Image::busybox_tagged(&format!("{prefix}/nginx:test"), "EXPOSE 80");
    let httpd = Image::busybox_tagged(&format!("{prefix}/httpd:test"), "EXPOSE 80");
    let ports = free_ports(4);
    let mut apps = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let n = i + 1;
        let image = if n <= 2 { &nginx.tag } else { &httpd.tag };
        let publish = format!("{port}:80");
        let host = format!("test0{n}");
        apps.push(Container::run(
            &format!("test-0{n}-{prefix}"),
            &["-it", "-p", &publish, "-h", &host, image],
        ));
    }

    let me = hostname();
    let want = |range: std::ops::Range<usize>| -> BTreeMap<String, String> {
        range
            .map(|i| {
                (
                    format!("{me}:{}:80", apps[i].name),
                    format!("127.0.0.1:{}", ports[i]),
                )
            })
            .collect()
    };
    for (service, expected) in [("nginx", want(0..2)), ("httpd", want(2..4))] {
        let ok = wait_until(T, || async {
            instances(&agent, service, &prefix).await == expected
        })
        .await;
        assert!(
            ok,
            "{service}: want {expected:?}, catalog has {:?}\nregistrator log:\n{}",
            instances(&agent, service, &prefix).await,
            reg_log()
        );
    }
    let services = agent.get("/v1/catalog/services").await;
    for s in ["consul", "nginx", "httpd"] {
        assert!(services.get(s).is_some(), "no {s} in {services}");
    }
    // The agent's own view carries the tutorial's IDs too.
    let local = agent.get("/v1/agent/services").await;
    let id = format!("{me}:{}:80", apps[0].name);
    assert_eq!(local[&id]["Service"], Value::from("nginx"), "{local}");
    assert_eq!(local[&id]["Port"], Value::from(ports[0]), "{local}");

    // Removing a container removes its instance, and only it.
    docker(&["rm", "-f", &apps[0].name]);
    let mut rest = want(0..2);
    rest.remove(&id);
    let ok = wait_until(T, || async {
        instances(&agent, "nginx", &prefix).await == rest
    })
    .await;
    assert!(
        ok,
        "after removing {}: {:?}\nregistrator log:\n{}",
        apps[0].name,
        instances(&agent, "nginx", &prefix).await,
        reg_log()
    );
    assert_eq!(instances(&agent, "httpd", &prefix).await, want(2..4));
    // Stopping (not removing) one takes it out as well.
    docker(&["stop", "-t", "1", &apps[3].name]);
    let ok = wait_until(T, || async {
        instances(&agent, "httpd", &prefix).await == want(2..3)
    })
    .await;
    assert!(
        ok,
        "after stopping {}: {:?}",
        apps[3].name,
        instances(&agent, "httpd", &prefix).await
    );
    // Guards remove the containers (apps before the registrator: declared later, dropped
    // first), then the images, then the agent and its data dir.
    drop(apps);
    drop(reg);
}
