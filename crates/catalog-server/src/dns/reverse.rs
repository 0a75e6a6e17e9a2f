//! Reverse lookups: `<d>.<c>.<b>.<a>.in-addr.arpa.` and `<32 nibbles>.ip6.arpa.` asked for PTR
//! are answered, as Consul does, with the nodes at that address (`<node>.node.<dc>.<domain>.`)
//! and the services registered with that address of their own
//! (`<service>.service.<dc>.<domain>.`) that the agent's DNS token may read.

use super::answer::{not_found, Reply, Source};
use ::acl::{Access, Resource};
use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The address a reverse name (lower-case, with its trailing dot) stands for.
pub fn parse(qname: &str) -> Option<IpAddr> {
    if let Some(rest) = qname.strip_suffix(".in-addr.arpa.") {
        let octets: Vec<u8> = rest
            .split('.')
            .map(|l| l.parse::<u8>().ok())
            .collect::<Option<Vec<u8>>>()?;
        let [d, c, b, a] = octets[..] else {
            return None;
        };
        return Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
    }
    let rest = qname.strip_suffix(".ip6.arpa.")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|l| {
            let mut c = l.chars();
            match (c.next(), c.next()) {
                (Some(h), None) => h.to_digit(16).map(|d| d as u8),
                _ => None,
            }
        })
        .collect::<Option<Vec<u8>>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        // Reversed nibbles: the last label is the high nibble of the first byte.
        bytes[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

/// The PTR answer for `ip`, names under `domain`.
pub fn answer(src: &Source, qname: &str, qtype: RecordType, ip: IpAddr, domain: &str) -> Reply {
    let cfg = src.cfg;
    let dc = src.dc;
    let Some(authz) = src.authz.as_ref() else {
        return not_found(cfg, domain);
    };
    let addr = ip.to_string();
    let targets: Vec<String> = src.catalog.read(|s| {
        let mut out: Vec<String> = s
            .q_nodes(&[])
            .value
            .into_iter()
            .filter(|n| n.address == addr && authz.allows(Resource::Node, &n.node, Access::Read))
            .map(|n| format!("{}.node.{dc}.{domain}", n.node))
            .collect();
        for name in s.q_services(&[]).value.keys() {
            let here = s.instances(name).iter().any(|(n, svc)| {
                svc.address == addr
                    && authz.allows(Resource::Service, &svc.name, Access::Read)
                    && authz.allows(Resource::Node, &n.node, Access::Read)
            });
            if here {
                out.push(format!("{name}.service.{dc}.{domain}"));
            }
        }
        out
    });
    if targets.is_empty() {
        return not_found(cfg, domain);
    }
    let mut r = Reply::default();
    if matches!(qtype, RecordType::PTR | RecordType::ANY) {
        let owner = Name::from_ascii(qname).unwrap_or_else(|_| Name::root());
        let ttl = cfg.node_ttl.as_secs() as u32;
        for t in targets {
            if let Ok(target) = Name::from_ascii(&t) {
                r.answers.push(Record::from_rdata(
                    owner.clone(),
                    ttl,
                    RData::PTR(PTR(target)),
                ));
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            parse("9.0.0.10.in-addr.arpa."),
            Some(IpAddr::from([10, 0, 0, 9]))
        );
        assert_eq!(parse("9.0.0.in-addr.arpa."), None);
        assert_eq!(parse("x.0.0.10.in-addr.arpa."), None);
        let v6: Ipv6Addr = "2001:db8::567:89ab".parse().unwrap();
        let name = "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
        assert_eq!(parse(name), Some(IpAddr::V6(v6)));
        assert_eq!(parse("example.com."), None);
    }
}
