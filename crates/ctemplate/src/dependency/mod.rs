//! Dependencies: one enum of the queries a template can make. Its derived `Eq`/`Hash` is the
//! de-duplication identity (identical calls in many templates share one watch), `Display`
//! is upstream's canonical string (`health.service(web|passing)`, `kv.block(foo)`, ...),
//! [`Dependency::to_query`] describes the Consul HTTP request and [`Dependency::decode`]
//! (in [`decode`]) turns the Consul JSON response into the template data shape.
//!
//! Architecture invariant: nothing here performs I/O; the watch layer fetches, this module
//! only says what to fetch and how to read the answer.

mod decode;
pub mod gonil;
mod parse;
mod wire;

use std::fmt;

pub use parse::ParseError;

/// A `service`/`connect` query.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceQuery {
    /// Service name.
    pub name: String,
    /// Optional tag filter (server-side).
    pub tag: Option<String>,
    /// Datacenter.
    pub dc: Option<String>,
    /// `near` sort node (`_agent` for the local agent).
    pub near: Option<String>,
    /// Health filters: `passing` by default, or `any`, `warning`, `critical`, `maintenance`.
    pub filters: Vec<String>,
    /// Extra query parameters (`ns`, `partition`, `peer`, `sameness-group`), sorted.
    pub params: Vec<(String, String)>,
    /// `connect` (Connect-capable endpoints) instead of `service`.
    pub connect: bool,
}

/// Everything a template can depend on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dependency {
    /// `service` / `connect`: `GET /v1/health/service/<name>`.
    HealthService(ServiceQuery),
    /// `services`: `GET /v1/catalog/services`.
    CatalogServices {
        /// Datacenter.
        dc: Option<String>,
        /// Extra query parameters.
        params: Vec<(String, String)>,
    },
    /// `node`: `GET /v1/catalog/node/<name>`; no name means the agent's own node.
    CatalogNode {
        /// Node name, `None` for the local agent's node.
        name: Option<String>,
        /// Datacenter.
        dc: Option<String>,
    },
    /// `nodes`: `GET /v1/catalog/nodes`.
    CatalogNodes {
        /// Datacenter.
        dc: Option<String>,
        /// `near` sort node.
        near: Option<String>,
    },
    /// `key` (blocking: a 404 is never delivered) and `keyExists`/`keyOrDefault`
    /// (non-blocking: a 404 is delivered as JSON `null`).
    KvGet {
        /// Key without leading slash.
        key: String,
        /// Datacenter.
        dc: Option<String>,
        /// `key`'s blocking-on-missing variant.
        block: bool,
    },
    /// `ls`, `safeLs`, `tree`, `safeTree`: `GET /v1/kv/<prefix>?recurse`.
    KvList {
        /// Prefix without leading slash.
        prefix: String,
        /// Datacenter.
        dc: Option<String>,
    },
    /// `datacenters`: `GET /v1/catalog/datacenters` (polled, not blocking).
    Datacenters {
        /// Leave out datacenters that fail to answer.
        ignore_failing: bool,
    },
    /// `caRoots`: `GET /v1/agent/connect/ca/roots` (the roots of Consul's Connect CA).
    CaRoots,
    /// `caLeaf`: `GET /v1/agent/connect/ca/leaf/<service>` (a leaf certificate).
    CaLeaf {
        /// The service the certificate is for.
        service: String,
    },
    /// `file`: a local file, read by the watch layer (not Consul).
    File {
        /// Path as written in the template.
        path: String,
    },
}

/// A Consul HTTP request: path plus query parameters (blocking `index`/`wait`/`stale` are
/// added by the watch layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsulRequest {
    /// Request path, e.g. `/v1/health/service/web`.
    pub path: String,
    /// Query parameters in emission order (sorted by key, like Go's `url.Values.Encode`).
    pub params: Vec<(String, String)>,
    /// Whether the endpoint supports blocking queries.
    pub blocking: bool,
}

impl Dependency {
    /// Whether a Consul 404 must be ignored (the view keeps polling and never delivers).
    pub fn blocks_on_missing(&self) -> bool {
        matches!(self, Dependency::KvGet { block: true, .. })
    }

    /// Whether de-duplication may share this dependency's data between instances
    /// (upstream's `CanShare`): everything but a local `file`, `node` and the agent's
    /// Connect certificates.
    pub fn can_share(&self) -> bool {
        !matches!(
            self,
            Dependency::File { .. }
                | Dependency::CatalogNode { .. }
                | Dependency::CaRoots
                | Dependency::CaLeaf { .. }
        )
    }

    /// The Consul request for this dependency; `None` for [`Dependency::File`].
    ///
    /// For [`Dependency::CatalogNode`] without a name the path ends in `/v1/catalog/node/`:
    /// the caller first resolves the agent's node name with `GET /v1/agent/self`
    /// (`Config.NodeName`) and appends it.
    pub fn to_query(&self) -> Option<ConsulRequest> {
        let mut params: Vec<(String, String)> = Vec::new();
        let dc = |params: &mut Vec<(String, String)>, dc: &Option<String>| {
            if let Some(dc) = dc {
                params.push(("dc".into(), dc.clone()));
            }
        };
        let (path, blocking) = match self {
            Dependency::HealthService(q) => {
                dc(&mut params, &q.dc);
                if let Some(near) = &q.near {
                    params.push(("near".into(), near.clone()));
                }
                if q.filters == ["passing"] {
                    params.push(("passing".into(), "1".into()));
                }
                if let Some(tag) = &q.tag {
                    params.push(("tag".into(), tag.clone()));
                }
                params.extend(q.params.iter().cloned());
                let kind = if q.connect { "connect" } else { "service" };
                (format!("/v1/health/{kind}/{}", q.name), true)
            }
            Dependency::CatalogServices { dc: d, params: p } => {
                dc(&mut params, d);
                params.extend(p.iter().cloned());
                ("/v1/catalog/services".to_string(), true)
            }
            Dependency::CatalogNode { name, dc: d } => {
                dc(&mut params, d);
                (
                    format!("/v1/catalog/node/{}", name.as_deref().unwrap_or("")),
                    true,
                )
            }
            Dependency::CatalogNodes { dc: d, near } => {
                dc(&mut params, d);
                if let Some(near) = near {
                    params.push(("near".into(), near.clone()));
                }
                ("/v1/catalog/nodes".to_string(), true)
            }
            Dependency::KvGet { key, dc: d, .. } => {
                dc(&mut params, d);
                (format!("/v1/kv/{key}"), true)
            }
            Dependency::KvList { prefix, dc: d } => {
                dc(&mut params, d);
                params.push(("recurse".into(), String::new()));
                (format!("/v1/kv/{prefix}"), true)
            }
            Dependency::Datacenters { .. } => ("/v1/catalog/datacenters".to_string(), false),
            Dependency::CaRoots => ("/v1/agent/connect/ca/roots".to_string(), true),
            Dependency::CaLeaf { service } => {
                (format!("/v1/agent/connect/ca/leaf/{service}"), true)
            }
            Dependency::File { .. } => return None,
        };
        params.sort();
        Some(ConsulRequest {
            path,
            params,
            blocking,
        })
    }
}

fn at_dc(dc: &Option<String>) -> String {
    dc.as_ref().map(|d| format!("@{d}")).unwrap_or_default()
}

impl fmt::Display for Dependency {
    /// Upstream's dependency string, as shown in logs (`(runner) missing dependency: ...`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dependency::HealthService(q) => {
                let kind = if q.connect {
                    "health.connect"
                } else {
                    "health.service"
                };
                write!(f, "{kind}(")?;
                if let Some(tag) = &q.tag {
                    write!(f, "{tag}.")?;
                }
                write!(f, "{}{}", q.name, at_dc(&q.dc))?;
                if let Some(near) = &q.near {
                    write!(f, "~{near}")?;
                }
                if !q.filters.is_empty() {
                    write!(f, "|{}", q.filters.join(","))?;
                }
                f.write_str(")")
            }
            Dependency::CatalogServices { dc, .. } => match dc {
                Some(_) => write!(f, "catalog.services({})", at_dc(dc)),
                None => f.write_str("catalog.services"),
            },
            Dependency::CatalogNode { name, dc } => {
                write!(
                    f,
                    "catalog.node({}{})",
                    name.as_deref().unwrap_or(""),
                    at_dc(dc)
                )
            }
            Dependency::CatalogNodes { dc, near } => {
                let near = near.as_ref().map(|n| format!("~{n}")).unwrap_or_default();
                if dc.is_none() && near.is_empty() {
                    f.write_str("catalog.nodes")
                } else {
                    write!(f, "catalog.nodes({}{near})", at_dc(dc))
                }
            }
            Dependency::KvGet { key, dc, block } => {
                let kind = if *block { "kv.block" } else { "kv.get" };
                write!(f, "{kind}({key}{})", at_dc(dc))
            }
            Dependency::KvList { prefix, dc } => write!(f, "kv.list({prefix}{})", at_dc(dc)),
            Dependency::Datacenters { ignore_failing } => {
                if *ignore_failing {
                    f.write_str("catalog.datacenters(ignoreFailing)")
                } else {
                    f.write_str("catalog.datacenters")
                }
            }
            Dependency::CaRoots => f.write_str("connect.caroots"),
            Dependency::CaLeaf { service } => write!(f, "connect.caleaf({service})"),
            Dependency::File { path } => write!(f, "file({path})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_query_defaults_to_passing() {
        let d = Dependency::service(&["web".to_string()], false).unwrap();
        assert_eq!(d.to_string(), "health.service(web|passing)");
        let q = d.to_query().unwrap();
        assert_eq!(q.path, "/v1/health/service/web");
        assert_eq!(q.params, vec![("passing".into(), "1".into())]);
        let any = Dependency::service(&["prod.web@dc2".into(), "any".into()], false).unwrap();
        assert_eq!(any.to_string(), "health.service(prod.web@dc2|any)");
        let q = any.to_query().unwrap();
        assert_eq!(
            q.params,
            vec![("dc".into(), "dc2".into()), ("tag".into(), "prod".into())]
        );
        assert_eq!(
            d,
            Dependency::service(&["web|passing".to_string()], false).unwrap()
        );
    }

    #[test]
    fn kv_queries() {
        let d = Dependency::kv_get("/a/b@dc1", true).unwrap();
        assert_eq!(d.to_string(), "kv.block(a/b@dc1)");
        assert_eq!(d.to_query().unwrap().path, "/v1/kv/a/b");
        let l = Dependency::kv_list("config/").unwrap();
        assert_eq!(l.to_string(), "kv.list(config/)");
        assert_eq!(
            l.to_query().unwrap().params,
            vec![("recurse".into(), String::new())]
        );
    }

    #[test]
    fn connect_ca_queries() {
        let roots = Dependency::CaRoots;
        assert_eq!(roots.to_string(), "connect.caroots");
        assert_eq!(roots.to_query().unwrap().path, "/v1/agent/connect/ca/roots");
        let leaf = Dependency::CaLeaf {
            service: "web".into(),
        };
        assert_eq!(leaf.to_string(), "connect.caleaf(web)");
        assert_eq!(
            leaf.to_query().unwrap().path,
            "/v1/agent/connect/ca/leaf/web"
        );
        assert!(!leaf.can_share() && !roots.can_share());
    }

    #[test]
    fn bad_service_names() {
        assert!(Dependency::service(&["a/b".to_string()], false).is_err());
        assert!(Dependency::service(&["web|bogus".to_string()], false).is_err());
    }
}
