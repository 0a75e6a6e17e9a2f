//! The startup banner.

use crate::config::Config;

/// The startup banner, in Go consul's layout (scripts read its lines). It names only the
/// listeners this agent opens: HTTP (and DNS) on the client addresses, and for a server its
/// server port (Raft, joins and forwarding, over HTTP) on its own line. The listeners this
/// consul does not have (gRPC, gRPC-TLS, Serf WAN) print as Go prints a disabled port, -1,
/// whatever their configured port.
pub fn print(c: &Config, node_id: &str) {
    // The addresses HTTP really binds (`addresses.http`, else the client addresses).
    let clients: Vec<String> = c.http_addrs.iter().map(|a| a.to_string()).collect();
    println!("              Version: '{}'", crate::version::VERSION);
    println!("           Build Date: '{}'", crate::version::BUILD_DATE);
    println!("              Node ID: '{node_id}'");
    println!("            Node name: '{}'", c.node_name);
    println!(
        "           Datacenter: '{}' (Segment: '<all>')",
        c.datacenter
    );
    println!(
        "               Server: {} (Bootstrap: {})",
        c.server,
        c.bootstrap || c.dev
    );
    println!(
        "          Client Addr: [{}] (HTTP: {}, HTTPS: {}, gRPC: -1, gRPC-TLS: -1, DNS: {})",
        clients.join(" "),
        c.ports.http.max(-1),
        c.ports.https.max(-1),
        c.ports.dns.max(-1),
    );
    println!(
        "         Cluster Addr: {} (LAN: {}, WAN: -1)",
        c.advertise_addr,
        c.ports.serf_lan.max(-1)
    );
    println!("    Gossip Encryption: {}", c.gossip.encrypted);
    println!("     Auto-Encrypt-TLS: false");
    println!("         ACLs Enabled: {}", c.acl.is_some());
    if c.server && c.ports.server >= 0 {
        println!(
            "          Server Addr: {}:{} (Raft over {})",
            c.bind_addr,
            c.ports.server,
            match &c.rpc_tls.listener {
                Some(t) if t.verify_incoming => "HTTPS, verified clients",
                Some(_) => "HTTPS or HTTP",
                None => "HTTP",
            }
        );
    }
    println!();
    println!("==> Log data will now stream in as it occurs:");
    println!();
}
