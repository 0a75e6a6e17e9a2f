//! The loop against a fake engine and a fake registry: Docker reconnect with resync, and
//! ordered queueing while the registry is unreachable.

use super::*;
use crate::registry::RegistryError;
use api_types::{AgentService, ServiceRegistration};
use futures::channel::mpsc;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct EngineState {
    containers: HashMap<String, Container>,
    running: HashSet<String>,
    streams: Vec<mpsc::UnboundedSender<Result<(ContainerEvent, i64), DockerError>>>,
}

#[derive(Clone, Default)]
struct FakeEngine(Arc<Mutex<EngineState>>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeEngine {
    fn add(&self, id: &str, running: bool) {
        let c: Container = serde_json::from_value(serde_json::json!({
            "Id": id, "Name": format!("/{id}"),
            "Config": {"Image": "img", "ExposedPorts": {"80/tcp": {}}},
            "HostConfig": {"NetworkMode": "default"},
            "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}},
            "State": {"Running": running, "ExitCode": 0}
        }))
        .unwrap_or_default();
        let mut s = lock(&self.0);
        s.containers.insert(id.to_string(), c);
        if running {
            s.running.insert(id.to_string());
        } else {
            s.running.remove(id);
        }
    }
    fn emit(&self, ev: ContainerEvent) {
        for tx in &lock(&self.0).streams {
            let _ = tx.unbounded_send(Ok((ev.clone(), now_secs())));
        }
    }
    fn end_streams(&self) {
        lock(&self.0).streams.clear();
    }
}

impl Engine for FakeEngine {
    async fn list_running(&self) -> Result<Vec<String>, DockerError> {
        Ok(lock(&self.0).running.iter().cloned().collect())
    }
    async fn list_non_exited(&self) -> Result<Vec<String>, DockerError> {
        self.list_running().await
    }
    async fn inspect(&self, id: &str) -> Result<Container, DockerError> {
        lock(&self.0)
            .containers
            .get(id)
            .cloned()
            .ok_or_else(|| DockerError::NotFound(id.to_string()))
    }
    fn events(
        &self,
        _since: i64,
    ) -> BoxStream<'static, Result<(ContainerEvent, i64), DockerError>> {
        let (tx, rx) = mpsc::unbounded();
        lock(&self.0).streams.push(tx);
        rx.boxed()
    }
}

#[derive(Clone, Default)]
struct FakeRegistry {
    calls: Arc<Mutex<Vec<String>>>,
    down: Arc<Mutex<bool>>,
}

impl FakeRegistry {
    fn record(&self, call: String) -> Result<(), RegistryError> {
        if *lock(&self.down) {
            return Err(RegistryError::Unreachable("down".into()));
        }
        lock(&self.calls).push(call);
        Ok(())
    }
    fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }
}

impl Registry for FakeRegistry {
    async fn ping(&self) -> Result<String, RegistryError> {
        Ok(String::new())
    }
    async fn register(&self, r: &ServiceRegistration) -> Result<(), RegistryError> {
        self.record(format!("register {}", r.id))
    }
    async fn deregister(&self, r: &ServiceRegistration) -> Result<(), RegistryError> {
        self.record(format!("deregister {}", r.id))
    }
    async fn services(&self) -> Result<Option<BTreeMap<String, AgentService>>, RegistryError> {
        Ok(None)
    }
    async fn update_check(&self, id: &str, passing: bool, _: &str) -> Result<(), RegistryError> {
        self.record(format!("check {id} {passing}"))
    }
}

fn cfg() -> SyncConfig {
    SyncConfig {
        settings: mapping::Settings {
            ip: "127.0.0.1".into(),
            ..Default::default()
        },
        host: mapping::Host {
            hostname: "h".into(),
            resolved_ip: None,
        },
        deregister: DeregisterPolicy::Always,
        cleanup: false,
        resync: None,
        ttl_refresh: None,
    }
}

async fn until(what: &str, reg: &FakeRegistry, cond: impl Fn(&[String]) -> bool) {
    for _ in 0..400 {
        if cond(&reg.calls()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: {:?}", reg.calls());
}

#[tokio::test]
async fn reconnects_and_prunes_after_stream_end() {
    let (engine, reg) = (FakeEngine::default(), FakeRegistry::default());
    engine.add("a", true);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(engine.clone(), reg.clone(), cfg(), async {
        let _ = rx.await;
    }));
    until("initial sync", &reg, |c| c == ["register h:a:80"]).await;
    // While disconnected, `a` died and `b` started.
    engine.end_streams();
    engine.add("a", false);
    engine.add("b", true);
    until("resync after reconnect", &reg, |c| {
        c.contains(&"register h:b:80".to_string()) && c.contains(&"deregister h:a:80".to_string())
    })
    .await;
    // The new stream is live.
    engine.add("c", true);
    engine.emit(ContainerEvent::Start { id: "c".into() });
    until("event after reconnect", &reg, |c| {
        c.contains(&"register h:c:80".to_string())
    })
    .await;
    let _ = tx.send(());
    assert!(matches!(task.await, Ok(Ok(()))));
}

#[tokio::test]
async fn queues_in_order_while_registry_is_down() {
    let (engine, reg) = (FakeEngine::default(), FakeRegistry::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(engine.clone(), reg.clone(), cfg(), async {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    *lock(&reg.down) = true;
    engine.add("x", true);
    engine.emit(ContainerEvent::Start { id: "x".into() });
    engine.add("y", true);
    engine.emit(ContainerEvent::Start { id: "y".into() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    engine.add("x", false);
    engine.emit(ContainerEvent::Die {
        id: "x".into(),
        exit_code: Some(0),
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(reg.calls().is_empty());
    *lock(&reg.down) = false;
    until("queue flushed", &reg, |c| c.len() >= 4).await;
    // Queued in decision order, then the post-outage resync re-puts the survivors.
    assert_eq!(
        reg.calls()[..4],
        [
            "register h:x:80",
            "register h:y:80",
            "deregister h:x:80",
            "register h:y:80"
        ]
    );
    let _ = tx.send(());
    assert!(matches!(task.await, Ok(Ok(()))));
}
