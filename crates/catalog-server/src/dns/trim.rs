//! Cutting a reply to what its transport carries, as Consul does: over UDP without EDNS at
//! most `udp_answer_limit` answers (never more than 8) and 512 bytes, with EDNS the client's
//! buffer size; over TCP 64 KiB. ADDITIONAL keeps only the addresses of the SRV targets still
//! answered. The caller sets TC when something was cut and `enable_truncate` says so.

use super::answer::Reply;
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RData, Record};
use std::collections::{HashMap, HashSet};

/// Consul's ceiling on answers in a UDP reply without EDNS.
const MAX_UDP_ANSWERS: usize = 8;
/// RFC 1035's UDP message size.
const DEFAULT_UDP_SIZE: usize = 512;
/// The largest UDP payload Consul sends (65535 less the IP and UDP headers' room).
const MAX_UDP_SIZE: usize = 65535 - 68;
/// The largest TCP reply Consul sends.
const MAX_TCP_SIZE: usize = 65523;

/// Room kept free below the client's buffer size, as Consul keeps it.
const SLACK: usize = 8;

/// What bounds a UDP reply to a client that advertised `edns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpLimits {
    /// The most bytes of the reply.
    pub size: usize,
    /// The most answers (`usize::MAX`: no limit but the size).
    pub answers: usize,
}

/// The bounds of a UDP reply: without EDNS (or a buffer not above 512 bytes) 512 bytes and
/// `answer_limit` answers (never more than 8), with EDNS the client's buffer size; the slack
/// below either.
pub fn udp_limits(edns: Option<u16>, answer_limit: usize) -> UdpLimits {
    let max = edns
        .map(usize::from)
        .filter(|s| *s > DEFAULT_UDP_SIZE)
        .unwrap_or(DEFAULT_UDP_SIZE)
        .min(MAX_UDP_SIZE);
    UdpLimits {
        size: max - SLACK,
        answers: if max == DEFAULT_UDP_SIZE {
            answer_limit.min(MAX_UDP_ANSWERS)
        } else {
            usize::MAX
        },
    }
}

/// Cuts `reply` for UDP; `edns` is the client's advertised buffer size. Whether it was cut.
pub fn udp(reply: &mut Reply, query: &Query, edns: Option<u16>, answer_limit: usize) -> bool {
    let before = reply.answers.len();
    let limits = udp_limits(edns, answer_limit);
    if before > limits.answers {
        reply.answers.truncate(limits.answers);
        sync_additional(reply);
    }
    fit(reply, query, edns, limits.size);
    reply.answers.len() < before
}

/// Cuts `reply` to what a TCP message carries. Whether it was cut.
pub fn tcp(reply: &mut Reply, query: &Query, edns: Option<u16>) -> bool {
    let before = reply.answers.len();
    fit(reply, query, edns, MAX_TCP_SIZE);
    reply.answers.len() < before
}

/// Drops answers (AUTHORITY first) until the encoded reply is at most `max` bytes; one answer
/// is always kept. The count is first estimated from the average encoded size of an answer
/// (with its address), then corrected one step at a time; bisection only when the estimate is
/// far off.
fn fit(reply: &mut Reply, query: &Query, edns: Option<u16>, max: usize) {
    let full = size(reply, query, edns);
    if reply.answers.len() <= 1 || full <= max {
        return;
    }
    reply.authority.clear();
    let all = std::mem::take(&mut reply.answers);
    let extra = std::mem::take(&mut reply.additional);
    let addresses = first_addresses(&extra);
    let measure = |n: usize, reply: &mut Reply| {
        reply.answers = all[..n].to_vec();
        reply.additional = additional_for(&reply.answers, &addresses);
        size(reply, query, edns)
    };
    let base = measure(0, reply);
    let per = (full.saturating_sub(base) / all.len()).max(1);
    let mut n = (max.saturating_sub(base) / per).clamp(1, all.len());
    // Walk from the estimate: down while it does not fit, up while the next one fits.
    let mut steps = 0;
    if measure(n, reply) > max {
        while n > 1 && steps < 8 {
            n -= 1;
            steps += 1;
            if measure(n, reply) <= max {
                break;
            }
        }
    } else {
        while n < all.len() && steps < 8 {
            if measure(n + 1, reply) > max {
                break;
            }
            n += 1;
            steps += 1;
        }
    }
    if steps >= 8 {
        // The estimate was far off: bisect (`lo` fits or is 1, `hi` does not).
        let (mut lo, mut hi) = (1, all.len() + 1);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if measure(mid, reply) <= max {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        n = lo;
    }
    measure(n, reply);
}

/// The first address record of each owner in `additional`.
fn first_addresses(additional: &[Record]) -> HashMap<Name, Record> {
    let mut out = HashMap::new();
    for r in additional {
        if matches!(r.data(), RData::A(_) | RData::AAAA(_)) {
            out.entry(r.name().to_lowercase())
                .or_insert_with(|| r.clone());
        }
    }
    out
}

/// The address records of the SRV targets among `answers`, one per target, in answer order.
fn additional_for(answers: &[Record], addresses: &HashMap<Name, Record>) -> Vec<Record> {
    let mut seen = HashSet::new();
    answers
        .iter()
        .filter_map(|r| match r.data() {
            RData::SRV(srv) => Some(srv.target().to_lowercase()),
            _ => None,
        })
        .filter(|t| seen.insert(t.clone()))
        .filter_map(|t| addresses.get(&t).cloned())
        .collect()
}

/// Keeps in ADDITIONAL the address records of the SRV targets still answered (one per
/// target); without SRV answers nothing of it is kept once a reply was cut.
fn sync_additional(reply: &mut Reply) {
    let addresses = first_addresses(&reply.additional);
    reply.additional = additional_for(&reply.answers, &addresses);
}

/// The encoded size of `reply` as an answer to `query`.
fn size(reply: &Reply, query: &Query, edns: Option<u16>) -> usize {
    let mut m = Message::new();
    m.add_query(query.clone());
    m.add_answers(reply.answers.iter().cloned());
    m.add_name_servers(reply.authority.iter().cloned());
    m.add_additionals(reply.additional.iter().cloned());
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().map_or(usize::MAX, |v| v.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, SRV};
    use hickory_proto::rr::{Name, Record, RecordType};
    use std::str::FromStr;

    fn srv_reply(n: usize) -> Reply {
        let mut r = Reply::default();
        for i in 0..n {
            let target = Name::from_str(&format!("node-{i}.node.dc1.consul.")).unwrap();
            r.answers.push(Record::from_rdata(
                Name::from_str("web.service.consul.").unwrap(),
                0,
                RData::SRV(SRV::new(1, 1, 8000 + i as u16, target.clone())),
            ));
            r.additional.push(Record::from_rdata(
                target,
                0,
                RData::A(A::new(10, 0, (i / 250) as u8, (i % 250) as u8)),
            ));
        }
        r
    }

    fn query() -> Query {
        Query::query(
            Name::from_str("web.service.consul.").unwrap(),
            RecordType::SRV,
        )
    }

    #[test]
    fn udp_without_edns_keeps_the_answer_limit_and_their_addresses() {
        let mut r = srv_reply(20);
        assert!(udp(&mut r, &query(), None, 3));
        assert_eq!(r.answers.len(), 3);
        assert_eq!(r.additional.len(), 3);
        let mut small = srv_reply(2);
        assert!(!udp(&mut small, &query(), None, 3));
        assert_eq!(small.answers.len(), 2);
    }

    #[test]
    fn edns_and_tcp_fit_by_size() {
        let mut r = srv_reply(200);
        assert!(udp(&mut r, &query(), Some(1232), 3));
        assert!(r.answers.len() > 3 && r.answers.len() < 200);
        assert!(size(&r, &query(), Some(1232)) <= 1232 - 8);
        assert_eq!(r.additional.len(), r.answers.len());
        // As many as fit: one more does not.
        let kept = r.answers.len();
        let mut more = srv_reply(200);
        more.answers.truncate(kept + 1);
        sync_additional(&mut more);
        assert!(
            size(&more, &query(), Some(1232)) > 1232 - 8,
            "{kept} is not the most that fit"
        );
        for edns in [600u16, 2000, 4096, 9000] {
            let mut r = srv_reply(300);
            udp(&mut r, &query(), Some(edns), 3);
            let kept = r.answers.len();
            assert!(size(&r, &query(), Some(edns)) <= usize::from(edns) - 8);
            let mut more = srv_reply(300);
            more.answers.truncate(kept + 1);
            sync_additional(&mut more);
            assert!(
                kept == 300 || size(&more, &query(), Some(edns)) > usize::from(edns) - 8,
                "{edns}: {kept}"
            );
        }
        let mut all = srv_reply(200);
        assert!(!tcp(&mut all, &query(), None));
        assert_eq!(all.answers.len(), 200);
    }
}
