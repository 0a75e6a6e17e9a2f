//! The answer cache of the UDP workers: for each service question (name and type A, AAAA or
//! SRV) the healthy instances' records in wire form ([`Packed`]), built by [`answer`] as an
//! uncached reply is, and the catalog indexes they were read at. Every lookup checks them
//! under the catalog's read lock: unchanged when no write was applied since (the catalog's
//! last index), or when the writes since did not touch the service (its index, the one
//! `/v1/health/service` blocking queries wait on: instances, their checks and their nodes).
//! Anything else is built again, so a reply never shows an instance a write removed or turned
//! critical, however soon after the write it is asked.
//!
//! Only for a server agent without ACLs: with ACLs an answer depends on the agent's DNS
//! token (set outside the catalog) and its expiry, and a client agent asks a server for each
//! answer; both go the uncached way. So do NXDOMAIN and NODATA answers (they carry an SOA
//! whose serial is the time) and every other question. Each worker holds its own cache; one
//! over [`MAX_ENTRIES`] names is emptied.

use super::answer::{self, Source};
use super::names::{self, Asked, Parsed};
use super::packed::Packed;
use crate::agent::Agent;
use crate::catalog::acl::Authz;
use hickory_proto::rr::{LowerName, RecordType};
use std::collections::HashMap;

/// The most questions a worker keeps answers for.
pub const MAX_ENTRIES: usize = 4096;

/// A worker's cached answers.
#[derive(Default)]
pub struct Cache {
    map: HashMap<(LowerName, RecordType), Slot>,
}

enum Slot {
    /// Not a service question: always answered the uncached way.
    Pass,
    /// A service's answers as of `stamp`; `None` when there is none to give (NXDOMAIN or
    /// NODATA, answered the uncached way).
    Held {
        stamp: Stamp,
        packed: Option<Packed>,
    },
}

/// The catalog indexes an entry was read at.
struct Stamp {
    /// The service, lower-case.
    service: String,
    /// The catalog's last applied index when last found current.
    last: u64,
    /// The service's index.
    index: u64,
}

impl Stamp {
    fn read(agent: &Agent, service: &str) -> Stamp {
        let service = service.to_lowercase();
        let (last, index) = agent
            .catalog()
            .read(|s| (s.last_index(), s.service_idx(&service)));
        Stamp {
            service,
            last,
            index,
        }
    }

    /// Whether the service is as it was read.
    fn current(&mut self, agent: &Agent) -> bool {
        agent.catalog().read(|s| {
            if s.last_index() == self.last {
                return true;
            }
            let same = s.service_idx(&self.service) == self.index;
            if same {
                self.last = s.last_index();
            }
            same
        })
    }
}

impl Cache {
    /// The answers to `name` (type `qtype`) as the catalog holds them now; `None`: answer the
    /// uncached way. `agent` is a server without ACLs.
    pub fn answers(
        &mut self,
        agent: &Agent,
        name: &LowerName,
        qtype: RecordType,
    ) -> Option<&Packed> {
        if !matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::SRV) {
            return None;
        }
        let key = (name.clone(), qtype);
        let current = match self.map.get_mut(&key) {
            Some(Slot::Pass) => return None,
            Some(Slot::Held { stamp, .. }) => stamp.current(agent),
            None => false,
        };
        if !current {
            if self.map.len() >= MAX_ENTRIES {
                self.map.clear();
            }
            self.map.insert(key.clone(), build(agent, name, qtype));
        }
        match self.map.get(&key) {
            Some(Slot::Held {
                packed: Some(p), ..
            }) => Some(p),
            _ => None,
        }
    }
}

/// Reads the answers to `name` as an uncached reply reads them.
fn build(agent: &Agent, name: &LowerName, qtype: RecordType) -> Slot {
    let cfg = &agent.config().dns;
    let dc = agent.datacenter();
    let qname = name.to_string().to_lowercase();
    if super::reverse::parse(&qname).is_some() {
        return Slot::Pass;
    }
    let Parsed::Inside { domain, asked } =
        names::parse(&qname, &cfg.domain, cfg.alt_domain.as_deref(), dc)
    else {
        return Slot::Pass;
    };
    let Asked::Service { service, .. } = &asked else {
        return Slot::Pass;
    };
    // The stamp first: a write between it and the read makes the entry look older than it
    // is (read again next time), never newer.
    let stamp = Stamp::read(agent, service);
    let src = Source {
        catalog: agent.catalog(),
        queries: Some(agent),
        authz: Some(Authz::manage_all()),
        cfg,
        dc,
        ran: None,
    };
    let q = answer::Query {
        qname: &qname,
        qtype,
        domain: &domain,
        asked: &asked,
    };
    let packed = answer::service_entries(&src, &q)
        .filter(|e| !e.is_empty())
        .and_then(|e| Packed::new(&e));
    Slot::Held { stamp, packed }
}
