//! go-sockaddr's `IfAddr`: one address of one interface with the attributes `attr` and
//! `join` read, and the host's addresses as `getifaddrs(3)` reports them (through `nix`) in
//! Go's order, with the default interface from `/proc/net/route`.

use std::net::IpAddr;
use std::sync::Arc;

use gotemplate::{FuncError, Object, Value};

#[derive(Clone, Debug)]
pub(super) struct IfAddr {
    pub(super) ip: IpAddr,
    pub(super) bits: u8,
    pub(super) name: String,
    pub(super) index: u32,
    pub(super) flags: Flags,
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Flags {
    pub(super) up: bool,
    pub(super) broadcast: bool,
    pub(super) loopback: bool,
    pub(super) point_to_point: bool,
    pub(super) multicast: bool,
    pub(super) running: bool,
}

impl Flags {
    /// Go's `net.Flags.String()`.
    pub(super) fn text(self) -> String {
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
pub(super) struct IfAddrs(pub(super) Vec<IfAddr>);

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

pub(super) fn value(v: Vec<IfAddr>) -> Value {
    Value::Object(Arc::new(IfAddrs(v)))
}

pub(super) fn addrs(v: &Value) -> Result<Vec<IfAddr>, FuncError> {
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
    pub(super) fn is_v4(&self) -> bool {
        self.ip.is_ipv4()
    }

    pub(super) fn width(&self) -> u8 {
        if self.is_v4() {
            32
        } else {
            128
        }
    }

    pub(super) fn as_u128(ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(v) => u128::from(u32::from(v)),
            IpAddr::V6(v) => u128::from(v),
        }
    }

    pub(super) fn mask(&self) -> u128 {
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

    pub(super) fn network(&self) -> u128 {
        Self::as_u128(self.ip) & self.mask()
    }

    pub(super) fn last(&self) -> u128 {
        let all: u128 = if self.is_v4() {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        self.network() | (all & !self.mask())
    }

    pub(super) fn ip_of(&self, n: u128) -> IpAddr {
        if self.is_v4() {
            IpAddr::V4(std::net::Ipv4Addr::from(n as u32))
        } else {
            IpAddr::V6(std::net::Ipv6Addr::from(n))
        }
    }

    /// go-sockaddr's `String()`: the address, with `/bits` unless a host mask.
    pub(super) fn string(&self) -> String {
        if self.bits == self.width() {
            self.ip.to_string()
        } else {
            format!("{}/{}", self.ip, self.bits)
        }
    }

    /// `ContainsNetwork`: `other`'s whole network inside this one.
    pub(super) fn contains(&self, other: &IfAddr) -> bool {
        self.is_v4() == other.is_v4()
            && other.bits >= self.bits
            && other.network() & self.mask() == self.network()
    }

    pub(super) fn attr(&self, name: &str) -> Result<String, FuncError> {
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

pub(super) fn sys_u32(name: &str, file: &str) -> u32 {
    std::fs::read_to_string(format!("/sys/class/net/{name}/{file}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

pub(super) fn all_interfaces() -> Result<Vec<IfAddr>, FuncError> {
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
pub(super) fn default_interface() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 7 && f[1] == "00000000" && f[7] == "00000000").then(|| f[0].to_string())
    })
}
