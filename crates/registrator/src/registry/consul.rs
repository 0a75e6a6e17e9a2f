//! The Consul backends: the agent service API (`consul://`, `consul-unix://`, `consul-tls://`)
//! and KV entries (`consulkv://`, `consulkv-unix://`), with upstream's wire calls, made through
//! the shared typed client (`api_types::client`, TCP or unix socket).

use super::uri::{Address, Backend, Endpoint};
use super::{Registry, RegistryError};
use api_types::client::{Client, ClientConfig, ClientError, KvPutOptions, QueryOptions};
use api_types::{AgentService, ServiceRegistration};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long one request may take before the registry counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A Consul agent reached over HTTP.
pub struct Consul {
    client: Client,
    backend: Backend,
}

/// Turns a client error into the registry's: no HTTP answer is `Unreachable` (worth retrying),
/// an error status is `Status` naming the request as `METHOD path`, an undecodable answer is
/// `Decode` naming `what` was read.
fn failed(
    method: &'static str,
    path: String,
    what: &'static str,
) -> impl FnOnce(ClientError) -> RegistryError {
    move |e| match e {
        ClientError::Transport { .. } => RegistryError::Unreachable(e.to_string()),
        ClientError::Status { code, body } => RegistryError::Status {
            method: method.to_string(),
            path,
            status: code,
            body: body.trim().to_string(),
        },
        ClientError::Decode(reason) => RegistryError::Decode {
            what: what.to_string(),
            reason,
        },
        ClientError::Address(_, m) | ClientError::Tls(m) => RegistryError::Config(m),
    }
}

impl Consul {
    /// Builds the client for `endpoint` (no request is made); TLS files are read here so a bad
    /// file fails at start.
    pub fn new(endpoint: &Endpoint) -> Result<Self, RegistryError> {
        let address = match &endpoint.address {
            Address::Unix(path) => format!("unix://{}", path.display()),
            Address::Tcp { https, host_port } => {
                let scheme = if *https { "https" } else { "http" };
                format!("{scheme}://{host_port}")
            }
        };
        let tls = &endpoint.tls;
        // Refused rather than ignored: a certificate checked against another name than the
        // user asked for is not the check they configured.
        if let Some(name) = &tls.server_name {
            return Err(RegistryError::Config(format!(
                "CONSUL_TLS_SERVER_NAME={name} is not supported by this registrator: \
                 the certificate is checked against the address's host; unset it"
            )));
        }
        let client = Client::from_config(ClientConfig {
            address: Some(address),
            token: endpoint.token.clone(),
            http_auth: endpoint.basic_auth.clone(),
            ssl_verify: tls.skip_verify.then_some(false),
            ca_file: tls.ca_file.clone(),
            client_cert: tls.cert_file.clone(),
            client_key: tls.key_file.clone(),
            timeout: Some(REQUEST_TIMEOUT),
            ..ClientConfig::default()
        })
        .map_err(failed("", String::new(), "configuration"))?;
        Ok(Consul {
            client,
            backend: endpoint.backend.clone(),
        })
    }

    /// `<prefix>/<name>/<id>`, the KV key of a service (empty prefix parts dropped).
    fn kv_key(prefix: &str, reg: &ServiceRegistration) -> String {
        let mut parts: Vec<&str> = prefix.split('/').filter(|p| !p.is_empty()).collect();
        parts.push(&reg.name);
        parts.push(&reg.id);
        parts.join("/")
    }
}

impl Registry for Consul {
    async fn ping(&self) -> Result<String, RegistryError> {
        self.client.status_leader().await.map_err(failed(
            "GET",
            "/v1/status/leader".to_string(),
            "leader",
        ))
    }

    async fn register(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        match &self.backend {
            Backend::Agent => self.client.service_register(reg).await.map_err(failed(
                "PUT",
                "/v1/agent/service/register".to_string(),
                "register answer",
            )),
            Backend::Kv { prefix } => {
                let key = Self::kv_key(prefix, reg);
                let value = format!("{}:{}", reg.address, reg.port);
                self.client
                    .kv_put(&key, value.as_bytes(), &KvPutOptions::default())
                    .await
                    .map(|_| ())
                    .map_err(failed("PUT", format!("/v1/kv/{key}"), "KV answer"))
            }
        }
    }

    async fn deregister(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        match &self.backend {
            Backend::Agent => self
                .client
                .service_deregister(&reg.id)
                .await
                .map_err(failed(
                    "PUT",
                    format!("/v1/agent/service/deregister/{}", reg.id),
                    "deregister answer",
                )),
            Backend::Kv { prefix } => {
                let key = Self::kv_key(prefix, reg);
                self.client
                    .kv_delete(&key, false, None)
                    .await
                    .map(|_| ())
                    .map_err(failed("DELETE", format!("/v1/kv/{key}"), "KV answer"))
            }
        }
    }

    async fn services(&self) -> Result<Option<BTreeMap<String, AgentService>>, RegistryError> {
        if !matches!(self.backend, Backend::Agent) {
            return Ok(None);
        }
        self.client
            .agent_services(&QueryOptions::default())
            .await
            .map(|(services, _)| Some(services))
            .map_err(failed(
                "GET",
                "/v1/agent/services".to_string(),
                "agent services",
            ))
    }

    async fn update_check(
        &self,
        check_id: &str,
        passing: bool,
        note: &str,
    ) -> Result<(), RegistryError> {
        if !matches!(self.backend, Backend::Agent) {
            return Ok(());
        }
        let verb = if passing { "pass" } else { "fail" };
        let answer = if passing {
            self.client.check_pass(check_id, note).await
        } else {
            self.client.check_fail(check_id, note).await
        };
        answer.map_err(failed(
            "PUT",
            format!("/v1/agent/check/{verb}/{check_id}"),
            "check answer",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_keys() {
        let reg = ServiceRegistration {
            id: "h:web.1:80".into(),
            name: "web".into(),
            ..Default::default()
        };
        assert_eq!(Consul::kv_key("services", &reg), "services/web/h:web.1:80");
        assert_eq!(Consul::kv_key("", &reg), "web/h:web.1:80");
        assert_eq!(Consul::kv_key("a/b/", &reg), "a/b/web/h:web.1:80");
    }

    #[test]
    fn a_tls_server_name_is_refused_not_ignored() {
        let endpoint = Endpoint {
            backend: Backend::Agent,
            address: Address::Tcp {
                https: true,
                host_port: "127.0.0.1:8501".into(),
            },
            token: None,
            basic_auth: None,
            tls: crate::registry::uri::Tls {
                server_name: Some("consul.example".into()),
                ..Default::default()
            },
        };
        let e = Consul::new(&endpoint).err().map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("CONSUL_TLS_SERVER_NAME=consul.example")),
            "{e:?}"
        );
    }

    /// A Consul agent on a unix socket answering each request with the body its path maps
    /// to (404 for others), recording request lines.
    async fn unix_agent(
        dir: &std::path::Path,
        answers: &'static [(&'static str, &'static str)],
    ) -> (
        std::path::PathBuf,
        std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let path = dir.join("consul.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut s = BufReader::new(s);
                    loop {
                        let mut line = String::new();
                        if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let request = line.trim_end().to_string();
                        let mut len = 0;
                        loop {
                            let mut h = String::new();
                            if s.read_line(&mut h).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if h == "\r\n" {
                                break;
                            }
                            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; len];
                        if s.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let path = request.split(' ').nth(1).unwrap_or_default().to_string();
                        let answer = answers.iter().find(|(p, _)| path.starts_with(p));
                        let (status, body) = match answer {
                            Some((_, b)) => ("200 OK", *b),
                            None => ("404 Not Found", "no such thing"),
                        };
                        if let Ok(mut seen) = log.lock() {
                            seen.push(request);
                        }
                        let reply = format!(
                            "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if s.get_mut().write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (path, seen)
    }

    #[tokio::test]
    async fn consul_unix_uri_talks_over_the_socket() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sock, seen) = unix_agent(
            dir.path(),
            &[
                ("/v1/status/leader", r#""10.0.0.1:8300""#),
                ("/v1/agent/service/register", ""),
                (
                    "/v1/agent/services",
                    r#"{"h:web:80":{"ID":"h:web:80","Service":"web","Tags":null,"Meta":null,"Port":80}}"#,
                ),
            ],
        )
        .await;
        let uri = format!("consul-unix://{}", sock.display());
        let endpoint = super::super::uri::resolve(&uri, &|_| None).expect("uri");
        let consul = Consul::new(&endpoint).expect("client");
        assert_eq!(consul.ping().await.expect("ping"), "10.0.0.1:8300");
        let reg = ServiceRegistration {
            id: "h:web:80".into(),
            name: "web".into(),
            port: 80,
            ..Default::default()
        };
        consul.register(&reg).await.expect("register");
        let services = consul.services().await.expect("services").expect("agent");
        assert!(services["h:web:80"].tags.is_empty());
        let err = consul.deregister(&reg).await.expect_err("404");
        assert_eq!(
            err.to_string(),
            "PUT /v1/agent/service/deregister/h:web:80: HTTP 404: no such thing"
        );
        assert!(!err.is_retryable());
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen[0], "GET /v1/status/leader HTTP/1.1");
        assert_eq!(seen[1], "PUT /v1/agent/service/register HTTP/1.1");
        drop(consul);
        let gone = Consul::new(&endpoint).expect("client");
        std::fs::remove_file(&sock).expect("remove socket");
        let err = gone.ping().await.expect_err("no socket");
        assert!(err.is_retryable(), "{err}");
        assert!(
            err.to_string().starts_with("registry unreachable: Get "),
            "{err}"
        );
    }
}
