//! What a query name asks, in Consul's grammar under the domain (or the alternative domain):
//! `[<tag>.]<service>.service[.<dc>]`, RFC 2782 `_<service>._<tag|tcp>.service[.<dc>]`,
//! `<node>.node[.<dc>]`, `<hex-ip>.addr[.<dc>]`, `<query>.query[.<dc>]` and the domain itself. Names are compared
//! lower-cased; the datacenter may also be written `<dc>.dc`.

/// What a name under the domain asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// The domain itself.
    Apex,
    /// Instances of `service`, those with `tag` when given.
    Service {
        service: String,
        tag: Option<String>,
    },
    /// Node `node`.
    Node { node: String },
    /// Prepared query `query` (an ID or a name; a name may hold dots).
    Query { query: String },
    /// The address encoded in hexadecimal (8 digits IPv4, 32 IPv6).
    Addr { ip: std::net::IpAddr },
    /// A name of a known form in another datacenter.
    OtherDatacenter,
    /// Nothing this agent knows of.
    Unknown,
}

/// A query name read against the domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not under the domain nor the alternative domain.
    Outside,
    /// Under `domain` (the one the name used, to answer in), asking `asked`.
    Inside { domain: String, asked: Asked },
}

/// Reads `qname` (lower-case, with its trailing dot) against `domain` and `alt_domain` (both
/// lower-case with a trailing dot), for an agent in datacenter `dc`.
pub fn parse(qname: &str, domain: &str, alt_domain: Option<&str>, dc: &str) -> Parsed {
    let qname = if qname.ends_with('.') {
        qname.to_string()
    } else {
        format!("{qname}.")
    };
    // The longer domain first, so `a.consul.` wins over `consul.` when both are configured.
    let mut domains: Vec<&str> = std::iter::once(domain).chain(alt_domain).collect();
    domains.sort_by_key(|d| std::cmp::Reverse(d.len()));
    for d in domains {
        let rest = if qname == d {
            Some("")
        } else {
            qname
                .strip_suffix(d)
                .and_then(|r| r.strip_suffix('.'))
                .filter(|r| !r.is_empty())
        };
        if let Some(rest) = rest {
            return Parsed::Inside {
                domain: d.to_string(),
                asked: asked(rest, dc),
            };
        }
    }
    Parsed::Outside
}

/// What the labels before the domain (`rest`, without its trailing dot) ask.
fn asked(rest: &str, dc: &str) -> Asked {
    if rest.is_empty() {
        return Asked::Apex;
    }
    let labels: Vec<&str> = rest.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Asked::Unknown;
    }
    // The kind is the last of Consul's keywords; what follows it is the datacenter.
    let Some(at) = labels
        .iter()
        .rposition(|l| matches!(*l, "service" | "node" | "addr" | "query"))
    else {
        return Asked::Unknown;
    };
    let (before, kind, after) = (&labels[..at], labels[at], &labels[at + 1..]);
    let in_dc = match after {
        [] => true,
        [d] | [d, "dc"] => *d == dc,
        _ => return Asked::Unknown,
    };
    let what = match kind {
        "service" => service(before),
        "node" if !before.is_empty() => Asked::Node {
            node: before.join("."),
        },
        "query" if !before.is_empty() => Asked::Query {
            query: before.join("."),
        },
        "addr" => match before {
            [hex] => addr(hex).map_or(Asked::Unknown, |ip| Asked::Addr { ip }),
            _ => Asked::Unknown,
        },
        _ => Asked::Unknown,
    };
    match what {
        Asked::Unknown => Asked::Unknown,
        _ if !in_dc => Asked::OtherDatacenter,
        what => what,
    }
}

/// `<service>`, `<tag>.<service>` (the tag may hold dots) or RFC 2782's `_<service>._<tag>`
/// (`_tcp` meaning no tag).
fn service(labels: &[&str]) -> Asked {
    match labels {
        [] => Asked::Unknown,
        [s, t] if s.starts_with('_') && t.starts_with('_') => {
            let tag = &t[1..];
            Asked::Service {
                service: s[1..].to_string(),
                tag: (tag != "tcp").then(|| tag.to_string()),
            }
        }
        [.., s] => Asked::Service {
            service: s.to_string(),
            tag: (labels.len() > 1).then(|| labels[..labels.len() - 1].join(".")),
        },
    }
}

fn addr(hex: &str) -> Option<std::net::IpAddr> {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    match bytes.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(qname: &str, expected: Asked) {
        match parse(qname, "consul.", Some("alt.example."), "dc1") {
            Parsed::Inside { asked, .. } => assert_eq!(asked, expected, "{qname}"),
            Parsed::Outside => panic!("{qname}: outside"),
        }
    }

    fn svc(service: &str, tag: Option<&str>) -> Asked {
        Asked::Service {
            service: service.into(),
            tag: tag.map(Into::into),
        }
    }

    #[test]
    fn names_are_read_as_consul_reads_them() {
        check("consul.", Asked::Apex);
        check("web.service.consul.", svc("web", None));
        check("web.service.dc1.consul.", svc("web", None));
        check("web.service.dc1.dc.consul.", svc("web", None));
        check("web.service.alt.example.", svc("web", None));
        check("v1.web.service.consul.", svc("web", Some("v1")));
        check("a.b.web.service.consul.", svc("web", Some("a.b")));
        check("_web._tcp.service.consul.", svc("web", None));
        check("_web._v1.service.dc1.consul.", svc("web", Some("v1")));
        check("consul.service.consul.", svc("consul", None));
        check(
            "host.example.node.consul.",
            Asked::Node {
                node: "host.example".into(),
            },
        );
        check(
            "7f000001.addr.dc1.consul.",
            Asked::Addr {
                ip: [127, 0, 0, 1].into(),
            },
        );
        check(
            "geo-db.query.consul.",
            Asked::Query {
                query: "geo-db".into(),
            },
        );
        check(
            "a.b.query.dc1.consul.",
            Asked::Query {
                query: "a.b".into(),
            },
        );
        check("query.consul.", Asked::Unknown);
        check("q.query.dc2.consul.", Asked::OtherDatacenter);
        check("web.service.dc2.consul.", Asked::OtherDatacenter);
        check("n.node.dc2.consul.", Asked::OtherDatacenter);
        check("service.consul.", Asked::Unknown);
        check("web.nothing.consul.", Asked::Unknown);
        check("web.service.a.b.c.consul.", Asked::Unknown);
        check("zz.addr.consul.", Asked::Unknown);
        assert_eq!(
            parse("example.com.", "consul.", None, "dc1"),
            Parsed::Outside
        );
        assert_eq!(parse("notconsul.", "consul.", None, "dc1"), Parsed::Outside);
    }
}
