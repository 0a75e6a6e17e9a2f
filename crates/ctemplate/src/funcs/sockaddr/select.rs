//! go-sockaddr's selection: its RFC tables (`rfc.go`), the `include`/`exclude` selectors and
//! the `sort` orders.

use std::cmp::Ordering;
use std::net::IpAddr;

use gotemplate::FuncError;
use regex::Regex;

use super::ifaddr::{Flags, IfAddr};

// ---- RFC tables (go-sockaddr's rfc.go) ----

pub(super) const FORWARDING_BLACKLIST: u32 = 4_294_967_295;

pub(super) fn rfc_networks(rfc: u32) -> Option<&'static [&'static str]> {
    Some(match rfc {
        919 => &["255.255.255.255/32"],
        1112 | 3171 => &["224.0.0.0/4"],
        1122 => &["0.0.0.0/8", "127.0.0.0/8"],
        1918 => &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        2544 => &["198.18.0.0/15"],
        3927 => &["169.254.0.0/16"],
        4193 => &["fc00::/7"],
        4291 => &[
            "::/128",
            "::1/128",
            "::/96",
            "::ffff:0:0/96",
            "fe80::/10",
            "fec0::/10",
            "ff00::/8",
        ],
        5735 => &[
            "192.0.2.0/24",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "198.18.0.0/15",
        ],
        5737 => &["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"],
        6598 => &["100.64.0.0/10"],
        6890 => &[
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.0.0/24",
            "192.0.0.0/29",
            "192.0.2.0/24",
            "192.88.99.0/24",
            "192.168.0.0/16",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "240.0.0.0/4",
            "255.255.255.255/32",
            "::1/128",
            "::/128",
            "64:ff9b::/96",
            "::ffff:0:0/96",
            "100::/64",
            "2001::/16",
            "2002::/16",
            "fc00::/7",
            "fe80::/10",
        ],
        FORWARDING_BLACKLIST => &[
            "0.0.0.0/8",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "192.0.0.0/24",
            "192.0.2.0/24",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "240.0.0.0/4",
            "255.255.255.255/32",
            "::1/128",
            "::/128",
            "::ffff:0:0/96",
            "2001:db8::/32",
            "2001:10::/28",
            "fe80::/10",
        ],
        _ => return None,
    })
}

pub(super) fn parse_net(s: &str) -> Option<IfAddr> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, bits)) => (ip.parse::<IpAddr>().ok()?, Some(bits.parse::<u8>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let width = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(width);
    (bits <= width).then(|| IfAddr {
        ip,
        bits,
        name: String::new(),
        index: 0,
        flags: Flags::default(),
    })
}

pub(super) fn is_rfc(rfc: u32, a: &IfAddr) -> bool {
    rfc_networks(rfc)
        .unwrap_or(&[])
        .iter()
        .filter_map(|n| parse_net(n))
        .any(|n| n.contains(a))
}

// ---- filters ----

pub(super) type Split = (Vec<IfAddr>, Vec<IfAddr>);

pub(super) fn by_regex(
    re: &str,
    list: Vec<IfAddr>,
    key: fn(&IfAddr) -> String,
) -> Result<Split, FuncError> {
    let re = Regex::new(re)
        .map_err(|e| FuncError::call(format!("Unable to compile address RE {re:?}: {e}")))?;
    Ok(list.into_iter().partition(|a| re.is_match(&key(a))))
}

pub(super) fn by_flag(flags: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
    let mut want = Flags::default();
    let (mut check_flags, mut forwardable, mut loopback_ip, mut multicast_ip) =
        (false, false, false, false);
    let (mut link_local, mut global, mut unspecified) = (false, false, false);
    let (mut if_local_mc, mut link_local_mc) = (false, false);
    for f in flags.to_lowercase().split('|') {
        match f {
            "broadcast" => (check_flags, want.broadcast) = (true, true),
            "down" => check_flags = true,
            "forwardable" => forwardable = true,
            "global unicast" => global = true,
            "interface-local multicast" => if_local_mc = true,
            "link-local multicast" => link_local_mc = true,
            "link-local unicast" => link_local = true,
            "loopback" => (check_flags, want.loopback, loopback_ip) = (true, true, true),
            "multicast" => (check_flags, want.multicast, multicast_ip) = (true, true, true),
            "point-to-point" => (check_flags, want.point_to_point) = (true, true),
            "unspecified" => unspecified = true,
            "up" => (check_flags, want.up) = (true, true),
            other => {
                return Err(FuncError::call(format!(
                    "unknown interface flag: {}",
                    gotemplate::gofmt::go_quote(other)
                )))
            }
        }
    }
    Ok(list.into_iter().partition(|a| {
        let f = a.flags;
        let flags_ok = check_flags
            && (!want.up || f.up)
            && (!want.broadcast || f.broadcast)
            && (!want.loopback || f.loopback)
            && (!want.point_to_point || f.point_to_point)
            && (!want.multicast || f.multicast);
        let v6_link_local = matches!(a.ip, IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80);
        let v4_link_local = matches!(a.ip, IpAddr::V4(v) if v.is_link_local());
        flags_ok
            || (loopback_ip && a.ip.is_loopback())
            || (multicast_ip && a.ip.is_multicast())
            || (unspecified && a.ip.is_unspecified())
            || (if_local_mc
                && matches!(a.ip, IpAddr::V6(v) if (v.segments()[0] & 0xff0f) == 0xff01))
            || (link_local_mc
                && match a.ip {
                    IpAddr::V4(v) => v.octets()[..3] == [224, 0, 0],
                    IpAddr::V6(v) => (v.segments()[0] & 0xff0f) == 0xff02,
                })
            || (link_local && (v4_link_local || v6_link_local))
            || (global
                && !(a.ip.is_loopback()
                    || a.ip.is_multicast()
                    || a.ip.is_unspecified()
                    || v4_link_local
                    || v6_link_local
                    || matches!(a.ip, IpAddr::V4(v) if v.is_broadcast())))
            || (forwardable && !is_rfc(FORWARDING_BLACKLIST, a))
    }))
}

pub(super) fn by_type(types: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
    let wanted: Vec<String> = types.to_lowercase().split('|').map(String::from).collect();
    for t in &wanted {
        if !matches!(t.as_str(), "ip" | "ipv4" | "ipv6" | "unix") {
            return Err(FuncError::call(format!("unsupported type {t:?} {types:?}")));
        }
    }
    Ok(list.into_iter().partition(|a| {
        wanted.iter().any(|t| match t.as_str() {
            "ip" => true,
            "ipv4" => a.is_v4(),
            "ipv6" => !a.is_v4(),
            _ => false,
        })
    }))
}

pub(super) fn by_rfcs(rfcs: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
    let mut nums = Vec::new();
    for r in rfcs.split('|') {
        let n: u32 = r
            .parse()
            .map_err(|_| FuncError::call(format!("unable to parse RFC number {r:?}")))?;
        if rfc_networks(n).is_none() {
            return Err(FuncError::call(format!("unsupported RFC {n}")));
        }
        nums.push(n);
    }
    Ok(list
        .into_iter()
        .partition(|a| nums.iter().any(|n| is_rfc(*n, a))))
}

pub(super) fn by_size(size: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
    let n: u8 = size
        .parse()
        .map_err(|e| FuncError::call(format!("invalid exclude size argument ({size:?}): {e}")))?;
    Ok(list.into_iter().partition(|a| a.bits == n))
}

pub(super) fn by_network(nets: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
    let (mut inc, mut exc) = (Vec::new(), Vec::new());
    for n in nets.split('|') {
        let net = parse_net(n)
            .ok_or_else(|| FuncError::call(format!("unable to create an IP address from {n:?}")))?;
        for a in &list {
            if net.contains(a) {
                inc.push(a.clone());
            } else {
                exc.push(a.clone());
            }
        }
    }
    Ok((inc, exc))
}

pub(super) fn select(
    selector: &str,
    param: &str,
    list: Vec<IfAddr>,
    verb: &str,
) -> Result<Split, FuncError> {
    match selector.to_lowercase().as_str() {
        "address" => by_regex(param, list, IfAddr::string),
        "flag" | "flags" => by_flag(param, list),
        "name" => by_regex(param, list, |a| a.name.clone()),
        "network" => by_network(param, list),
        "rfc" | "rfcs" => by_rfcs(param, list),
        "size" => by_size(param, list),
        "type" => by_type(param, list),
        "port" => Err(FuncError::call(
            "the \"port\" selector is not supported by this consul-template's sockaddr",
        )),
        _ => Err(FuncError::call(format!(
            "invalid {verb} selector {selector:?}"
        ))),
    }
}

// ---- sorting ----

pub(super) type Cmp = Box<dyn Fn(&IfAddr, &IfAddr) -> Ordering>;

pub(super) fn type_rank(a: &IfAddr) -> u8 {
    if a.is_v4() {
        1
    } else {
        2
    }
}

pub(super) fn sorter(clause: &str, default_if: &Option<String>) -> Result<Cmp, FuncError> {
    let c = clause.trim().to_lowercase();
    let (desc, key) = match c.strip_prefix('-') {
        Some(k) => (true, k.to_string()),
        None => (false, c.trim_start_matches('+').to_string()),
    };
    let def = default_if.clone();
    let asc: Cmp = match key.as_str() {
        "address" => Box::new(|a: &IfAddr, b: &IfAddr| {
            if a.is_v4() != b.is_v4() {
                Ordering::Equal
            } else {
                IfAddr::as_u128(a.ip).cmp(&IfAddr::as_u128(b.ip))
            }
        }),
        "default" => Box::new(move |a: &IfAddr, b: &IfAddr| {
            let d = def.as_deref();
            match (Some(a.name.as_str()) == d, Some(b.name.as_str()) == d) {
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => Ordering::Equal,
            }
        }),
        "name" => Box::new(|a: &IfAddr, b: &IfAddr| a.name.cmp(&b.name)),
        "private" => Box::new(|a: &IfAddr, b: &IfAddr| is_rfc(6890, b).cmp(&is_rfc(6890, a))),
        "size" => Box::new(|a: &IfAddr, b: &IfAddr| {
            if a.is_v4() != b.is_v4() {
                Ordering::Equal
            } else {
                a.bits.cmp(&b.bits)
            }
        }),
        "type" => Box::new(|a: &IfAddr, b: &IfAddr| type_rank(a).cmp(&type_rank(b))),
        _ => return Err(FuncError::call(format!("unknown sort type: {clause:?}"))),
    };
    Ok(if desc {
        Box::new(move |a: &IfAddr, b: &IfAddr| asc(b, a))
    } else {
        asc
    })
}

pub(super) fn sort_by(list: &mut [IfAddr], cmps: &[Cmp]) {
    list.sort_by(|a, b| {
        cmps.iter()
            .map(|c| c(a, b))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
}
