//! `consul members`: `GET /v1/agent/members?segment=_all` rendered with columnize, either the
//! standard nine columns or `-detailed` (all tags). `-status=<regex>` filters on the status
//! word; nothing left is exit 2 with no output.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use super::render::columnize_with;
use api_types::Member;
use clap::Parser;
use regex::Regex;
use std::cmp::Ordering;

const USAGE: &str =
    "Usage: consul members [options]\n\n  Outputs the members of a running Consul agent.";

#[derive(Parser, Debug)]
struct Flags {
    #[command(flatten)]
    http: HttpFlags,
    /// Additional information such as protocol versions will be shown.
    #[arg(long)]
    detailed: bool,
    /// If provided, output is filtered to only nodes matching the regular expression for status.
    #[arg(long, default_value = ".*")]
    status: String,
    /// If this is set, Consul will list the WAN members instead of the LAN members.
    #[arg(long)]
    wan: bool,
    /// (Enterprise-only) List members in the given segment.
    #[arg(long, help_heading = goflags::REFUSED)]
    segment: Option<String>,
    /// (Enterprise-only) Specifies the admin partition to query.
    #[arg(long, help_heading = goflags::REFUSED)]
    partition: Option<String>,
    /// Filter to use with the request.
    #[arg(long)]
    filter: Option<String>,
    args: Vec<String>,
}

/// Runs `consul members`.
pub fn run(args: &[String]) -> i32 {
    let flags: Flags = match goflags::parse("members", USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("Too many arguments (expected 0, got {})", flags.args.len());
        return 1;
    }
    let re = match Regex::new(&flags.status) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Failed to compile status regexp: {e}");
            return 1;
        }
    };
    let client = match client_or_exit(&flags.http) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let q = api_types::client::QueryOptions {
        filter: flags.filter.clone(),
        ..Default::default()
    };
    super::block_on(async move {
        match client.agent_members_with(flags.wan, &q).await {
            Ok((members, _)) => match render(members, flags.detailed, &re) {
                Some(out) => {
                    println!("{out}");
                    0
                }
                None => 2,
            },
            Err(e) => {
                eprintln!("Error retrieving members: {e}");
                1
            }
        }
    })
}

fn tag<'a>(m: &'a Member, k: &str) -> &'a str {
    m.tags.get(k).map(String::as_str).unwrap_or("")
}

/// Consul's `ByMemberNameAndSegment`: servers, default partition, segment, partition, name.
fn order(a: &Member, b: &Member) -> Ordering {
    let first = |m: &Member, k: &str, v: &str| tag(m, k) != v;
    first(a, "role", "consul")
        .cmp(&first(b, "role", "consul"))
        .then(first(a, "ap", "default").cmp(&first(b, "ap", "default")))
        .then(tag(a, "segment").cmp(tag(b, "segment")))
        .then(tag(a, "ap").cmp(tag(b, "ap")))
        .then(a.name.cmp(&b.name))
}

fn address(m: &Member) -> String {
    if m.addr.contains(':') {
        format!("[{}]:{}", m.addr, m.port)
    } else {
        format!("{}:{}", m.addr, m.port)
    }
}

/// The table `consul members` prints, or `None` when no member's status matches.
pub fn render(mut members: Vec<Member>, detailed: bool, status: &Regex) -> Option<String> {
    for m in &mut members {
        if tag(m, "segment").is_empty() {
            m.tags.insert("segment".into(), "<default>".into());
        }
        if tag(m, "role") == "consul" {
            m.tags.insert("segment".into(), "<all>".into());
        }
        if tag(m, "ap").is_empty() {
            m.tags.insert("ap".into(), "default".into());
        }
    }
    members.retain(|m| status.is_match(m.status_word()));
    if members.is_empty() {
        return None;
    }
    members.sort_by(order);
    let mut lines = Vec::with_capacity(members.len() + 1);
    if detailed {
        lines.push("Node\x1fAddress\x1fStatus\x1fTags".to_string());
        for m in &members {
            let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            lines.push(format!(
                "{}\x1f{}\x1f{}\x1f{}",
                m.name,
                address(m),
                m.status_word(),
                tags.join(",")
            ));
        }
    } else {
        lines.push(
            "Node\x1fAddress\x1fStatus\x1fType\x1fBuild\x1fProtocol\x1fDC\x1fPartition\x1fSegment"
                .to_string(),
        );
        for m in &members {
            let build = match tag(m, "build") {
                "" => "< 0.3",
                b => b.split(':').next().unwrap_or(b),
            };
            let kind = match tag(m, "role") {
                "consul" => "server",
                "node" => "client",
                _ => {
                    lines.push(format!(
                        "{}\x1f{}\x1f{}\x1funknown\x1f\x1f\x1f\x1f\x1f",
                        m.name,
                        address(m),
                        m.status_word()
                    ));
                    continue;
                }
            };
            lines.push(format!(
                "{}\x1f{}\x1f{}\x1f{kind}\x1f{build}\x1f{}\x1f{}\x1f{}\x1f{}",
                m.name,
                address(m),
                m.status_word(),
                tag(m, "vsn"),
                tag(m, "dc"),
                tag(m, "ap"),
                tag(m, "segment"),
            ));
        }
    }
    Some(columnize_with(&lines, '\x1f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, addr: &str, role: &str, status: u8) -> Member {
        let mut m: Member = serde_json::from_str(
            r#"{"Name":"x","Addr":"10.1.10.12","Port":8301,"Tags":{"bootstrap":"1","dc":"dc1",
               "port":"8300","vsn":"2","build":"1.17.3:abcdef12"},"Status":1,"ProtocolMin":1,
               "ProtocolMax":2,"ProtocolCur":2,"DelegateMin":1,"DelegateMax":3,"DelegateCur":3}"#,
        )
        .expect("sample member");
        m.name = name.into();
        m.addr = addr.into();
        m.status = status;
        m.tags.insert("role".into(), role.into());
        m
    }

    fn all() -> Regex {
        Regex::new(".*").expect("regex")
    }

    #[test]
    fn standard_table() {
        let members = vec![
            member("zeta", "10.0.0.2", "node", 1),
            member("consul-server01", "192.168.111.40", "consul", 1),
        ];
        assert_eq!(
            render(members, false, &all()).expect("rows"),
            "Node             Address              Status  Type    Build   Protocol  DC   Partition  Segment\n\
             consul-server01  192.168.111.40:8301  alive   server  1.17.3  2         dc1  default    <all>\n\
             zeta             10.0.0.2:8301        alive   client  1.17.3  2         dc1  default    <default>"
        );
    }

    #[test]
    fn detailed_tags_sorted() {
        let out = render(vec![member("s1", "10.0.0.1", "consul", 1)], true, &all()).expect("rows");
        assert_eq!(
            out,
            "Node  Address        Status  Tags\n\
             s1    10.0.0.1:8301  alive   ap=default,bootstrap=1,build=1.17.3:abcdef12,dc=dc1,port=8300,role=consul,segment=<all>,vsn=2"
        );
    }

    #[test]
    fn status_filter_and_unknown_role() {
        let members = vec![
            member("a", "10.0.0.1", "consul", 1),
            member("b", "::1", "other", 4),
        ];
        let failed = Regex::new("fail").expect("regex");
        let out = render(members.clone(), false, &failed).expect("rows");
        assert!(
            out.trim_end()
                .ends_with("\nb     [::1]:8301  failed  unknown"),
            "{out:?}"
        );
        assert!(render(members, false, &Regex::new("^left$").expect("regex")).is_none());
    }
}
