//! `consul catalog datacenters|nodes|services`: cluster-wide listings from `/v1/catalog/*`.
//! Names print one per line; `nodes` is a columnize table (`Node ID Address DC`, IDs cut at
//! the first `-` unless `-detailed`); `services -tags` is a tabwriter table.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use super::render::{columnize_with, tabwrite};
use api_types::{CatalogService, Node, StrMap};
use clap::Parser;
use std::collections::BTreeMap;

const NO_SERVICES: &str = "No services match the given query - try expanding your search.";
const NO_NODES: &str = "No nodes match the given query - try expanding your search.";

/// `consul catalog` alone: its subcommands, exit 1 (mitchellh/cli `RunResultHelp`).
pub fn run_parent(args: &[String]) -> i32 {
    let code = if args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
    {
        0
    } else {
        1
    };
    eprint!("{}", super::parent_usage(&["catalog"]));
    code
}

#[derive(Parser, Debug)]
struct DcFlags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

/// Runs `consul catalog datacenters`.
pub fn run_datacenters(args: &[String]) -> i32 {
    let usage = "Usage: consul catalog datacenters [options]";
    let flags: DcFlags = match goflags::parse("datacenters", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("Too many arguments (expected 0, got {})", flags.args.len());
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        match client.catalog_datacenters().await {
            Ok((dcs, _)) if dcs.is_empty() => {
                eprintln!("No datacenters found");
                1
            }
            Ok((dcs, _)) => {
                dcs.iter().for_each(|d| println!("{d}"));
                0
            }
            Err(e) => {
                eprintln!("Error listing datacenters: {e}");
                1
            }
        }
    })
}

#[derive(Parser, Debug)]
struct NodesFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Output detailed information about the nodes including their addresses and metadata.
    #[arg(long)]
    detailed: bool,
    /// Node name to sort the node list in ascending order based on estimated round-trip time.
    #[arg(long, help_heading = goflags::REFUSED)]
    near: Option<String>,
    /// Metadata to filter nodes with the given `key=value` pairs (repeatable).
    #[arg(long = "node-meta")]
    node_meta: Vec<String>,
    /// Service `id or name` to filter nodes: only nodes providing the service are listed.
    #[arg(long)]
    service: Option<String>,
    /// Filter to use with the request.
    #[arg(long)]
    filter: Option<String>,
    args: Vec<String>,
}

/// Runs `consul catalog nodes`.
pub fn run_nodes(args: &[String]) -> i32 {
    let usage = "Usage: consul catalog nodes [options]";
    let flags: NodesFlags = match goflags::parse("nodes", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("Too many arguments (expected 0, got {})", flags.args.len());
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let mut q = flags.http.query();
    q.near = flags.near.clone();
    q.node_meta = flags.node_meta.clone();
    q.filter = flags.filter.clone();
    super::block_on(async move {
        let nodes = match &flags.service {
            Some(svc) => match client.catalog_service(svc, &q).await {
                Ok((instances, _)) => instances.iter().map(instance_node).collect(),
                Err(e) => {
                    eprintln!("Error listing nodes for service: {e}");
                    return 1;
                }
            },
            None => match client.catalog_nodes(&q).await {
                Ok((nodes, _)) => nodes,
                Err(e) => {
                    eprintln!("Error listing nodes: {e}");
                    return 1;
                }
            },
        };
        if nodes.is_empty() {
            eprintln!("{NO_NODES}");
            return 0;
        }
        println!("{}", render_nodes(&nodes, flags.detailed));
        0
    })
}

fn instance_node(s: &CatalogService) -> Node {
    Node {
        id: s.id.clone(),
        node: s.node.clone(),
        address: s.address.clone(),
        datacenter: s.datacenter.clone(),
        tagged_addresses: s.tagged_addresses.clone(),
        meta: s.node_meta.clone(),
        ..Default::default()
    }
}

fn map_to_kv(m: &Option<StrMap>) -> String {
    m.iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `consul catalog nodes` table.
pub fn render_nodes(nodes: &[Node], detailed: bool) -> String {
    let mut header = "Node\x1fID\x1fAddress\x1fDC".to_string();
    if detailed {
        header.push_str("\x1fTaggedAddresses\x1fMeta");
    }
    let mut lines = vec![header];
    for n in nodes {
        let id = match n.id.find('-') {
            Some(i) if i > 0 && !detailed => &n.id[..i],
            _ => n.id.as_str(),
        };
        let mut line = format!("{}\x1f{id}\x1f{}\x1f{}", n.node, n.address, n.datacenter);
        if detailed {
            line.push_str(&format!(
                "\x1f{}\x1f{}",
                map_to_kv(&n.tagged_addresses),
                map_to_kv(&n.meta)
            ));
        }
        lines.push(line);
    }
    columnize_with(&lines, '\x1f')
}

#[derive(Parser, Debug)]
struct ServicesFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Node `id or name` for which to list services.
    #[arg(long)]
    node: Option<String>,
    /// Metadata to filter nodes with the given `key=value` pairs (repeatable).
    #[arg(long = "node-meta")]
    node_meta: Vec<String>,
    /// Display each service's tags as a comma-separated list beside each service entry.
    #[arg(long)]
    tags: bool,
    /// Filter to use with the request.
    #[arg(long)]
    filter: Option<String>,
    args: Vec<String>,
}

/// Runs `consul catalog services`.
pub fn run_services(args: &[String]) -> i32 {
    let usage = "Usage: consul catalog services [options]";
    let flags: ServicesFlags = match goflags::parse("services", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("Too many arguments (expected 0, got {})", flags.args.len());
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let mut q = flags.http.query();
    q.node_meta = flags.node_meta.clone();
    q.filter = flags.filter.clone();
    super::block_on(async move {
        let services: BTreeMap<String, Vec<String>> = match &flags.node {
            Some(node) => match client.catalog_node_services(node, &q).await {
                Ok((list, _)) => {
                    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    for s in list.map(|l| l.services).unwrap_or_default() {
                        m.entry(s.service.clone())
                            .or_default()
                            .extend(s.tags.iter().cloned());
                    }
                    m
                }
                Err(e) => {
                    eprintln!("Error listing services for node: {e}");
                    return 1;
                }
            },
            None => match client.catalog_services(&q).await {
                Ok((m, _)) => m,
                Err(e) => {
                    eprintln!("Error listing services: {e}");
                    return 1;
                }
            },
        };
        if services.is_empty() {
            eprintln!("{NO_SERVICES}");
            return 0;
        }
        print!("{}", render_services(&services, flags.tags));
        0
    })
}

/// The `consul catalog services` output (names sorted; `-tags` adds sorted, deduped tags).
pub fn render_services(services: &BTreeMap<String, Vec<String>>, tags: bool) -> String {
    if !tags {
        return services.keys().map(|k| format!("{k}\n")).collect();
    }
    let mut text = String::new();
    for (name, t) in services {
        let mut t = t.clone();
        t.sort();
        t.dedup();
        text.push_str(&format!("{name}\t{}\n", t.join(",")));
    }
    tabwrite(&text, 0, 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_table_from_sample() {
        let nodes: Vec<Node> = serde_json::from_str(
            r#"[{"ID":"40e4a748-2192-161a-0510-9bf59fe950b5","Node":"baz","Address":"10.1.10.11",
                 "Datacenter":"dc1","TaggedAddresses":{"lan":"10.1.10.11","wan":"10.1.10.11"},
                 "Meta":{"instance_type":"t2.medium"}},
                {"ID":"8f246b77-f3e1-ff88-5b48-8ec93abf3e05","Node":"t2.320","Address":"10.1.10.12",
                 "Datacenter":"dc2","TaggedAddresses":{"lan":"10.1.10.11","wan":"10.1.10.12"},
                 "Meta":{"instance_type":"t2.large"}}]"#,
        )
        .expect("sample");
        assert_eq!(
            render_nodes(&nodes, false),
            "Node    ID        Address     DC\n\
             baz     40e4a748  10.1.10.11  dc1\n\
             t2.320  8f246b77  10.1.10.12  dc2"
        );
        let detailed = render_nodes(&nodes, true);
        assert!(detailed.contains("40e4a748-2192-161a-0510-9bf59fe950b5  10.1.10.11  dc1  lan=10.1.10.11, wan=10.1.10.11  instance_type=t2.medium"), "{detailed}");
    }

    #[test]
    fn services_with_tags() {
        let s: BTreeMap<String, Vec<String>> = serde_json::from_str(
            r#"{"consul":[],"redis":[],"postgresql":["secondary","primary"]}"#,
        )
        .expect("sample");
        assert_eq!(render_services(&s, false), "consul\npostgresql\nredis\n");
        assert_eq!(
            render_services(&s, true),
            "consul          \npostgresql      primary,secondary\nredis           \n"
        );
    }
}
