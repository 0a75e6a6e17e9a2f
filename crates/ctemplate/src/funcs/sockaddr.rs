//! `sockaddr "..."`: go-sockaddr's template language (`github.com/hashicorp/go-sockaddr/
//! template`), which upstream evaluates as `{{ <args joined by spaces> }}` on the host's
//! interface addresses. The pipeline runs on this crate's Go template engine with go-sockaddr's
//! functions over the addresses `getifaddrs(3)` reports (through `nix`), in Go's order
//! (interfaces by index, each one's IPv4 then IPv6 addresses); the default interface is the
//! one `/proc/net/route` routes `0.0.0.0/0` through (go-sockaddr asks `ip route`).
//!
//! Built: the sources (`GetAllInterfaces`, `GetDefaultInterfaces`, `GetPrivateInterfaces`,
//! `GetPublicInterfaces`), the helpers (`GetPrivateIP(s)`, `GetPublicIP(s)`,
//! `GetInterfaceIP(s)`), `include`/`exclude` by `address`, `flag(s)`, `name`, `network`,
//! `rfc(s)`, `size`, `type`; `sort` by `address`, `default`, `name`, `private`, `size`, `type`
//! (each `+`/`-`); `limit`, `offset`, `unique`, `join`, `attr` with the interface and IP
//! attributes. Anything else (`math`, `port` selectors, unix sockets) is refused by name.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use gotemplate::{FuncError, FuncMap, Object, Options, Template, Value};
use regex::Regex;

use super::{strings_of, Env};

/// One address of one interface (go-sockaddr's `IfAddr`).
#[derive(Clone, Debug)]
struct IfAddr {
    ip: IpAddr,
    bits: u8,
    name: String,
    index: u32,
    flags: Flags,
}

#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    up: bool,
    broadcast: bool,
    loopback: bool,
    point_to_point: bool,
    multicast: bool,
    running: bool,
}

impl Flags {
    /// Go's `net.Flags.String()`.
    fn text(self) -> String {
        let mut parts = Vec::new();
        for (on, name) in [
            (self.up, "up"),
            (self.broadcast, "broadcast"),
            (self.loopback, "loopback"),
            (self.point_to_point, "pointtopoint"),
            (self.multicast, "multicast"),
            (self.running, "running"),
        ] {
            if on {
                parts.push(name);
            }
        }
        if parts.is_empty() {
            "0".into()
        } else {
            parts.join("|")
        }
    }
}

/// A list of addresses as the template sees it.
#[derive(Debug)]
struct IfAddrs(Vec<IfAddr>);

impl Object for IfAddrs {
    fn type_name(&self) -> &str {
        "sockaddr.IfAddrs"
    }
    fn format_v(&self) -> String {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|a| format!("{{{} {}}}", a.string(), a.name))
            .collect();
        format!("[{}]", items.join(" "))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn value(v: Vec<IfAddr>) -> Value {
    Value::Object(Arc::new(IfAddrs(v)))
}

fn addrs(v: &Value) -> Result<Vec<IfAddr>, FuncError> {
    match v {
        Value::Object(o) => o
            .as_any()
            .downcast_ref::<IfAddrs>()
            .map(|l| l.0.clone())
            .ok_or_else(|| {
                FuncError::call(format!("expected sockaddr.IfAddrs, got {}", o.type_name()))
            }),
        other => Err(FuncError::call(format!(
            "expected sockaddr.IfAddrs, got {}",
            other.type_name()
        ))),
    }
}

impl IfAddr {
    fn is_v4(&self) -> bool {
        self.ip.is_ipv4()
    }

    fn width(&self) -> u8 {
        if self.is_v4() {
            32
        } else {
            128
        }
    }

    fn as_u128(ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(v) => u128::from(u32::from(v)),
            IpAddr::V6(v) => u128::from(v),
        }
    }

    fn mask(&self) -> u128 {
        let w = u32::from(self.width());
        let ones = u32::from(self.bits);
        let all: u128 = if w == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        if ones == 0 {
            0
        } else if ones >= w {
            all
        } else {
            all & !(all >> ones)
        }
    }

    fn network(&self) -> u128 {
        Self::as_u128(self.ip) & self.mask()
    }

    fn last(&self) -> u128 {
        let all: u128 = if self.is_v4() {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        self.network() | (all & !self.mask())
    }

    fn ip_of(&self, n: u128) -> IpAddr {
        if self.is_v4() {
            IpAddr::V4(std::net::Ipv4Addr::from(n as u32))
        } else {
            IpAddr::V6(std::net::Ipv6Addr::from(n))
        }
    }

    /// go-sockaddr's `String()`: the address, with `/bits` unless a host mask.
    fn string(&self) -> String {
        if self.bits == self.width() {
            self.ip.to_string()
        } else {
            format!("{}/{}", self.ip, self.bits)
        }
    }

    /// `ContainsNetwork`: `other`'s whole network inside this one.
    fn contains(&self, other: &IfAddr) -> bool {
        self.is_v4() == other.is_v4()
            && other.bits >= self.bits
            && other.network() & self.mask() == self.network()
    }

    fn attr(&self, name: &str) -> Result<String, FuncError> {
        let n = name.to_lowercase();
        Ok(match n.as_str() {
            "flags" => self.flags.text(),
            "name" => self.name.clone(),
            "address" => self.ip.to_string(),
            "host" => self.ip.to_string(),
            "port" => "0".into(),
            "mask_bits" => self.bits.to_string(),
            "network" => self.ip_of(self.network()).to_string(),
            "netmask" => self.ip_of(self.mask()).to_string(),
            "first_usable" => {
                let first = if self.is_v4() && self.bits < 31 {
                    self.network() + 1
                } else {
                    self.network()
                };
                self.ip_of(first).to_string()
            }
            "last_usable" => {
                let last = if self.is_v4() && self.bits < 31 {
                    self.last() - 1
                } else {
                    self.last()
                };
                self.ip_of(last).to_string()
            }
            "broadcast" if self.is_v4() => self.ip_of(self.last()).to_string(),
            "size" if self.is_v4() => (1u64 << (32 - u32::from(self.bits))).to_string(),
            "uint32" if self.is_v4() => Self::as_u128(self.ip).to_string(),
            "octets" => match self.ip {
                IpAddr::V4(v) => v
                    .octets()
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                IpAddr::V6(v) => v
                    .octets()
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            },
            "string" => self.string(),
            "type" => if self.is_v4() { "IPv4" } else { "IPv6" }.into(),
            _ => return Err(FuncError::call(format!("unsupported attribute name {n:?}"))),
        })
    }
}

// ---- the host's interfaces ----

fn sys_u32(name: &str, file: &str) -> u32 {
    std::fs::read_to_string(format!("/sys/class/net/{name}/{file}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn all_interfaces() -> Result<Vec<IfAddr>, FuncError> {
    use nix::net::if_::InterfaceFlags as F;
    let list = nix::ifaddrs::getifaddrs()
        .map_err(|e| FuncError::call(format!("unable to query interface addresses: {e}")))?;
    let mut out = Vec::new();
    for ifa in list {
        let Some(addr) = ifa.address else { continue };
        let (ip, mask) = if let Some(v4) = addr.as_sockaddr_in() {
            let mask = ifa
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in().map(|m| u32::from(m.ip()).count_ones()))
                .unwrap_or(32);
            (IpAddr::V4(v4.ip()), mask)
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            let mask = ifa
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in6().map(|m| u128::from(m.ip()).count_ones()))
                .unwrap_or(128);
            (IpAddr::V6(v6.ip()), mask)
        } else {
            continue;
        };
        let f = ifa.flags;
        out.push(IfAddr {
            ip,
            bits: mask as u8,
            index: sys_u32(&ifa.interface_name, "ifindex"),
            name: ifa.interface_name,
            flags: Flags {
                up: f.contains(F::IFF_UP),
                broadcast: f.contains(F::IFF_BROADCAST),
                loopback: f.contains(F::IFF_LOOPBACK),
                point_to_point: f.contains(F::IFF_POINTOPOINT),
                multicast: f.contains(F::IFF_MULTICAST),
                running: f.contains(F::IFF_RUNNING),
            },
        });
    }
    // Go's net.Interfaces order (by index), each interface's IPv4 addresses before IPv6.
    out.sort_by_key(|a| (a.index, !a.is_v4()));
    Ok(out)
}

/// The interface `/proc/net/route` sends the default route through.
fn default_interface() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 7 && f[1] == "00000000" && f[7] == "00000000").then(|| f[0].to_string())
    })
}

// ---- RFC tables (go-sockaddr's rfc.go) ----

const FORWARDING_BLACKLIST: u32 = 4_294_967_295;

fn rfc_networks(rfc: u32) -> Option<&'static [&'static str]> {
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

fn parse_net(s: &str) -> Option<IfAddr> {
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

fn is_rfc(rfc: u32, a: &IfAddr) -> bool {
    rfc_networks(rfc)
        .unwrap_or(&[])
        .iter()
        .filter_map(|n| parse_net(n))
        .any(|n| n.contains(a))
}

// ---- filters ----

type Split = (Vec<IfAddr>, Vec<IfAddr>);

fn by_regex(re: &str, list: Vec<IfAddr>, key: fn(&IfAddr) -> String) -> Result<Split, FuncError> {
    let re = Regex::new(re)
        .map_err(|e| FuncError::call(format!("Unable to compile address RE {re:?}: {e}")))?;
    Ok(list.into_iter().partition(|a| re.is_match(&key(a))))
}

fn by_flag(flags: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
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

fn by_type(types: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
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

fn by_rfcs(rfcs: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
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

fn by_size(size: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
    let n: u8 = size
        .parse()
        .map_err(|e| FuncError::call(format!("invalid exclude size argument ({size:?}): {e}")))?;
    Ok(list.into_iter().partition(|a| a.bits == n))
}

fn by_network(nets: &str, list: Vec<IfAddr>) -> Result<Split, FuncError> {
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

fn select(selector: &str, param: &str, list: Vec<IfAddr>, verb: &str) -> Result<Split, FuncError> {
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

type Cmp = Box<dyn Fn(&IfAddr, &IfAddr) -> Ordering>;

fn type_rank(a: &IfAddr) -> u8 {
    if a.is_v4() {
        1
    } else {
        2
    }
}

fn sorter(clause: &str, default_if: &Option<String>) -> Result<Cmp, FuncError> {
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

fn sort_by(list: &mut [IfAddr], cmps: &[Cmp]) {
    list.sort_by(|a, b| {
        cmps.iter()
            .map(|c| c(a, b))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
}

// ---- the sources and helpers ----

struct Host {
    all: Vec<IfAddr>,
    default_if: Option<String>,
}

impl Host {
    fn private_or_public(&self, private: bool) -> Result<Vec<IfAddr>, FuncError> {
        let (list, _) = by_flag("forwardable", self.all.clone())?;
        let (mut list, _) = by_flag("up", list)?;
        let cmps = [
            sorter("default", &self.default_if)?,
            sorter("type", &self.default_if)?,
            sorter("size", &self.default_if)?,
        ];
        sort_by(&mut list, &cmps);
        let (rfc, other) = by_rfcs("6890", list)?;
        Ok(if private { rfc } else { other })
    }

    fn ips(&self, private: bool) -> Result<String, FuncError> {
        let mut list = self.all.clone();
        let cmps = [
            sorter("type", &self.default_if)?,
            sorter("size", &self.default_if)?,
        ];
        sort_by(&mut list, &cmps);
        let (rfc, other) = by_rfcs("6890", list)?;
        let list = if private { rfc } else { other };
        let (_, list) = by_rfcs(&FORWARDING_BLACKLIST.to_string(), list)?;
        Ok(list
            .iter()
            .map(|a| a.ip.to_string())
            .collect::<Vec<_>>()
            .join(" "))
    }

    fn interface_ips(&self, name_re: &str) -> Result<Vec<IfAddr>, FuncError> {
        let (list, _) = by_regex(name_re, self.all.clone(), |a| a.name.clone())?;
        let (mut list, _) = by_flag("forwardable", list)?;
        let cmps = [
            sorter("type", &self.default_if)?,
            sorter("size", &self.default_if)?,
        ];
        sort_by(&mut list, &cmps);
        Ok(list)
    }
}

fn str_arg(v: &Value, what: &str) -> Result<String, FuncError> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        other => Err(FuncError::call(format!(
            "wrong type for value; expected {what}; got {}",
            other.type_name()
        ))),
    }
}

fn int_arg(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(FuncError::call(format!(
            "wrong type for value; expected int; got {}",
            other.type_name()
        ))),
    }
}

fn arity(a: &[Value], n: usize) -> Result<(), FuncError> {
    if a.len() != n {
        return Err(FuncError::arity(n, a.len()));
    }
    Ok(())
}

fn func_map(host: Arc<Host>) -> FuncMap {
    let mut m = FuncMap::new();
    let h = host.clone();
    m.insert("GetAllInterfaces", move |a| {
        arity(&a, 0)?;
        Ok(value(h.all.clone()))
    });
    let h = host.clone();
    m.insert("GetDefaultInterfaces", move |a| {
        arity(&a, 0)?;
        let Some(d) = &h.default_if else {
            return Err(FuncError::call("no default interface found"));
        };
        Ok(value(
            h.all.iter().filter(|x| &x.name == d).cloned().collect(),
        ))
    });
    let h = host.clone();
    m.insert("GetPrivateInterfaces", move |a| {
        arity(&a, 0)?;
        h.private_or_public(true).map(value)
    });
    let h = host.clone();
    m.insert("GetPublicInterfaces", move |a| {
        arity(&a, 0)?;
        h.private_or_public(false).map(value)
    });
    let h = host.clone();
    m.insert("GetPrivateIP", move |a| {
        arity(&a, 0)?;
        let l = h.private_or_public(true)?;
        Ok(Value::str(
            l.first().map(|x| x.ip.to_string()).unwrap_or_default(),
        ))
    });
    let h = host.clone();
    m.insert("GetPublicIP", move |a| {
        arity(&a, 0)?;
        let l = h.private_or_public(false)?;
        Ok(Value::str(
            l.first().map(|x| x.ip.to_string()).unwrap_or_default(),
        ))
    });
    let h = host.clone();
    m.insert("GetPrivateIPs", move |a| {
        arity(&a, 0)?;
        h.ips(true).map(Value::str)
    });
    let h = host.clone();
    m.insert("GetPublicIPs", move |a| {
        arity(&a, 0)?;
        h.ips(false).map(Value::str)
    });
    let h = host.clone();
    m.insert("GetInterfaceIP", move |a| {
        arity(&a, 1)?;
        let l = h.interface_ips(&str_arg(&a[0], "string")?)?;
        Ok(Value::str(
            l.first().map(|x| x.ip.to_string()).unwrap_or_default(),
        ))
    });
    let h = host.clone();
    m.insert("GetInterfaceIPs", move |a| {
        arity(&a, 1)?;
        let l = h.interface_ips(&str_arg(&a[0], "string")?)?;
        Ok(Value::str(
            l.iter()
                .map(|x| x.ip.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        ))
    });
    m.insert("include", |a| {
        arity(&a, 3)?;
        let (s, p) = (str_arg(&a[0], "string")?, str_arg(&a[1], "string")?);
        select(&s, &p, addrs(&a[2])?, "include").map(|(inc, _)| value(inc))
    });
    m.insert("exclude", |a| {
        arity(&a, 3)?;
        let (s, p) = (str_arg(&a[0], "string")?, str_arg(&a[1], "string")?);
        select(&s, &p, addrs(&a[2])?, "exclude").map(|(_, exc)| value(exc))
    });
    let h = host.clone();
    m.insert("sort", move |a| {
        arity(&a, 2)?;
        let spec = str_arg(&a[0], "string")?;
        let cmps: Vec<Cmp> = spec
            .split(',')
            .map(|c| sorter(c, &h.default_if))
            .collect::<Result<_, _>>()?;
        let mut list = addrs(&a[1])?;
        sort_by(&mut list, &cmps);
        Ok(value(list))
    });
    m.insert("limit", |a| {
        arity(&a, 2)?;
        let n = int_arg(&a[0])?.max(0) as usize;
        let mut list = addrs(&a[1])?;
        list.truncate(n);
        Ok(value(list))
    });
    m.insert("offset", |a| {
        arity(&a, 2)?;
        let off = int_arg(&a[0])?;
        let list = addrs(&a[1])?;
        let n = off.unsigned_abs() as usize;
        if n > list.len() {
            return Err(FuncError::call(format!(
                "unable to seek past the end of the interface array: offset ({n}) exceeds the number of interfaces ({})",
                list.len()
            )));
        }
        Ok(value(if off < 0 {
            list[list.len() - n..].to_vec()
        } else {
            list[n..].to_vec()
        }))
    });
    m.insert("unique", |a| {
        arity(&a, 2)?;
        let attr = str_arg(&a[0], "string")?.to_lowercase();
        let mut out: Vec<IfAddr> = Vec::new();
        let mut last = String::new();
        for x in addrs(&a[1])? {
            let key = match attr.as_str() {
                "address" => x.string(),
                "name" => x.name.clone(),
                _ => {
                    return Err(FuncError::call(format!(
                        "unsupported unique constraint {}",
                        gotemplate::gofmt::go_quote(&attr)
                    )))
                }
            };
            if last.is_empty() || last != key {
                last = key;
                out.push(x);
            }
        }
        Ok(value(out))
    });
    m.insert("join", |a| {
        arity(&a, 3)?;
        let (attr, sep) = (str_arg(&a[0], "string")?, str_arg(&a[1], "string")?);
        let parts: Vec<String> = addrs(&a[2])?
            .iter()
            .map(|x| x.attr(&attr))
            .collect::<Result<_, _>>()?;
        Ok(Value::str(parts.join(&sep)))
    });
    m.insert("attr", |a| {
        arity(&a, 2)?;
        let attr = str_arg(&a[0], "string")?;
        match addrs(&a[1])?.first() {
            Some(x) => x.attr(&attr).map(Value::str),
            None => Ok(Value::str("")),
        }
    });
    m
}

/// Names go-sockaddr's template knows that this one does not build.
const REFUSED: &[&str] = &["math"];

/// `sockaddr args...`.
pub(super) fn sockaddr(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    let input = format!("{{{{ {} }}}}", strings_of(&args)?.join(" "));
    let all = all_interfaces()?;
    let dot = value(all.clone());
    let host = Arc::new(Host {
        all,
        default_if: default_interface(),
    });
    let mut funcs = func_map(host);
    let known = |name: &str| gotemplate::Funcs::has(&funcs, name) || REFUSED.contains(&name);
    let options = Options {
        error_on_missing_key: true,
        ..Options::default()
    };
    let tmpl = Template::parse("sockaddr.Parse", &input, &options, &known)
        .map_err(|e| FuncError::call(format!("unable to parse template {input:?}: {e}")))?;
    for name in REFUSED {
        funcs.insert(*name, move |_| {
            Err(FuncError::call(format!(
                "the sockaddr function {name:?} is not supported by this consul-template"
            )))
        });
    }
    let out = tmpl
        .execute(&dot, &mut funcs)
        .map_err(|e| FuncError::call(format!("unable to execute sockaddr input {input:?}: {e}")))?;
    Ok(Value::str(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str, name: &str, up: bool) -> IfAddr {
        let mut x = parse_net(s).unwrap();
        x.name = name.into();
        x.flags.up = up;
        x
    }

    #[test]
    fn private_selection_as_go_sockaddr() {
        let host = Host {
            all: vec![
                a("127.0.0.1/8", "lo", true),
                a("10.1.2.3/24", "eth0", true),
                a("203.0.113.9/24", "eth1", true),
                a("192.168.1.5/16", "eth2", false),
                a("fe80::1/64", "eth0", true),
            ],
            default_if: Some("eth0".into()),
        };
        let private = host.private_or_public(true).unwrap();
        assert_eq!(
            private.iter().map(IfAddr::string).collect::<Vec<_>>(),
            ["10.1.2.3/24"]
        );
        let public = host.private_or_public(false).unwrap();
        assert!(public.is_empty(), "{public:?}");
        // Sorted by type, then the larger network (/16) first.
        assert_eq!(host.ips(true).unwrap(), "192.168.1.5 10.1.2.3");
    }
}
