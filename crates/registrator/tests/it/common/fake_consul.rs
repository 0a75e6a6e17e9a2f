//! A recording fake of the few Consul agent endpoints registrator calls, so the event loop can
//! be tested end to end before the real `consul` serves. It can be stopped and restarted on the
//! same port (state kept, the port held meanwhile so it refuses connections and stays ours) to
//! simulate an unreachable agent.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Agent {
    /// Registered services by ID: the request bodies as received.
    pub services: BTreeMap<String, Value>,
    /// Every call, in order: `register <id>`, `deregister <id>`, `pass <check>`, `fail <check>`,
    /// `kv-put <key>=<value>`, `kv-delete <key>`.
    pub calls: Vec<String>,
}

type Shared = Arc<Mutex<Agent>>;

pub struct FakeConsul {
    pub state: Shared,
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The port while stopped.
    held: Option<test_support::ReservedPort>,
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Agent> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

async fn register(State(s): State<Shared>, Json(body): Json<Value>) -> &'static str {
    let id = body
        .get("ID")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut a = lock(&s);
    a.calls.push(format!("register {id}"));
    a.services.insert(id, body);
    ""
}

async fn deregister(State(s): State<Shared>, Path(id): Path<String>) -> &'static str {
    let mut a = lock(&s);
    a.calls.push(format!("deregister {id}"));
    a.services.remove(&id);
    ""
}

async fn services(State(s): State<Shared>) -> Json<Value> {
    let a = lock(&s);
    let map: serde_json::Map<String, Value> = a
        .services
        .iter()
        .map(|(id, b)| {
            let v = json!({"ID": id, "Service": b.get("Name"), "Tags": b.get("Tags").cloned().unwrap_or(json!([])),
                "Port": b.get("Port").cloned().unwrap_or(json!(0)), "Address": b.get("Address").cloned().unwrap_or(json!("")),
                "Meta": b.get("Meta").cloned().unwrap_or(json!({}))});
            (id.clone(), v)
        })
        .collect();
    Json(Value::Object(map))
}

async fn check(State(s): State<Shared>, Path((verb, id)): Path<(String, String)>) -> &'static str {
    lock(&s).calls.push(format!("{verb} {id}"));
    ""
}

async fn kv_put(State(s): State<Shared>, Path(key): Path<String>, body: String) -> Json<bool> {
    lock(&s).calls.push(format!("kv-put {key}={body}"));
    Json(true)
}

async fn kv_delete(State(s): State<Shared>, Path(key): Path<String>) -> Json<bool> {
    lock(&s).calls.push(format!("kv-delete {key}"));
    Json(true)
}

impl FakeConsul {
    pub async fn start() -> FakeConsul {
        let mut f = FakeConsul {
            state: Shared::default(),
            port: 0,
            stop: None,
            task: None,
            held: None,
        };
        f.listen(0).await;
        f
    }

    async fn listen(&mut self, port: u16) {
        let app = Router::new()
            .route(
                "/v1/status/leader",
                get(|| async { Json("127.0.0.1:8300") }),
            )
            .route("/v1/agent/service/register", put(register))
            .route("/v1/agent/service/deregister/{id}", put(deregister))
            .route("/v1/agent/services", get(services))
            .route("/v1/agent/check/{verb}/{id}", put(check))
            .route("/v1/kv/{*key}", put(kv_put).delete(kv_delete))
            .with_state(self.state.clone());
        let listener = match self.held.take() {
            Some(held) => {
                let l = held.listen().expect("listen again");
                l.set_nonblocking(true).expect("nonblocking");
                tokio::net::TcpListener::from_std(l).expect("fake consul listener")
            }
            None => {
                // Port 0 at the start; the same port again after a stop that could not hold it.
                let mut tries = 0;
                loop {
                    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(l) => break l,
                        Err(_) if tries < 50 && port != 0 => {
                            tries += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(e) => panic!("bind fake consul on port {port}: {e}"),
                    }
                }
            }
        };
        self.port = listener.local_addr().expect("addr").port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.stop = Some(tx);
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        }));
    }

    /// Stops answering (connections refused) until [`FakeConsul::restart`].
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                panic!("fake consul did not stop");
            }
        }
        // Hold the port while stopped (connections refused, nobody else listens on it). Once
        // released, another test's outgoing connection may briefly use the number as its
        // ephemeral port: retry a while; if it stays taken, `restart` binds it again later.
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        for _ in 0..50 {
            match test_support::ReservedPort::at(addr) {
                Ok(held) => {
                    self.held = Some(held);
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Listens again on the same port with the same state.
    pub async fn restart(&mut self) {
        let port = self.port;
        self.listen(port).await;
    }

    pub fn uri(&self) -> String {
        format!("consul://127.0.0.1:{}", self.port)
    }

    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    pub fn service(&self, id: &str) -> Option<Value> {
        lock(&self.state).services.get(id).cloned()
    }

    pub fn insert(&self, id: &str, body: Value) {
        lock(&self.state).services.insert(id.to_string(), body);
    }
}

impl Drop for FakeConsul {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
