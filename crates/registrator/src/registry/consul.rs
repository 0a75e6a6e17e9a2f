//! The Consul backends: the agent service API (`consul://`, `consul-unix://`, `consul-tls://`)
//! and KV entries (`consulkv://`, `consulkv-unix://`), with upstream's exact wire calls.

use super::http::{escape_segment, Http};
use super::uri::{Backend, Endpoint};
use super::{Registry, RegistryError};
use api_types::{AgentService, ServiceRegistration};
use std::collections::BTreeMap;

/// A Consul agent reached over HTTP.
pub struct Consul {
    http: Http,
    backend: Backend,
}

impl Consul {
    /// Builds the client for `endpoint` (no request is made).
    pub fn new(endpoint: &Endpoint) -> Result<Self, RegistryError> {
        Ok(Consul {
            http: Http::new(endpoint)?,
            backend: endpoint.backend.clone(),
        })
    }

    /// `<prefix>/<name>/<id>`, each part escaped, as a KV path.
    fn kv_path(prefix: &str, reg: &ServiceRegistration) -> String {
        let mut parts: Vec<String> = prefix
            .split('/')
            .filter(|p| !p.is_empty())
            .map(escape_segment)
            .collect();
        parts.push(escape_segment(&reg.name));
        parts.push(escape_segment(&reg.id));
        format!("/v1/kv/{}", parts.join("/"))
    }
}

impl Registry for Consul {
    async fn ping(&self) -> Result<String, RegistryError> {
        let body = self.http.request("GET", "/v1/status/leader", None).await?;
        serde_json::from_slice::<String>(&body).map_err(|e| RegistryError::Decode {
            what: "leader".to_string(),
            reason: e.to_string(),
        })
    }

    async fn register(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        match &self.backend {
            Backend::Agent => {
                let body = api_types::json::to_go_json(reg, false);
                self.http
                    .request(
                        "PUT",
                        "/v1/agent/service/register",
                        Some(("application/json", body)),
                    )
                    .await?;
            }
            Backend::Kv { prefix } => {
                let value = format!("{}:{}", reg.address, reg.port).into_bytes();
                self.http
                    .request(
                        "PUT",
                        &Self::kv_path(prefix, reg),
                        Some(("application/octet-stream", value)),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn deregister(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        match &self.backend {
            Backend::Agent => {
                let path = format!("/v1/agent/service/deregister/{}", escape_segment(&reg.id));
                self.http.request("PUT", &path, None).await?;
            }
            Backend::Kv { prefix } => {
                self.http
                    .request("DELETE", &Self::kv_path(prefix, reg), None)
                    .await?;
            }
        }
        Ok(())
    }

    async fn services(&self) -> Result<Option<BTreeMap<String, AgentService>>, RegistryError> {
        if !matches!(self.backend, Backend::Agent) {
            return Ok(None);
        }
        let body = self.http.request("GET", "/v1/agent/services", None).await?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| RegistryError::Decode {
                what: "agent services".to_string(),
                reason: e.to_string(),
            })
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
        let mut path = format!("/v1/agent/check/{verb}/{}", escape_segment(check_id));
        if !note.is_empty() {
            path.push_str("?note=");
            path.push_str(
                &escape_segment(note)
                    .replace('&', "%26")
                    .replace('=', "%3D")
                    .replace('+', "%2B"),
            );
        }
        self.http.request("PUT", &path, None).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_paths() {
        let reg = ServiceRegistration {
            id: "h:web.1:80".into(),
            name: "web".into(),
            ..Default::default()
        };
        assert_eq!(
            Consul::kv_path("services", &reg),
            "/v1/kv/services/web/h:web.1:80"
        );
        assert_eq!(Consul::kv_path("", &reg), "/v1/kv/web/h:web.1:80");
        assert_eq!(Consul::kv_path("a/b/", &reg), "/v1/kv/a/b/web/h:web.1:80");
    }
}
