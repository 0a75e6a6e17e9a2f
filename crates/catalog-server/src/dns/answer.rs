//! Records built from the catalog as it is at the moment of the query, as Consul builds them:
//! healthy instances only (critical left out, warning too with `only_passing`), shuffled per
//! answer; A/AAAA named as asked; SRV with priority 1, the instance's weight and port, its
//! target `<node>.node.<dc>.<domain>` (`<hex-ip>.addr.<dc>.<domain>` whenever the service has
//! an IP address of its own, even the node's, as Consul's `nodeServiceRecords` does) and that
//! target's address in ADDITIONAL, once per SRV record; node meta as TXT; NS and SOA for the
//! domain; NXDOMAIN with the SOA in AUTHORITY for what does not exist. An address that is a
//! host name is answered with a CNAME to it (A, AAAA, ANY), or as the SRV's target. With ACLs, an instance
//! is answered only when the agent's DNS token (`acl.tokens.dns`, else the default token, else
//! anonymous) may read its service and its node.

use super::names::Asked;
use crate::agent::Agent;
use crate::catalog::acl::Authz;
use crate::catalog::prepared_query::Run;
use crate::catalog::HealthStatus;
use crate::config::DnsConfig;
use ::acl::{Access, Resource};
use api_types::ServiceEntry;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::seq::SliceRandom;
use std::net::IpAddr;

/// The sections of a reply and its code.
#[derive(Debug, Default)]
pub struct Reply {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

/// What answers are built from: a catalog (the agent's own on a server; on a client, one
/// filled from a server for this question), what the agent's DNS token may read (`None`:
/// it did not resolve, SERVFAIL), the DNS settings and the datacenter.
pub struct Source<'a> {
    pub catalog: &'a crate::blocking::Catalog,
    /// The server agent that runs prepared queries (`None` on a client).
    pub queries: Option<&'a Agent>,
    /// On a client: the prepared query asked, as a server ran it (`None`: no such query).
    pub ran: Option<&'a Ran>,
    pub authz: Option<Authz>,
    pub cfg: &'a DnsConfig,
    pub dc: &'a str,
}

/// A prepared query as `/v1/query/:q/execute` answers it: its service, its `DNS.TTL` and the
/// instances found.
#[derive(Debug, serde::Deserialize)]
pub struct Ran {
    #[serde(rename = "Service")]
    pub service: String,
    #[serde(rename = "DNS", default)]
    pub dns: RanDns,
    #[serde(rename = "Nodes", default)]
    pub nodes: Vec<ServiceEntry>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct RanDns {
    #[serde(rename = "TTL", default)]
    pub ttl: String,
}

/// What one query is answered with.
pub struct Query<'a> {
    /// The name asked, lower-case with its trailing dot.
    pub qname: &'a str,
    pub qtype: RecordType,
    /// The domain the name is under (`consul.` or the alternative domain).
    pub domain: &'a str,
    pub asked: &'a Asked,
}

/// A healthy, readable instance, copied out of the catalog.
struct Instance {
    node: String,
    node_addr: String,
    node_meta: Vec<(String, String)>,
    svc_addr: String,
    port: u16,
    weight: u16,
}

/// The reply to `q` from `src`'s catalog.
pub fn answer(src: &Source, q: &Query) -> Reply {
    let cfg = src.cfg;
    let dc = src.dc;
    // SOA and NS questions are about the domain, whatever the name under it.
    match (q.qtype, q.asked) {
        (RecordType::SOA, Asked::Unknown | Asked::OtherDatacenter) => {}
        (RecordType::SOA, _) => return domain_soa(src, q, true),
        (RecordType::NS, Asked::Unknown | Asked::OtherDatacenter) => {}
        (RecordType::NS, _) => return domain_soa(src, q, false),
        _ => {}
    }
    let Some(authz) = src.authz.as_ref() else {
        return Reply {
            rcode: ResponseCode::ServFail,
            ..Reply::default()
        };
    };
    let reply = match q.asked {
        Asked::Service { service, tag } => {
            let found = instances(src, authz, service, tag.as_deref());
            let ttl = cfg.service_ttl(service).as_secs() as u32;
            service_records(cfg, q, dc, found, ttl)
        }
        Asked::Query { query } => match (src.queries, src.ran) {
            (Some(agent), _) => query_records(agent, q, query),
            (None, Some(ran)) => ran_records(cfg, q, dc, &ran.service, &ran.dns.ttl, &ran.nodes),
            (None, None) => not_found(cfg, q.domain),
        },
        Asked::Node { .. } => node_records(src, authz, q),
        Asked::Addr { ip } => {
            let ttl = cfg.node_ttl.as_secs() as u32;
            let mut r = Reply::default();
            r.answers.extend(address(q.qname, *ip, q.qtype, ttl));
            r
        }
        Asked::Apex | Asked::OtherDatacenter | Asked::Unknown => not_found(cfg, q.domain),
    };
    if reply.rcode == ResponseCode::NoError && reply.answers.is_empty() {
        // The name exists, not with this type: NODATA, with the SOA.
        return Reply {
            authority: vec![soa(cfg, q.domain)],
            ..reply
        };
    }
    reply
}

/// NXDOMAIN with the SOA in AUTHORITY.
pub fn not_found(cfg: &DnsConfig, domain: &str) -> Reply {
    Reply {
        rcode: ResponseCode::NXDomain,
        authority: vec![soa(cfg, domain)],
        ..Reply::default()
    }
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap_or_else(|_| Name::root())
}

/// The domain's SOA: `ns.<domain>`, `hostmaster.<domain>`, the serial the current time.
fn soa(cfg: &DnsConfig, domain: &str) -> Record {
    let serial = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let s = cfg.soa;
    let clamp = |v: u32| v.min(i32::MAX as u32) as i32;
    Record::from_rdata(
        name(domain),
        s.min_ttl,
        RData::SOA(SOA::new(
            name(&format!("ns.{domain}")),
            name(&format!("hostmaster.{domain}")),
            serial,
            clamp(s.refresh),
            clamp(s.retry),
            clamp(s.expire),
            s.min_ttl,
        )),
    )
}

/// The healthy instances of `service` (with `tag`) the token may read, shuffled.
fn instances(src: &Source, authz: &Authz, service: &str, tag: Option<&str>) -> Vec<Instance> {
    let mut out = healthy(src, authz, service, tag);
    out.shuffle(&mut rand::thread_rng());
    out
}

/// The healthy instances of `service` (with `tag`) the token may read, in catalog order.
fn healthy(src: &Source, authz: &Authz, service: &str, tag: Option<&str>) -> Vec<Instance> {
    let only_passing = src.cfg.only_passing;
    src.catalog.read(|s| {
        s.instances_with_health(service)
            .into_iter()
            .filter(|(_, svc, status)| {
                let healthy = match status {
                    HealthStatus::Critical => false,
                    HealthStatus::Warning => !only_passing,
                    HealthStatus::Passing => true,
                };
                healthy && tag.is_none_or(|t| svc.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
            })
            .filter(|(n, svc, _)| {
                authz.allows(Resource::Service, &svc.name, Access::Read)
                    && authz.allows(Resource::Node, &n.node, Access::Read)
            })
            .map(|(n, svc, status)| {
                let w = &svc.weights;
                let weight = match status {
                    HealthStatus::Warning => w.warning,
                    _ => w.passing,
                };
                Instance {
                    node: n.node.clone(),
                    node_addr: n.address.clone(),
                    node_meta: meta(n.meta.as_ref()),
                    svc_addr: svc.address.clone(),
                    port: svc.port,
                    weight: if w.passing == 0 && w.warning == 0 {
                        1
                    } else {
                        weight.clamp(0, i64::from(u16::MAX)) as u16
                    },
                }
            })
            .collect()
    })
}

/// `<query>.query.<domain>`: the prepared query run as `/v1/query/:q/execute` runs it, with
/// the agent's DNS token (else its default token), near this agent when the query says
/// `_agent`; its records like a service's, with the query's `DNS.TTL` (else the service's
/// TTL). NXDOMAIN when there is no such query or it has no instance, SERVFAIL when it cannot
/// run.
fn query_records(agent: &Agent, q: &Query, query: &str) -> Reply {
    let cfg = &agent.config().dns;
    let token = agent.tokens().dns_token().unwrap_or_default();
    let run = Run {
        id_or_name: query,
        token: &token,
        near: None,
        agent_node: agent.node(),
        limit: 0,
    };
    let ran = agent
        .catalog()
        .read(|s| s.run_prepared_query(&run, |t| agent.authorize_in(s, t)));
    let ex = match ran {
        Ok(Some(ex)) => ex,
        Ok(None) => return not_found(cfg, q.domain),
        Err(_) => {
            return Reply {
                rcode: ResponseCode::ServFail,
                ..Reply::default()
            }
        }
    };
    ran_records(
        cfg,
        q,
        agent.datacenter(),
        &ex.query.service.service,
        &ex.query.dns.ttl,
        &ex.nodes,
    )
}

/// The records of a prepared query's instances, with its `DNS.TTL` (else the service's TTL).
fn ran_records(
    cfg: &DnsConfig,
    q: &Query,
    dc: &str,
    service: &str,
    dns_ttl: &str,
    nodes: &[ServiceEntry],
) -> Reply {
    let ttl = if dns_ttl.is_empty() {
        cfg.service_ttl(service).as_secs() as u32
    } else {
        // A TTL that does not parse (refused at write) is 0, as Consul's is.
        api_types::parse_go_duration(dns_ttl).map_or(0, |ns| (ns.max(0) / 1_000_000_000) as u32)
    };
    let found = nodes
        .iter()
        .map(|e| {
            let warning = e.checks.iter().any(|c| c.status == "warning");
            let w = &e.service.weights;
            let weight = if warning { w.warning } else { w.passing };
            Instance {
                node: e.node.node.clone(),
                node_addr: e.node.address.clone(),
                node_meta: e
                    .node
                    .meta
                    .as_ref()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                svc_addr: e.service.address.clone(),
                port: e.service.port,
                weight: if w.passing == 0 && w.warning == 0 {
                    1
                } else {
                    weight.clamp(0, i64::from(u16::MAX)) as u16
                },
            }
        })
        .collect();
    service_records(cfg, q, dc, found, ttl)
}

fn meta(m: Option<&std::collections::BTreeMap<String, String>>) -> Vec<(String, String)> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// An A or AAAA record for `ip` named `owner`, when `qtype` asks for that family.
fn address(owner: &str, ip: IpAddr, qtype: RecordType, ttl: u32) -> Option<Record> {
    let wants = |t| qtype == t || qtype == RecordType::ANY;
    match ip {
        IpAddr::V4(v4) if wants(RecordType::A) => {
            Some(Record::from_rdata(name(owner), ttl, RData::A(A(v4))))
        }
        IpAddr::V6(v6) if wants(RecordType::AAAA) => {
            Some(Record::from_rdata(name(owner), ttl, RData::AAAA(AAAA(v6))))
        }
        _ => None,
    }
}

/// [`address`] with the owner already parsed.
fn wanted_address(owner: &Name, ip: IpAddr, qtype: RecordType, ttl: u32) -> Option<Record> {
    let wants = |t| qtype == t || qtype == RecordType::ANY;
    match ip {
        IpAddr::V4(_) if !wants(RecordType::A) => None,
        IpAddr::V6(_) if !wants(RecordType::AAAA) => None,
        _ => Some(address_record(owner.clone(), ip, ttl)),
    }
}

/// The A or AAAA record of `ip` named `owner`.
fn address_record(owner: Name, ip: IpAddr, ttl: u32) -> Record {
    match ip {
        IpAddr::V4(v4) => Record::from_rdata(owner, ttl, RData::A(A(v4))),
        IpAddr::V6(v6) => Record::from_rdata(owner, ttl, RData::AAAA(AAAA(v6))),
    }
}

/// A or AAAA for `ip` whatever the question (the ADDITIONAL records of SRV and NS answers).
fn any_address(owner: &str, ip: IpAddr, ttl: u32) -> Record {
    address(owner, ip, RecordType::ANY, ttl).expect("ANY takes both families")
}

/// Node meta as RFC 1464 TXT records (`key=value`; `rfc1035-` keys as their bare value).
fn meta_txt(owner: &str, meta: &[(String, String)], ttl: u32) -> Vec<Record> {
    meta.iter()
        .map(|(k, v)| {
            let txt = if k.to_ascii_lowercase().starts_with("rfc1035-") {
                v.clone()
            } else {
                format!(
                    "{}={}",
                    k.replace('`', "``").replace('=', "`="),
                    v.replace('`', "``")
                )
            };
            Record::from_rdata(name(owner), ttl, RData::TXT(TXT::new(vec![txt])))
        })
        .collect()
}

/// Whether `n` is usable as a DNS label (Consul skips nodes whose names are not).
fn dns_safe(n: &str) -> bool {
    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The hex form of an address in `<hex>.addr.<dc>.<domain>`.
fn hex(ip: IpAddr) -> String {
    let bytes = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn service_records(cfg: &DnsConfig, q: &Query, dc: &str, found: Vec<Instance>, ttl: u32) -> Reply {
    if found.is_empty() {
        return not_found(cfg, q.domain);
    }
    let mut r = Reply::default();
    for e in entries(cfg, q, dc, &found, ttl) {
        r.answers.push(e.answer);
        r.additional.extend(e.additional);
        if e.address && cfg.a_record_limit > 0 && r.answers.len() >= cfg.a_record_limit {
            break;
        }
    }
    r
}

/// One answer of a service's reply, with what goes with it in ADDITIONAL (an SRV target's
/// address, then its node meta as TXT).
#[derive(Debug, Clone)]
pub struct Entry {
    pub answer: Record,
    pub additional: Vec<Record>,
    /// An A or AAAA answer: these count toward `a_record_limit`.
    pub address: bool,
}

/// The entries of a service question (`Asked::Service`) in catalog order, without
/// `a_record_limit` (the answer cache shuffles and limits them per reply). `None` for another
/// question or when the token did not resolve; empty when no instance answers.
pub fn service_entries(src: &Source, q: &Query) -> Option<Vec<Entry>> {
    let Asked::Service { service, tag } = q.asked else {
        return None;
    };
    let authz = src.authz.as_ref()?;
    let found = healthy(src, authz, service, tag.as_deref());
    let ttl = src.cfg.service_ttl(service).as_secs() as u32;
    Some(entries(src.cfg, q, src.dc, &found, ttl))
}

/// The entries of `found` in their order: duplicates (the same address, the same SRV target
/// and port, the same host name) answered once.
fn entries(cfg: &DnsConfig, q: &Query, dc: &str, found: &[Instance], ttl: u32) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let owner = name(q.qname);
    for i in found {
        let svc_ip = i.svc_addr.parse::<IpAddr>().ok();
        let node_ip = i.node_addr.parse::<IpAddr>().ok();
        let ip = match (i.svc_addr.is_empty(), svc_ip, node_ip) {
            (true, _, Some(ip)) | (false, Some(ip), _) => ip,
            _ => {
                // A host name: a CNAME to it, or the SRV's target, as Consul answers.
                let host = if i.svc_addr.is_empty() {
                    &i.node_addr
                } else {
                    &i.svc_addr
                };
                if let Some(rec) = by_host_name(q, host, i, ttl, &mut seen) {
                    out.push(Entry {
                        answer: rec,
                        additional: Vec::new(),
                        address: false,
                    });
                }
                continue;
            }
        };
        if q.qtype == RecordType::SRV {
            if !seen.insert((i.node.clone(), ip, i.port)) {
                continue;
            }
            let target = match svc_ip {
                Some(s) => format!("{}.addr.{dc}.{}", hex(s), q.domain),
                _ if dns_safe(&i.node) => {
                    format!("{}.node.{dc}.{}", i.node.to_lowercase(), q.domain)
                }
                _ => continue,
            };
            let target_name = name(&target);
            let mut additional = vec![address_record(target_name.clone(), ip, ttl)];
            if cfg.node_meta_txt && target.contains(".node.") {
                additional.extend(meta_txt(&target, &i.node_meta, ttl));
            }
            out.push(Entry {
                answer: Record::from_rdata(
                    owner.clone(),
                    ttl,
                    RData::SRV(SRV::new(1, i.weight, i.port, target_name)),
                ),
                additional,
                address: false,
            });
        } else if let Some(rec) = wanted_address(&owner, ip, q.qtype, ttl) {
            if !seen.insert((String::new(), ip, 0)) {
                continue;
            }
            out.push(Entry {
                answer: rec,
                additional: Vec::new(),
                address: true,
            });
        }
    }
    out
}

/// The record of an instance whose address is the host name `host`: for SRV, the SRV with
/// the host name as target; for A, AAAA and ANY, a CNAME to it. `None` for an address that
/// is not a usable name, or one answered already.
fn by_host_name(
    q: &Query,
    host: &str,
    i: &Instance,
    ttl: u32,
    seen: &mut std::collections::HashSet<(String, IpAddr, u16)>,
) -> Option<Record> {
    let target = Name::from_ascii(format!("{}.", host.trim_end_matches('.'))).ok()?;
    let unspecified = IpAddr::from([0, 0, 0, 0]);
    match q.qtype {
        RecordType::SRV => seen
            .insert((format!("{}/{host}", i.node), unspecified, i.port))
            .then(|| {
                Record::from_rdata(
                    name(q.qname),
                    ttl,
                    RData::SRV(SRV::new(1, i.weight, i.port, target)),
                )
            }),
        RecordType::A | RecordType::AAAA | RecordType::ANY => seen
            .insert((host.to_lowercase(), unspecified, 0))
            .then(|| cname(q.qname, target, ttl)),
        _ => None,
    }
}

fn cname(owner: &str, target: Name, ttl: u32) -> Record {
    Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(target)))
}

fn node_records(src: &Source, authz: &Authz, q: &Query) -> Reply {
    let cfg = src.cfg;
    let Asked::Node { node } = q.asked else {
        return not_found(cfg, q.domain);
    };
    let found = src.catalog.read(|s| {
        s.node(node)
            .filter(|n| authz.allows(Resource::Node, &n.node, Access::Read))
            .map(|n| (n.address.clone(), meta(n.meta.as_ref())))
    });
    let Some((addr, meta)) = found else {
        return not_found(cfg, q.domain);
    };
    let ttl = cfg.node_ttl.as_secs() as u32;
    let mut r = Reply::default();
    if let Ok(ip) = addr.parse::<IpAddr>() {
        r.answers.extend(address(q.qname, ip, q.qtype, ttl));
    } else if matches!(q.qtype, RecordType::A | RecordType::AAAA | RecordType::ANY) {
        // A node whose address is a host name: a CNAME to it.
        if let Ok(target) = Name::from_ascii(format!("{}.", addr.trim_end_matches('.'))) {
            r.answers.push(cname(q.qname, target, ttl));
        }
    }
    match q.qtype {
        RecordType::ANY | RecordType::TXT => r.answers.extend(meta_txt(q.qname, &meta, ttl)),
        _ if cfg.node_meta_txt => r.additional.extend(meta_txt(q.qname, &meta, ttl)),
        _ => {}
    }
    r
}

/// SOA (with the servers as NS in AUTHORITY) or NS (the servers as answers): the servers are
/// the healthy instances of the `consul` service, three at most.
fn domain_soa(src: &Source, q: &Query, soa_asked: bool) -> Reply {
    let cfg = src.cfg;
    let dc = src.dc;
    let ttl = cfg.node_ttl.as_secs() as u32;
    let servers = match src.authz.as_ref() {
        Some(authz) => instances(src, authz, "consul", None),
        None => Vec::new(),
    };
    let mut ns = Vec::new();
    let mut extra = Vec::new();
    for s in servers.iter().filter(|s| dns_safe(&s.node)).take(3) {
        let Ok(ip) = s.node_addr.parse::<IpAddr>() else {
            continue;
        };
        let fqdn = format!("{}.node.{dc}.{}", s.node.to_lowercase(), q.domain);
        ns.push(Record::from_rdata(
            name(q.domain),
            ttl,
            RData::NS(NS(name(&fqdn))),
        ));
        extra.push(any_address(&fqdn, ip, ttl));
    }
    if soa_asked {
        Reply {
            rcode: ResponseCode::NoError,
            answers: vec![soa(cfg, q.domain)],
            authority: ns,
            additional: extra,
        }
    } else if ns.is_empty() {
        Reply {
            authority: vec![soa(cfg, q.domain)],
            ..Reply::default()
        }
    } else {
        Reply {
            rcode: ResponseCode::NoError,
            answers: ns,
            authority: Vec::new(),
            additional: extra,
        }
    }
}
