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

mod ifaddr;
mod select;

use std::sync::Arc;

use gotemplate::{FuncError, FuncMap, Options, Template, Value};

use super::{strings_of, Env};
use ifaddr::{addrs, all_interfaces, default_interface, value, IfAddr};
use select::{by_flag, by_regex, by_rfcs, select, sort_by, sorter, Cmp, FORWARDING_BLACKLIST};

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
    use super::select::parse_net;
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
