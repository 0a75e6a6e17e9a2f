//! The `docker` module against the real engine: version negotiation, listing, inspecting and
//! the event stream, with a locally built FROM-scratch busybox image.

use super::common::{require_docker, unique, Container, Image};
use futures::StreamExt;
use registrator::docker::{ContainerEvent, Docker};
use registrator::mapping::{self, Host, Settings};
use std::time::Duration;

async fn engine() -> Docker {
    Docker::connect("unix:///var/run/docker.sock", false, None)
        .await
        .expect("connect docker")
}

#[tokio::test]
async fn lists_and_inspects_a_real_container() {
    require_docker();
    let d = engine().await;
    let v = d.api_version();
    assert!(v.starts_with("1."), "negotiated {v}");
    let name = unique("web");
    let image = Image::busybox(&name, "EXPOSE 80");
    let c = Container::run(&name, &["-p", "0:80", "-e", "SERVICE_TAGS=a,b", &image.tag]);
    let running = d.list_running().await.expect("list");
    assert!(running.contains(&c.id), "{} not in {running:?}", c.id);
    assert!(d
        .list_non_exited()
        .await
        .expect("list non-exited")
        .contains(&c.id));
    let inspect = d.inspect(&c.id).await.expect("inspect");
    let host_port = c.host_port("80/tcp");
    let settings = Settings {
        ip: "127.0.0.1".into(),
        ..Default::default()
    };
    let host = Host {
        hostname: "h".into(),
        resolved_ip: None,
    };
    let mapped = mapping::services(&inspect, &settings, &host, None);
    assert_eq!(mapped.services.len(), 1, "{mapped:?}");
    let s = &mapped.services[0];
    assert_eq!(s.id, format!("h:{name}:80"));
    assert_eq!(s.name, name);
    assert_eq!((s.address.as_str(), s.port), ("127.0.0.1", host_port));
    assert_eq!(
        s.tags.as_deref(),
        Some(&["a".to_string(), "b".to_string()][..])
    );
    match d.inspect("regit-does-not-exist").await {
        Err(registrator::docker::DockerError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn event_stream_sees_start_die_and_health() {
    require_docker();
    let d = engine().await;
    let name = unique("ev");
    let image = Image::busybox(
        &name,
        "HEALTHCHECK --interval=1s --timeout=1s CMD [\"/bin/busybox\", \"true\"]",
    );
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_secs() as i64)
        .unwrap_or(0);
    let mut events = Box::pin(d.events(Some(since)));
    let c = Container::run(&name, &[&image.tag, "sleep", "30"]);
    let mut seen = Vec::new();
    let got_all = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(item) = events.next().await {
            let (ev, _) = item.expect("event");
            let mine = match &ev {
                ContainerEvent::Start { id }
                | ContainerEvent::Die { id, .. }
                | ContainerEvent::Health { id, .. } => *id == c.id,
            };
            if !mine {
                continue;
            }
            if matches!(ev, ContainerEvent::Health { healthy: true, .. }) {
                super::common::docker(&["kill", &c.name]);
            }
            let done = matches!(ev, ContainerEvent::Die { .. });
            seen.push(ev);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(got_all.is_ok(), "events seen: {seen:?}");
    assert_eq!(
        seen.first(),
        Some(&ContainerEvent::Start { id: c.id.clone() })
    );
    assert!(
        seen.contains(&ContainerEvent::Health {
            id: c.id.clone(),
            healthy: true
        }),
        "{seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&ContainerEvent::Die {
            id: c.id.clone(),
            exit_code: Some(137)
        })
    );
}
