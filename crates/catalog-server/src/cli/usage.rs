//! `consul operator usage instances`: the service and instance counts of
//! `/v1/operator/usage`, billable (every service instance but the `consul` one) and by mesh
//! kind, in Consul's tables. `-all-datacenters` adds the datacenter column and totals (this
//! agent knows one datacenter).

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use super::render::tabwrite;
use clap::Parser;
use serde_json::Value;

const USAGE: &str = "Usage: consul operator usage instances [options]\n\n  Retrieves usage information about the number of services registered in a given\n  datacenter. By default, the datacenter of the local agent is queried.\n\n  To retrieve the service usage data:\n\n      $ consul operator usage instances\n\n  To show only billable service instance counts:\n\n      $ consul operator usage instances -billable\n\n  To show only connect service instance counts:\n\n      $ consul operator usage instances -connect";

#[derive(Parser, Debug)]
struct InstancesFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Display only billable service info. Cannot be used with -connect.
    #[arg(long)]
    billable: bool,
    /// Display only Connect service info. Cannot be used with -billable.
    #[arg(long)]
    connect: bool,
    /// Display service counts from all datacenters.
    #[arg(long = "all-datacenters")]
    all_datacenters: bool,
    args: Vec<String>,
}

/// `consul operator usage` alone: its subcommands, exit 1.
pub fn run_parent(args: &[String]) -> i32 {
    let help = args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"));
    eprint!("{}", super::parent_usage(&["operator", "usage"]));
    if help {
        0
    } else {
        1
    }
}

/// Runs `consul operator usage instances`.
pub fn run_instances(args: &[String]) -> i32 {
    let flags: InstancesFlags = match goflags::parse("instances", USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("Too many arguments (expected 0, got {})", flags.args.len());
        return 1;
    }
    if flags.billable && flags.connect {
        eprintln!("Cannot specify both -billable and -connect flags");
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let q = flags.http.query();
    let extra: &[(&str, &str)] = if flags.all_datacenters {
        &[("global", "")]
    } else {
        &[]
    };
    super::block_on(async move {
        let usage = match client
            .get_json::<Value>("/v1/operator/usage", &q, extra)
            .await
        {
            Ok((v, _)) => v["Usage"].as_object().cloned().unwrap_or_default(),
            Err(e) => {
                eprintln!("Error fetching usage information: {e}");
                return 1;
            }
        };
        print!("{}", render(&usage, &flags));
        0
    })
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Both tables (or the one asked for), as Consul prints them.
fn render(usage: &serde_json::Map<String, Value>, flags: &InstancesFlags) -> String {
    let mut out = String::new();
    if !flags.connect {
        let total: u64 = usage
            .values()
            .map(|u| count(&u["BillableServiceInstances"]))
            .sum();
        out.push_str(&format!("Billable Service Instances Total: {total}\n"));
        let mut per_dc: Vec<String> = usage
            .iter()
            .map(|(dc, u)| {
                format!(
                    "{dc} Billable Service Instances: {}",
                    count(&u["BillableServiceInstances"])
                )
            })
            .collect();
        per_dc.sort();
        for line in per_dc {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("\nBillable Services\n");
        let rows: Vec<(String, String, u64, u64)> = usage
            .iter()
            .map(|(dc, u)| {
                let services = count(&u["Services"]);
                let instances = count(&u["BillableServiceInstances"]);
                (dc.clone(), services.to_string(), services, instances)
            })
            .collect();
        out.push_str(&table(rows, "Services", flags.all_datacenters, true));
        out.push_str("\n\n");
    }
    if !flags.billable {
        out.push_str("Connect Services\n");
        let mut rows = Vec::new();
        for (dc, u) in usage {
            if let Some(kinds) = u["ConnectServiceInstances"].as_object() {
                for (kind, n) in kinds {
                    rows.push((dc.clone(), kind.clone(), 0, count(n)));
                }
            }
        }
        out.push_str(&table(rows, "Type", flags.all_datacenters, false));
        out.push('\n');
    }
    out
}

/// Consul's `formatServiceCounts`: rows of (datacenter, label, services, instances) sorted by
/// datacenter then label, through a tabwriter (padding 6), with a total row when datacenters
/// are shown; trimmed of surrounding blanks.
fn table(
    mut rows: Vec<(String, String, u64, u64)>,
    label: &str,
    show_dc: bool,
    billable: bool,
) -> String {
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut text = String::new();
    if show_dc {
        text.push_str("Datacenter\t");
    }
    text.push_str(&format!("{label}\tService instances\n"));
    let (mut services, mut instances) = (0, 0);
    for (dc, name, s, i) in &rows {
        if show_dc {
            text.push_str(&format!("{dc}\t"));
        }
        text.push_str(&format!("{name}\t{i}\n"));
        services += s;
        instances += i;
    }
    if show_dc {
        text.push_str("\t\t\n");
        if billable {
            text.push_str(&format!("Total\t{services}\t{instances}\n"));
        } else {
            text.push_str(&format!("Total\t\t{instances}\n"));
        }
    }
    tabwrite(&text, 0, 6).trim().to_string()
}
