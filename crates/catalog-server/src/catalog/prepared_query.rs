//! Prepared queries: stored definitions (Consul's `structs.PreparedQuery`, in its JSON shape,
//! which is also how the state serializes them), their writes and the checks applied with them
//! (unique names, names that are not another query's ID, one wild template, a live session,
//! a template that compiles), templates (`name_prefix_match` with HIL-style `${...}`
//! interpolation and an optional RE2 `Regexp`), resolution of an ID or a name (longest
//! template prefix), and execution against the catalog (healthy instances, `IgnoreCheckIDs`,
//! `OnlyPassing`, `NodeMeta`, `ServiceMeta`, `Tags` with `!` negation).

use super::acl::{AclRefusal, Authz};
use super::health::HealthStatus;
use super::query::{check_wire, node_service_wire, node_wire};
use super::state::{lower, CatalogError, State, Touched, WatchKey};
use ::acl::{Access, Resource};
use api_types::ServiceEntry;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `QueryFailoverTarget`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverTarget {
    #[serde(rename = "Peer", default)]
    pub peer: String,
    #[serde(rename = "Datacenter", default)]
    pub datacenter: String,
}

/// `QueryFailoverOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Failover {
    #[serde(rename = "NearestN", default)]
    pub nearest_n: i64,
    #[serde(rename = "Datacenters", default)]
    pub datacenters: Option<Vec<String>>,
    #[serde(rename = "Targets", default)]
    pub targets: Option<Vec<FailoverTarget>>,
}

/// `ServiceQuery`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceQuery {
    #[serde(rename = "Service", default)]
    pub service: String,
    #[serde(rename = "SamenessGroup", default)]
    pub sameness_group: String,
    #[serde(rename = "Failover", default)]
    pub failover: Failover,
    #[serde(rename = "OnlyPassing", default)]
    pub only_passing: bool,
    #[serde(rename = "IgnoreCheckIDs", default)]
    pub ignore_check_ids: Option<Vec<String>>,
    #[serde(rename = "Near", default)]
    pub near: String,
    #[serde(rename = "Tags", default)]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "NodeMeta", default)]
    pub node_meta: Option<BTreeMap<String, String>>,
    #[serde(rename = "ServiceMeta", default)]
    pub service_meta: Option<BTreeMap<String, String>>,
    #[serde(rename = "Peer", default)]
    pub peer: String,
    #[serde(rename = "Connect", default)]
    pub connect: bool,
}

/// `QueryTemplateOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateOptions {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(rename = "Regexp", default)]
    pub regexp: String,
    #[serde(rename = "RemoveEmptyTags", default)]
    pub remove_empty_tags: bool,
}

/// `QueryDNSOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsOptions {
    #[serde(rename = "TTL", default)]
    pub ttl: String,
}

/// A prepared query, as stored and as `/v1/query` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreparedQuery {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "Session", default)]
    pub session: String,
    #[serde(rename = "Token", default)]
    pub token: String,
    #[serde(rename = "Template", default)]
    pub template: TemplateOptions,
    #[serde(rename = "Service", default)]
    pub service: ServiceQuery,
    #[serde(rename = "DNS", default)]
    pub dns: DnsOptions,
    #[serde(rename = "CreateIndex", default)]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex", default)]
    pub modify_index: u64,
}

/// Consul's `RedactedToken`.
pub const REDACTED: &str = "<hidden>";

impl PreparedQuery {
    pub fn is_template(&self) -> bool {
        !self.template.kind.is_empty()
    }

    /// The name `query` ACL rules apply to (Consul's `GetACLPrefix`): none for an unnamed
    /// query that is not a template.
    pub fn acl_prefix(&self) -> Option<&str> {
        (!self.name.is_empty() || self.is_template()).then_some(self.name.as_str())
    }
}

/// Whether `s` has the shape of a UUID (Consul's `isUUID`).
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

// ---- templates ----

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(String),
    Match(i64),
}

/// Parses one HIL string: text with `${var}` and `${match(N)}` (`$${` is a literal `${`).
fn parse_hil(s: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        text.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(r) = after.strip_prefix("$${") {
            text.push_str("${");
            rest = r;
        } else if let Some(inner) = after.strip_prefix("${") {
            let end = inner
                .find('}')
                .ok_or_else(|| format!("expected expression end at {s:?}"))?;
            let expr = inner[..end].trim();
            if !text.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut text)));
            }
            out.push(parse_expr(expr)?);
            rest = &inner[end + 1..];
        } else {
            text.push('$');
            rest = &after[1..];
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

fn parse_expr(e: &str) -> Result<Piece, String> {
    if let Some(args) = e.strip_prefix("match").map(str::trim_start) {
        if let Some(n) = args.strip_prefix('(').and_then(|a| a.strip_suffix(')')) {
            let n = n.trim();
            return n
                .parse::<i64>()
                .map(Piece::Match)
                .map_err(|_| format!("match: argument 1 should be type int, got {n:?}"));
        }
    }
    let ident = !e.is_empty()
        && e.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ident {
        return Err(format!("unsupported expression {e:?}"));
    }
    match e {
        "name.full" | "name.prefix" | "name.suffix" | "agent.segment" => Ok(Piece::Var(e.into())),
        _ => Err(format!("unknown variable accessed: {e}")),
    }
}

/// What a template is rendered with.
struct Scope<'a> {
    full: &'a str,
    prefix: &'a str,
    segment: &'a str,
    matches: Vec<String>,
}

fn eval(pieces: &[Piece], sc: &Scope) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(v) => out.push_str(match v.as_str() {
                "name.full" => sc.full,
                "name.prefix" => sc.prefix,
                "name.suffix" => {
                    // Go's strings.TrimPrefix: only when it is a prefix.
                    sc.full.strip_prefix(sc.prefix).unwrap_or(sc.full)
                }
                _ => sc.segment,
            }),
            Piece::Match(i) => {
                if let Some(m) = usize::try_from(*i).ok().and_then(|i| sc.matches.get(i)) {
                    out.push_str(m);
                }
            }
        }
    }
    out
}

/// Every string field of the service query a template renders, with its path for messages.
fn for_each_string(
    q: &mut ServiceQuery,
    f: &mut dyn FnMut(&str, &mut String) -> Result<(), String>,
) -> Result<(), String> {
    f(".Service", &mut q.service)?;
    f(".SamenessGroup", &mut q.sameness_group)?;
    for (i, d) in q.failover.datacenters.iter_mut().flatten().enumerate() {
        f(&format!(".Failover.Datacenters[{i}]"), d)?;
    }
    for (i, id) in q.ignore_check_ids.iter_mut().flatten().enumerate() {
        f(&format!(".IgnoreCheckIDs[{i}]"), id)?;
    }
    f(".Near", &mut q.near)?;
    for (i, t) in q.tags.iter_mut().flatten().enumerate() {
        f(&format!(".Tags[{i}]"), t)?;
    }
    for (k, v) in q.node_meta.iter_mut().flatten() {
        f(&format!(".NodeMeta[{k}]"), v)?;
    }
    for (k, v) in q.service_meta.iter_mut().flatten() {
        f(&format!(".ServiceMeta[{k}]"), v)?;
    }
    f(".Peer", &mut q.peer)
}

/// Checks a template (type, expressions, regexp, a trial render with its own name), as
/// Consul's `Compile` does.
pub fn compile(q: &PreparedQuery) -> Result<(), String> {
    if q.template.kind != "name_prefix_match" {
        return Err(format!("Bad Template.Type '{}'", q.template.kind));
    }
    let mut svc = q.service.clone();
    for_each_string(&mut svc, &mut |path, v| {
        parse_hil(v)
            .map(|_| ())
            .map_err(|e| format!("Bad format '{v}' in Service{path}: {e}"))
    })?;
    if !q.template.regexp.is_empty() {
        regex::Regex::new(&q.template.regexp).map_err(|e| format!("Bad Regexp: {e}"))?;
    }
    render(q, &q.name, "").map(|_| ())
}

/// The query template `t` rendered for the name asked (`name`).
pub fn render(t: &PreparedQuery, name: &str, segment: &str) -> Result<PreparedQuery, String> {
    let mut q = t.clone();
    let matches = if t.template.regexp.is_empty() {
        Vec::new()
    } else {
        let re = regex::Regex::new(&t.template.regexp).map_err(|e| format!("Bad Regexp: {e}"))?;
        re.captures(name)
            .map(|c| {
                c.iter()
                    .map(|m| m.map_or(String::new(), |m| m.as_str().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let scope = Scope {
        full: name,
        prefix: &t.name,
        segment,
        matches,
    };
    for_each_string(&mut q.service, &mut |path, v| {
        let pieces =
            parse_hil(v).map_err(|e| format!("Bad evaluation for '{v}' in Service{path}: {e}"))?;
        *v = eval(&pieces, &scope);
        Ok(())
    })?;
    if t.template.remove_empty_tags {
        if let Some(tags) = &mut q.service.tags {
            tags.retain(|t| !t.is_empty());
        }
    }
    Ok(q)
}

// ---- state ----

impl State {
    /// Creates or replaces a query (by ID), after Consul's state-store checks.
    pub(super) fn prepared_query_set(
        &mut self,
        index: u64,
        query: &PreparedQuery,
        t: &mut Touched,
    ) -> Result<(), CatalogError> {
        let bad = |m: String| Err(CatalogError::PreparedQuery(m));
        if query.id.is_empty() {
            return bad("Missing query ID".into());
        }
        let existing = self.prepared_queries.get(&query.id);
        let mut q = query.clone();
        q.create_index = existing.map_or(index, |e| e.create_index);
        q.modify_index = index;
        let others = || self.prepared_queries.values().filter(|o| o.id != q.id);
        if !q.name.is_empty() {
            if others().any(|o| lower(&o.name) == lower(&q.name)) {
                return bad(format!("name '{}' aliases an existing query name", q.name));
            }
        } else if q.is_template() && others().any(|o| o.name.is_empty() && o.is_template()) {
            return bad("a query template with an empty name already exists".into());
        }
        if is_uuid(&q.name) && self.prepared_queries.contains_key(&q.name) {
            return bad(format!("name '{}' aliases an existing query ID", q.name));
        }
        if !q.session.is_empty() && !self.sessions.contains_key(&q.session) {
            return bad(format!("invalid session {:?}", q.session));
        }
        if q.is_template() {
            if let Err(e) = compile(&q) {
                return bad(format!("failed compiling template: {e}"));
            }
        }
        self.prepared_queries.insert(q.id.clone(), q);
        self.index.prepared_queries = index;
        t.push(WatchKey::PreparedQueries);
        Ok(())
    }

    /// Deletes a query; an unknown ID is no change.
    pub(super) fn prepared_query_delete(&mut self, index: u64, id: &str, t: &mut Touched) {
        if self.prepared_queries.remove(id).is_some() {
            self.index.prepared_queries = index;
            t.push(WatchKey::PreparedQueries);
        }
    }

    /// Deletes the queries tied to session `id` (it was invalidated).
    pub(super) fn prepared_queries_of_session(&mut self, index: u64, id: &str, t: &mut Touched) {
        let ids: Vec<String> = self
            .prepared_queries
            .values()
            .filter(|q| q.session == id)
            .map(|q| q.id.clone())
            .collect();
        for q in ids {
            self.prepared_query_delete(index, &q, t);
        }
    }

    pub fn prepared_queries_index(&self) -> u64 {
        self.index.prepared_queries
    }

    pub fn prepared_query(&self, id: &str) -> Option<&PreparedQuery> {
        self.prepared_queries.get(id)
    }

    /// Every query, in ID order.
    pub fn prepared_queries(&self) -> impl Iterator<Item = &PreparedQuery> {
        self.prepared_queries.values()
    }

    /// The query an ID or a name designates, a template rendered for the name (Consul's
    /// `PreparedQueryResolve`): by ID first (never a template), then a query of exactly that
    /// name, then the template with the longest name prefixing it (the wild one last).
    pub fn resolve_prepared_query(
        &self,
        id_or_name: &str,
        segment: &str,
    ) -> Result<Option<PreparedQuery>, String> {
        if id_or_name.is_empty() {
            return Err("Missing query ID".into());
        }
        if is_uuid(id_or_name) {
            if let Some(q) = self.prepared_queries.get(id_or_name) {
                if q.is_template() {
                    return Err(
                        "prepared query templates can only be resolved up by name, not by ID"
                            .into(),
                    );
                }
                return Ok(Some(q.clone()));
            }
        }
        let asked = lower(id_or_name);
        let exact = self
            .prepared_queries
            .values()
            .find(|q| !q.name.is_empty() && lower(&q.name) == asked);
        let found = exact.or_else(|| {
            self.prepared_queries
                .values()
                .filter(|q| q.is_template() && asked.starts_with(&lower(&q.name)))
                .max_by_key(|q| q.name.len())
        });
        match found {
            None => Ok(None),
            Some(q) if q.is_template() => render(q, id_or_name, segment).map(Some),
            Some(q) => Ok(Some(q.clone())),
        }
    }

    /// The instances a (rendered) query answers with, unshuffled: healthy ones (Consul's
    /// `FilterIgnore`), then node meta, service meta and tag filters.
    pub fn execute_prepared_query(&self, q: &PreparedQuery) -> Vec<ServiceEntry> {
        let svc = &q.service;
        let ignore = svc.ignore_check_ids.as_deref().unwrap_or_default();
        let (must, not): (Vec<String>, Vec<String>) = {
            let mut must = Vec::new();
            let mut not = Vec::new();
            for t in svc.tags.iter().flatten() {
                let t = t.to_lowercase();
                match t.strip_prefix('!') {
                    Some(n) => not.push(n.to_string()),
                    None => must.push(t),
                }
            }
            (must, not)
        };
        let meta_ok = |m: Option<&BTreeMap<String, String>>, want: &Option<BTreeMap<_, _>>| {
            want.iter()
                .flatten()
                .all(|(k, v)| m.and_then(|m| m.get(k)) == Some(v))
        };
        self.instances(&svc.service)
            .into_iter()
            .filter(|(n, s)| {
                let healthy = self.instance_checks(&lower(&n.node), &s.id).all(|c| {
                    ignore.contains(&c.check_id)
                        || !(c.status == HealthStatus::Critical
                            || (svc.only_passing && c.status != HealthStatus::Passing))
                });
                let tags: Vec<String> = s.tags.iter().map(|t| t.to_lowercase()).collect();
                healthy
                    && meta_ok(n.meta.as_ref(), &svc.node_meta)
                    && meta_ok(Some(&s.meta), &svc.service_meta)
                    && must.iter().all(|t| tags.contains(t))
                    && !not.iter().any(|t| tags.contains(t))
            })
            .map(|(n, s)| ServiceEntry {
                node: node_wire(n),
                service: node_service_wire(s),
                checks: self
                    .instance_checks(&lower(&n.node), &s.id)
                    .map(check_wire)
                    .collect(),
            })
            .collect()
    }
}

/// One execution of a query.
pub struct Run<'a> {
    pub id_or_name: &'a str,
    /// The request's token (the query's own, when it has one, is used instead).
    pub token: &'a str,
    /// The request's origin node (`?near=`), before the query's `Near`; `_agent` is
    /// `agent_node`.
    pub near: Option<&'a str>,
    pub agent_node: &'a str,
    /// At most this many instances (0: all).
    pub limit: usize,
}

/// What executing a query answers: the rendered query and the instances its token may read,
/// shuffled, sorted near the origin and cut to the limit.
pub struct Executed {
    pub query: PreparedQuery,
    pub nodes: Vec<ServiceEntry>,
    /// Whether ACLs removed instances.
    pub filtered: bool,
}

/// Why a query could not be run.
pub enum RunError {
    /// Consul's text (a template that fails to render, ...).
    Query(String),
    Acl(AclRefusal),
}

impl State {
    /// Resolves and executes a query as Consul's `PreparedQuery.Execute` does (local
    /// datacenter only). `Ok(None)`: no such query.
    pub fn run_prepared_query(
        &self,
        run: &Run,
        authorize: impl FnOnce(&str) -> Result<Authz, AclRefusal>,
    ) -> Result<Option<Executed>, RunError> {
        let Some(query) = self
            .resolve_prepared_query(run.id_or_name, "")
            .map_err(RunError::Query)?
        else {
            return Ok(None);
        };
        let token = if query.token.is_empty() {
            run.token
        } else {
            query.token.as_str()
        };
        let z = authorize(token).map_err(RunError::Acl)?;
        let mut nodes = self.execute_prepared_query(&query);
        let before = nodes.len();
        nodes.retain(|e| {
            z.allows(Resource::Service, &e.service.service, Access::Read)
                && z.allows(Resource::Node, &e.node.node, Access::Read)
        });
        let filtered = nodes.len() != before;
        nodes.shuffle(&mut rand::thread_rng());
        let origin = run
            .near
            .filter(|n| !n.is_empty())
            .or(Some(query.service.near.as_str()).filter(|n| !n.is_empty()))
            .map(|n| if n == "_agent" { run.agent_node } else { n });
        if let Some(origin) = origin {
            let rtt = self.rtt_from(origin);
            super::coordinate::sort_near(&mut nodes, |e| rtt(&e.node.node));
            // The origin itself first, when it is among the first ten.
            if let Some(i) = nodes
                .iter()
                .take(10)
                .position(|e| e.node.node.eq_ignore_ascii_case(origin))
            {
                nodes.swap(0, i);
            }
        }
        if run.limit > 0 {
            nodes.truncate(run.limit);
        }
        Ok(Some(Executed {
            query,
            nodes,
            filtered,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(name: &str, service: &str, re: &str) -> PreparedQuery {
        PreparedQuery {
            name: name.into(),
            template: TemplateOptions {
                kind: "name_prefix_match".into(),
                regexp: re.into(),
                remove_empty_tags: false,
            },
            service: ServiceQuery {
                service: service.into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn templates_render_as_consul_renders_them() {
        let t = template(
            "geo-db-",
            "${name.suffix}-${match(1)}",
            "^geo-db-(.*?)-([^-]+)$",
        );
        compile(&t).unwrap();
        let r = render(&t, "geo-db-customer-primary", "").unwrap();
        assert_eq!(r.service.service, "customer-primary-customer");
        let t = template(
            "",
            "${name.full}/${name.prefix}/$${x}/${ agent.segment }",
            "",
        );
        let r = render(&t, "web", "seg").unwrap();
        assert_eq!(r.service.service, "web//${x}/seg");
        assert!(compile(&template("x", "${nope}", ""))
            .unwrap_err()
            .contains("unknown variable accessed: nope"));
        assert!(compile(&template("x", "a", "("))
            .unwrap_err()
            .starts_with("Bad Regexp"));
        let mut bad = template("x", "a", "");
        bad.template.kind = "other".into();
        assert_eq!(compile(&bad).unwrap_err(), "Bad Template.Type 'other'");
    }

    #[test]
    fn uuids_are_recognised() {
        assert!(is_uuid("8f246b77-f3e1-ff88-5b48-8ec93abf3e05"));
        assert!(!is_uuid("my-query"));
    }
}
