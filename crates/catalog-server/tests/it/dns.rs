//! The DNS interface against a real agent (`-dns-port=0`), asked with the real `dig` (Debian's
//! `bind9-dnsutils`) over UDP and TCP: services (A, SRV, tags, RFC 2782), nodes, SOA/NS,
//! NXDOMAIN with the SOA, other datacenters, case, changes seen at once, truncation, ACLs (the
//! default token, the DNS token), and garbage that must not stop the server.

use crate::common::{wait_until, TestServer};
use serde_json::json;
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

const MGMT: &str = "0e6a4b7e-2f0c-4d3a-9b1e-7c5d4a3b2c1d";

/// One `dig` answer, read from its text.
#[derive(Debug, Default)]
pub(crate) struct Dig {
    pub(crate) status: String,
    pub(crate) flags: Vec<String>,
    pub(crate) answer: Vec<Vec<String>>,
    pub(crate) authority: Vec<Vec<String>>,
    pub(crate) additional: Vec<Vec<String>>,
    pub(crate) text: String,
}

impl Dig {
    /// The answer records of `rtype`, their data fields (after name, TTL, class, type).
    pub(crate) fn data(&self, rtype: &str) -> Vec<Vec<String>> {
        self.answer
            .iter()
            .filter(|r| r.get(3).is_some_and(|t| t == rtype))
            .map(|r| r[4..].to_vec())
            .collect()
    }
}

/// `dig @127.0.0.1 -p <port> <args>`, parsed.
pub(crate) fn dig(port: u16, args: &[&str]) -> Dig {
    dig_at("127.0.0.1", port, args)
}

/// `dig @<ip> -p <port> <args>`, parsed.
pub(crate) fn dig_at(ip: &str, port: u16, args: &[&str]) -> Dig {
    let out = Command::new("dig")
        .arg(format!("@{ip}"))
        .arg(format!("-p{port}"))
        .args(["+time=3", "+tries=2"])
        .args(args)
        .output()
        .expect("dig: install Debian's bind9-dnsutils");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut d = Dig {
        text: text.clone(),
        ..Dig::default()
    };
    let mut section = "";
    for line in text.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split(',').next().unwrap_or("").to_string();
        }
        if let Some(rest) = line.strip_prefix(";; flags: ") {
            let flags = rest.split(';').next().unwrap_or("");
            d.flags = flags.split_whitespace().map(str::to_string).collect();
        }
        if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
        } else if line.starts_with(";; ADDITIONAL SECTION") {
            section = "additional";
        } else if line.trim().is_empty() || line.starts_with(';') {
            if line.trim().is_empty() {
                section = "";
            }
        } else {
            let fields: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            match section {
                "answer" => d.answer.push(fields),
                "authority" => d.authority.push(fields),
                "additional" => d.additional.push(fields),
                _ => {}
            }
        }
    }
    assert!(!d.status.is_empty(), "dig got no answer: {text}");
    d
}

/// The DNS port the agent bound, from its banner (`DNS: <port>`).
pub(crate) fn dns_port(s: &TestServer) -> u16 {
    let out = s.output();
    let at = out.find("DNS: ").expect("the banner names the DNS port");
    let digits: String = out[at + 5..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let port: u16 = digits.parse().expect("DNS port");
    assert_ne!(port, 0, "the banner names the bound port, not 0");
    port
}

pub(crate) async fn dns_server(extra: &[&str]) -> (TestServer, u16) {
    let mut args = vec!["-dns-port=0"];
    args.extend_from_slice(extra);
    let s = TestServer::start_with(&args).await;
    let port = dns_port(&s);
    (s, port)
}

/// Registers `node` at `addr` with one instance of `service` (`id`, `port`; `tags`) and,
/// when `status` is given, a check of that status on the instance.
async fn register(
    s: &TestServer,
    node: &str,
    addr: &str,
    (service, id, port): (&str, &str, u16),
    tags: &[&str],
    status: Option<&str>,
) {
    let mut body = json!({
        "Node": node, "Address": addr,
        "Service": {"Service": service, "ID": id, "Port": port, "Tags": tags},
    });
    if let Some(st) = status {
        body["Check"] =
            json!({"CheckID": format!("{id}-check"), "Name": "c", "Status": st, "ServiceID": id});
    }
    let (st, text) = s.put("/v1/catalog/register", body.to_string()).await;
    assert_eq!(st, 200, "{text}");
}

/// Three `web` instances on three nodes, the third critical; `api` on node-1 with its own
/// address.
async fn web(s: &TestServer) {
    register(
        s,
        "node-1",
        "10.1.0.1",
        ("web", "web-1", 8001),
        &["v1", "primary"],
        Some("passing"),
    )
    .await;
    register(
        s,
        "node-2",
        "10.1.0.2",
        ("web", "web-2", 8002),
        &["v2"],
        None,
    )
    .await;
    register(
        s,
        "node-3",
        "10.1.0.3",
        ("web", "web-3", 8003),
        &["v1"],
        Some("critical"),
    )
    .await;
    let api = json!({
        "Node": "node-1", "Address": "10.1.0.1",
        "Service": {"Service": "api", "ID": "api-1", "Port": 9000, "Address": "10.9.0.1"},
    });
    assert_eq!(s.put("/v1/catalog/register", api.to_string()).await.0, 200);
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn services_nodes_and_the_domain_over_udp_and_tcp() {
    let (s, port) = dns_server(&[]).await;
    web(&s).await;

    for transport in ["+notcp", "+tcp"] {
        // A: the healthy instances only (node-3 is critical).
        let a = dig(port, &[transport, "web.service.consul", "A"]);
        assert_eq!(a.status, "NOERROR", "{}", a.text);
        assert!(a.flags.contains(&"aa".to_string()), "{}", a.text);
        let ips: Vec<String> = a.data("A").into_iter().map(|d| d[0].clone()).collect();
        assert_eq!(sorted(ips), ["10.1.0.1", "10.1.0.2"], "{}", a.text);
        assert!(a
            .answer
            .iter()
            .all(|r| r[0] == "web.service.consul." && r[1] == "0"));

        // SRV: port and the node's target, its address in ADDITIONAL.
        let srv = dig(port, &[transport, "web.service.consul", "SRV"]);
        let mut got: Vec<(String, String, String)> = srv
            .data("SRV")
            .into_iter()
            .map(|d| (d[0].clone(), d[2].clone(), d[3].clone()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("1".into(), "8001".into(), "node-1.node.dc1.consul.".into()),
                ("1".into(), "8002".into(), "node-2.node.dc1.consul.".into()),
            ],
            "{}",
            srv.text
        );
        let extra: Vec<(String, String)> = srv
            .additional
            .iter()
            .filter(|r| r[3] == "A")
            .map(|r| (r[0].clone(), r[4].clone()))
            .collect();
        assert!(
            extra.contains(&("node-1.node.dc1.consul.".into(), "10.1.0.1".into())),
            "{}",
            srv.text
        );
    }

    // Tags, and RFC 2782's form.
    let v1 = dig(port, &["v1.web.service.consul", "A"]);
    assert_eq!(v1.data("A"), [vec!["10.1.0.1".to_string()]], "{}", v1.text);
    let rfc = dig(port, &["_web._v2.service.consul", "SRV"]);
    assert_eq!(rfc.data("SRV").len(), 1, "{}", rfc.text);
    assert_eq!(rfc.data("SRV")[0][2], "8002");
    let tcp = dig(port, &["_web._tcp.service.dc1.consul", "SRV"]);
    assert_eq!(tcp.data("SRV").len(), 2, "{}", tcp.text);
    let none = dig(port, &["v9.web.service.consul", "A"]);
    assert_eq!(none.status, "NXDOMAIN", "{}", none.text);

    // A service address of its own: A answers it, SRV targets its addr name.
    let api = dig(port, &["api.service.consul", "SRV"]);
    assert_eq!(
        api.data("SRV")[0][3],
        "0a090001.addr.dc1.consul.",
        "{}",
        api.text
    );
    assert_eq!(
        dig(port, &["api.service.consul"]).data("A"),
        [vec!["10.9.0.1".to_string()]]
    );
    // Even when it is the node's own address (registrator's `-ip`): the addr name, one A record
    // per SRV record in ADDITIONAL and no node meta there (HAProxy pairs them one to one).
    let same = json!({
        "Node": "node-2", "Address": "10.1.0.2",
        "Service": {"Service": "same", "ID": "same-1", "Port": 81, "Address": "10.1.0.2"},
    });
    assert_eq!(s.put("/v1/catalog/register", same.to_string()).await.0, 200);
    let same = json!({
        "Node": "node-2", "Address": "10.1.0.2",
        "Service": {"Service": "same", "ID": "same-2", "Port": 82, "Address": "10.1.0.2"},
    });
    assert_eq!(s.put("/v1/catalog/register", same.to_string()).await.0, 200);
    let same = dig(port, &["same.service.consul", "SRV"]);
    let targets: Vec<String> = same.data("SRV").into_iter().map(|d| d[3].clone()).collect();
    assert_eq!(
        targets,
        ["0a010002.addr.dc1.consul.", "0a010002.addr.dc1.consul."],
        "{}",
        same.text
    );
    assert_eq!(same.additional.len(), 2, "{}", same.text);

    // Nodes; the servers' own `consul` service.
    let node = dig(port, &["node-2.node.consul", "A"]);
    assert_eq!(
        node.data("A"),
        [vec!["10.1.0.2".to_string()]],
        "{}",
        node.text
    );
    let consul = dig(port, &["consul.service.consul", "A"]);
    assert_eq!(
        consul.data("A"),
        [vec!["127.0.0.1".to_string()]],
        "{}",
        consul.text
    );
    let addr = dig(port, &["0a010002.addr.dc1.consul", "A"]);
    assert_eq!(
        addr.data("A"),
        [vec!["10.1.0.2".to_string()]],
        "{}",
        addr.text
    );

    // Case does not matter; the answer is named in lower case.
    let upper = dig(port, &["WEB.Service.DC1.Consul", "A"]);
    assert_eq!(upper.data("A").len(), 2, "{}", upper.text);

    // SOA and NS of the domain.
    let soa = dig(port, &["consul", "SOA"]);
    assert_eq!(soa.status, "NOERROR", "{}", soa.text);
    let d = &soa.data("SOA")[0];
    assert_eq!(d[0], "ns.consul.");
    assert_eq!(d[1], "hostmaster.consul.");
    assert_eq!(d[3..], ["3600", "600", "86400", "0"], "{}", soa.text);
    assert_eq!(soa.authority[0][3], "NS", "{}", soa.text);
    assert_eq!(soa.authority[0][4], "test-node.node.dc1.consul.");
    let ns = dig(port, &["consul", "NS"]);
    assert_eq!(
        ns.data("NS"),
        [vec!["test-node.node.dc1.consul.".to_string()]],
        "{}",
        ns.text
    );

    // What does not exist: NXDOMAIN with the SOA; another datacenter too.
    for name in [
        "nope.service.consul",
        "nope.node.consul",
        "web.service.dc2.consul",
        "whatever.consul",
    ] {
        let nx = dig(port, &[name, "A"]);
        assert_eq!(nx.status, "NXDOMAIN", "{name}: {}", nx.text);
        assert_eq!(nx.authority.len(), 1, "{name}: {}", nx.text);
        assert_eq!(nx.authority[0][3], "SOA", "{name}: {}", nx.text);
    }
    // A known name without records of the type: NODATA with the SOA.
    let aaaa = dig(port, &["web.service.consul", "AAAA"]);
    assert_eq!(aaaa.status, "NOERROR", "{}", aaaa.text);
    assert!(
        aaaa.answer.is_empty() && aaaa.authority[0][3] == "SOA",
        "{}",
        aaaa.text
    );
    // Outside the domain, without recursors: REFUSED, as Consul answers.
    let outside = dig(port, &["example.com", "A"]);
    assert_eq!(outside.status, "REFUSED", "{}", outside.text);
}

#[tokio::test]
async fn answers_follow_the_catalog_at_once() {
    let (s, port) = dns_server(&[]).await;
    assert_eq!(dig(port, &["live.service.consul"]).status, "NXDOMAIN");
    register(&s, "n1", "10.2.0.1", ("live", "live-1", 80), &[], None).await;
    assert_eq!(dig(port, &["live.service.consul"]).data("A").len(), 1);
    register(
        &s,
        "n2",
        "10.2.0.2",
        ("live", "live-2", 80),
        &[],
        Some("passing"),
    )
    .await;
    assert_eq!(dig(port, &["live.service.consul"]).data("A").len(), 2);
    // Turning critical removes it, passing brings it back.
    register(
        &s,
        "n2",
        "10.2.0.2",
        ("live", "live-2", 80),
        &[],
        Some("critical"),
    )
    .await;
    assert_eq!(dig(port, &["live.service.consul"]).data("A").len(), 1);
    let body = json!({"Node": "n1", "ServiceID": "live-1"});
    assert_eq!(
        s.put("/v1/catalog/deregister", body.to_string()).await.0,
        200
    );
    assert_eq!(dig(port, &["live.service.consul"]).status, "NXDOMAIN");
}

/// UDP answers come from a cache of each worker: asked often before a write, none shows what
/// the write removed once it is acknowledged.
#[tokio::test]
async fn cached_answers_change_right_after_a_deregistration() {
    let (s, port) = dns_server(&[]).await;
    for i in 1..=3 {
        let (node, addr, id) = (
            format!("c{i}"),
            format!("10.6.0.{i}"),
            format!("cached-{i}"),
        );
        register(&s, &node, &addr, ("cached", &id, 80), &[], None).await;
    }
    let ips =
        |d: Dig| -> Vec<String> { sorted(d.data("A").into_iter().map(|r| r[0].clone()).collect()) };
    let targets = |d: Dig| -> Vec<String> {
        sorted(d.data("SRV").into_iter().map(|r| r[3].clone()).collect())
    };
    for _ in 0..10 {
        assert_eq!(ips(dig(port, &["cached.service.consul"])).len(), 3);
        assert_eq!(
            targets(dig(port, &["cached.service.consul", "SRV"])).len(),
            3
        );
    }
    let body = json!({"Node": "c2", "ServiceID": "cached-2"});
    assert_eq!(
        s.put("/v1/catalog/deregister", body.to_string()).await.0,
        200
    );
    for _ in 0..10 {
        assert_eq!(
            ips(dig(port, &["cached.service.consul"])),
            ["10.6.0.1", "10.6.0.3"]
        );
        assert_eq!(
            targets(dig(port, &["cached.service.consul", "SRV"])),
            ["c1.node.dc1.consul.", "c3.node.dc1.consul."]
        );
    }
    // A check turning critical, and the node's address changing, are seen at once too.
    register(
        &s,
        "c3",
        "10.6.0.3",
        ("cached", "cached-3", 80),
        &[],
        Some("critical"),
    )
    .await;
    for _ in 0..10 {
        assert_eq!(ips(dig(port, &["cached.service.consul"])), ["10.6.0.1"]);
    }
    register(&s, "c1", "10.6.0.9", ("cached", "cached-1", 80), &[], None).await;
    for _ in 0..10 {
        assert_eq!(ips(dig(port, &["cached.service.consul"])), ["10.6.0.9"]);
    }
    let body = json!({"Node": "c1"});
    assert_eq!(
        s.put("/v1/catalog/deregister", body.to_string()).await.0,
        200
    );
    assert_eq!(dig(port, &["cached.service.consul"]).status, "NXDOMAIN");
}

#[tokio::test]
async fn many_instances_are_cut_over_udp_and_whole_over_tcp() {
    let (s, port) = dns_server(&["-hcl", "dns_config { enable_truncate = true }"]).await;
    for i in 0..40 {
        let (node, addr, id) = (
            format!("m{i}"),
            format!("10.3.0.{}", i + 1),
            format!("many-{i}"),
        );
        register(&s, &node, &addr, ("many", &id, 80), &[], None).await;
    }
    // Without EDNS: udp_answer_limit (3) answers, TC set (dig +ignore keeps the UDP reply).
    let udp = dig(port, &["+noedns", "+ignore", "many.service.consul", "SRV"]);
    assert!(udp.flags.contains(&"tc".to_string()), "{}", udp.text);
    assert_eq!(udp.data("SRV").len(), 3, "{}", udp.text);
    // Shuffled per answer: some other instance leads within a few tries.
    let first = udp.data("SRV")[0][3].clone();
    assert!(
        (0..20).any(
            |_| dig(port, &["+noedns", "+ignore", "many.service.consul", "SRV"]).data("SRV")[0][3]
                != first
        ),
        "answers are shuffled"
    );
    // With EDNS, as many as fit the client's buffer.
    let edns = dig(
        port,
        &["+bufsize=1232", "+ignore", "many.service.consul", "SRV"],
    );
    let n = edns.data("SRV").len();
    assert!(n > 3 && n < 40, "{n}: {}", edns.text);
    // dig retries a truncated reply over TCP: the whole answer.
    let retried = dig(port, &["+noedns", "many.service.consul", "SRV"]);
    assert_eq!(retried.data("SRV").len(), 40, "{}", retried.text);
    let tcp = dig(port, &["+tcp", "many.service.consul", "A"]);
    assert_eq!(tcp.data("A").len(), 40, "{}", tcp.text);
    assert!(!tcp.flags.contains(&"tc".to_string()));
}

#[tokio::test]
async fn acls_hide_instances_until_the_default_token_may_read_them() {
    let hcl = format!(
        r#"acl {{
  enabled = true
  default_policy = "deny"
  tokens {{ initial_management = "{MGMT}" }}
}}"#
    );
    let mut s = TestServer::new(
        TestServer::builder()
            .token(MGMT)
            .args(["-dns-port=0", "-hcl", &hcl])
            .build(),
    );
    s.start().await;
    let port = dns_port(&s);
    let put = |path: &'static str, body: serde_json::Value| {
        let req = s
            .http
            .put(s.url(path))
            .header("X-Consul-Token", MGMT)
            .body(body.to_string());
        async move {
            let r = req.send().await.unwrap();
            let st = r.status().as_u16();
            let text = r.text().await.unwrap();
            assert_eq!(st, 200, "{path}: {text}");
            text
        }
    };
    put(
        "/v1/catalog/register",
        json!({"Node": "a1", "Address": "10.4.0.1", "Service": {"Service": "secret", "Port": 1}}),
    )
    .await;
    let hidden = dig(port, &["secret.service.consul"]);
    assert_eq!(hidden.status, "NXDOMAIN", "{}", hidden.text);

    put(
        "/v1/acl/policy",
        json!({"Name": "dns", "Rules": r#"service_prefix "" { policy = "read" } node_prefix "" { policy = "read" }"#}),
    )
    .await;
    let token = put(
        "/v1/acl/token",
        json!({"Description": "dns", "Policies": [{"Name": "dns"}]}),
    )
    .await;
    let secret = serde_json::from_str::<serde_json::Value>(&token).unwrap()["SecretID"]
        .as_str()
        .unwrap()
        .to_string();
    put("/v1/agent/token/default", json!({"Token": secret})).await;
    let shown = dig(port, &["secret.service.consul"]);
    assert_eq!(
        shown.data("A"),
        [vec!["10.4.0.1".to_string()]],
        "{}",
        shown.text
    );
    let node = dig(port, &["a1.node.consul"]);
    assert_eq!(
        node.data("A"),
        [vec!["10.4.0.1".to_string()]],
        "{}",
        node.text
    );
}

/// Consul 1.19+'s `acl.tokens.dns`: DNS answers with it while the default token is empty (HTTP
/// requests without a token still get nothing), from the config file and through
/// `/v1/agent/token/dns`; cleared, DNS falls back to the default token.
#[tokio::test]
async fn a_dns_token_answers_while_the_default_token_is_empty() {
    const DNS_SECRET: &str = "3f1e2d4c-5b6a-4789-8a9b-0c1d2e3f4a5b";
    let hcl = format!(
        r#"acl {{
  enabled = true
  default_policy = "deny"
  tokens {{
    initial_management = "{MGMT}"
    dns = "{DNS_SECRET}"
  }}
}}"#
    );
    let mut s = TestServer::new(
        TestServer::builder()
            .token(MGMT)
            .args(["-dns-port=0", "-hcl", &hcl])
            .build(),
    );
    s.start().await;
    let port = dns_port(&s);
    let send = |method: reqwest::Method, path: &str, body: serde_json::Value| {
        let req = s
            .http
            .request(method, s.url(path))
            .header("X-Consul-Token", MGMT)
            .body(body.to_string());
        let path = path.to_string();
        async move {
            let r = req.send().await.unwrap();
            let st = r.status().as_u16();
            let text = r.text().await.unwrap();
            assert_eq!(st, 200, "{path}: {text}");
        }
    };
    send(
        reqwest::Method::PUT,
        "/v1/catalog/register",
        json!({"Node": "a1", "Address": "10.4.0.1", "Service": {"Service": "secret", "Port": 1}}),
    )
    .await;
    send(
        reqwest::Method::PUT,
        "/v1/acl/policy",
        json!({"Name": "dns", "Rules": r#"service_prefix "" { policy = "read" } node_prefix "" { policy = "read" }"#}),
    )
    .await;
    send(
        reqwest::Method::PUT,
        "/v1/acl/token",
        json!({"SecretID": DNS_SECRET, "Description": "dns", "Policies": [{"Name": "dns"}]}),
    )
    .await;
    send(
        reqwest::Method::POST,
        "/v1/query",
        json!({"Name": "sq", "Service": {"Service": "secret"}}),
    )
    .await;
    let a = vec![vec!["10.4.0.1".to_string()]];

    // The configured DNS token: services, nodes and prepared queries answer.
    for name in ["secret.service.consul", "a1.node.consul", "sq.query.consul"] {
        let d = dig(port, &[name]);
        assert_eq!(d.data("A"), a, "{name}: {}", d.text);
    }
    // The default token stays empty: a request without a token reads nothing.
    let (st, body) = s.get("/v1/catalog/service/secret").await.unwrap();
    assert_eq!((st, body.as_str()), (200, "[]"));

    // Cleared through the API: the default token (none: anonymous) answers, so nothing.
    send(
        reqwest::Method::PUT,
        "/v1/agent/token/dns",
        json!({"Token": ""}),
    )
    .await;
    let hidden = dig(port, &["secret.service.consul"]);
    assert_eq!(hidden.status, "NXDOMAIN", "{}", hidden.text);

    // Set through the API again.
    send(
        reqwest::Method::PUT,
        "/v1/agent/token/dns",
        json!({"Token": DNS_SECRET}),
    )
    .await;
    let shown = dig(port, &["secret.service.consul"]);
    assert_eq!(shown.data("A"), a, "{}", shown.text);
}

#[tokio::test]
async fn garbage_does_not_stop_the_server() {
    let (s, port) = dns_server(&[]).await;
    register(&s, "g1", "10.5.0.1", ("sturdy", "sturdy-1", 80), &[], None).await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // A valid query to cut short and to damage.
    let query: [u8; 37] = [
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 6, b's', b't',
        b'u', b'r', b'd', b'y', 7, b's', b'e', b'r', b'v', b'i', b'c', b'e', 6, b'c', b'o', b'n',
        b's', b'u', b'l', 0, 0x00, 0x01,
    ];
    let mut packets: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff],
        query[..5].to_vec(),
        query[..20].to_vec(),
        // A compression pointer pointing at itself.
        [&query[..12], &[0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]].concat(),
        // Twelve bytes of header claiming 65535 questions.
        vec![0, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0],
    ];
    let mut seed: u32 = 0x2545_f491;
    for len in [3usize, 12, 40, 300, 1400] {
        let bytes = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        packets.push(bytes);
    }
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for p in &packets {
        udp.send_to(p, addr).unwrap();
        let mut buf = [0u8; 4096];
        // FORMERR or nothing; either way the server goes on.
        if let Ok((n, _)) = udp.recv_from(&mut buf) {
            assert!(n >= 12, "a reply has at least a header");
        }
    }
    for p in &packets {
        let Ok(mut tcp) = std::net::TcpStream::connect(addr) else {
            panic!("the TCP listener stopped");
        };
        tcp.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let _ = tcp.write_all(&(p.len() as u16).to_be_bytes());
        let _ = tcp.write_all(p);
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf);
    }
    // A length prefix announcing 64 KiB and then too little, and a 64 KiB message of noise.
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.write_all(&[0xff, 0xff]).unwrap();
    tcp.write_all(&[0u8; 100]).unwrap();
    drop(tcp);
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    tcp.write_all(&[0xff, 0xff]).unwrap();
    let _ = tcp.write_all(&vec![0x41u8; 0xffff]);
    let _ = tcp.read(&mut [0u8; 512]);
    drop(tcp);

    // Still answering, over both transports.
    let ok = wait_until(Duration::from_secs(5), || async {
        dig(port, &["sturdy.service.consul"]).data("A").len() == 1
    })
    .await;
    assert!(ok, "the server answers after the garbage");
    assert_eq!(
        dig(port, &["+tcp", "sturdy.service.consul"])
            .data("A")
            .len(),
        1
    );
}

#[test]
fn the_dns_port_can_be_switched_off_and_refused_settings_are_named() {
    let run = |args: &[&str]| {
        Command::new(test_support::binary("consul"))
            .args(["agent", "-dev", "-http-port=0"])
            .args(args)
            .output()
            .expect("consul agent")
    };
    for (hcl, says) in [
        ("dns_config { use_cache = true }", "dns_config.use_cache"),
        (
            "dns_config { allow_stale = false }",
            "dns_config.allow_stale",
        ),
    ] {
        let out = run(&["-dns-port=-1", "-hcl", hcl]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{hcl}");
        assert!(
            err.contains(says) && err.contains("not implemented"),
            "{hcl}: {err}"
        );
    }
}

/// `-domain` and `-alt-domain`: names are answered under both, and the old default is not.
#[tokio::test]
async fn domain_and_alt_domain_flags() {
    let (s, port) = dns_server(&["-domain=corp.", "-alt-domain=alt.example."]).await;
    register(&s, "n1", "10.0.0.9", ("api", "api-1", 8080), &[], None).await;
    for name in ["api.service.corp", "api.service.alt.example"] {
        let d = dig(port, &[name, "A"]);
        assert_eq!(d.status, "NOERROR", "{name}: {}", d.text);
        assert_eq!(d.data("A"), vec![vec!["10.0.0.9".to_string()]], "{name}");
    }
    assert_eq!(dig(port, &["api.service.consul", "A"]).status, "REFUSED");
}

/// PTR for a node's address and for a service's own address (`dig -x`).
#[tokio::test]
async fn reverse_lookups_name_nodes_and_services() {
    let (s, port) = dns_server(&[]).await;
    register(&s, "rev-node", "10.1.2.3", ("db", "db-1", 5432), &[], None).await;
    let d = dig(port, &["-x", "10.1.2.3"]);
    assert_eq!(d.status, "NOERROR", "{}", d.text);
    assert_eq!(
        d.data("PTR"),
        vec![vec!["rev-node.node.dc1.consul.".to_string()]],
        "{}",
        d.text
    );
    let body = serde_json::json!({
        "Node": "rev-node", "Address": "10.1.2.3",
        "Service": {"Service": "cache", "ID": "cache-1", "Port": 6379, "Address": "10.9.9.9"}
    });
    let (st, b) = s.put("/v1/catalog/register", body.to_string()).await;
    assert_eq!(st, 200, "{b}");
    let d = dig(port, &["-x", "10.9.9.9"]);
    assert_eq!(
        d.data("PTR"),
        vec![vec!["cache.service.dc1.consul.".to_string()]],
        "{}",
        d.text
    );
    assert_eq!(dig(port, &["-x", "10.200.0.1"]).status, "NXDOMAIN");
}

/// A real dnsmasq on a loopback port, answering `www.example.test` (10.1.2.3) and NXDOMAIN for
/// the rest of `example.test`; refuses everything else (no upstream).
struct Dnsmasq {
    /// Killed and reaped when dropped.
    _process: test_support::Process,
    port: u16,
}

fn dnsmasq() -> Dnsmasq {
    let port = test_support::free_port();
    let mut cmd = Command::new("dnsmasq");
    cmd.args([
        "--no-daemon",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--local=/example.test/",
        "--address=/www.example.test/10.1.2.3",
        "--user=root",
        "--pid-file=",
    ])
    .arg(format!("--port={port}"));
    let process = test_support::Process::spawn(cmd);
    let ready = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        Command::new("dig")
            .args([
                "@127.0.0.1",
                &format!("-p{port}"),
                "+time=1",
                "+tries=1",
                "www.example.test",
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("10.1.2.3"))
    });
    assert!(
        ready,
        "dnsmasq did not answer (install Debian's dnsmasq): {}",
        process.output()
    );
    Dnsmasq {
        _process: process,
        port,
    }
}

/// Names outside the domain go to the recursors in order: an unreachable one is skipped, the
/// first NOERROR/NXDOMAIN answer comes back with recursion available, over UDP and TCP; with
/// no recursor answering, SERVFAIL. Names inside the domain never go out.
#[tokio::test(flavor = "multi_thread")]
async fn recursors_answer_names_outside_the_domain() {
    let upstream = dnsmasq();
    let dead = test_support::free_port();
    let (s, port) = dns_server(&[
        &format!("-recursor=127.0.0.1:{dead}"),
        &format!("-recursor=127.0.0.1:{}", upstream.port),
        "-hcl",
        "dns_config { recursor_timeout = \"1s\" }",
    ])
    .await;
    for transport in ["+notcp", "+tcp"] {
        let d = dig(port, &[transport, "www.example.test", "A"]);
        assert_eq!(d.status, "NOERROR", "{}", d.text);
        assert_eq!(
            d.data("A"),
            vec![vec!["10.1.2.3".to_string()]],
            "{}",
            d.text
        );
        assert!(d.flags.contains(&"ra".to_string()), "{:?}", d.flags);
        let nx = dig(port, &[transport, "nope.example.test", "A"]);
        assert_eq!(nx.status, "NXDOMAIN", "{}", nx.text);
    }
    // Inside the domain the catalog answers, recursors or not.
    let own = dig(port, &["consul.service.consul", "A"]);
    assert_eq!(own.status, "NOERROR", "{}", own.text);
    assert!(!own.answer.is_empty(), "{}", own.text);
    drop(s);
    drop(upstream);

    let (_s, port) = dns_server(&[
        &format!("-recursor=127.0.0.1:{dead}"),
        "-hcl",
        "dns_config { recursor_timeout = \"1s\" }",
    ])
    .await;
    let d = dig(port, &["www.example.test", "A"]);
    assert_eq!(d.status, "SERVFAIL", "{}", d.text);
}

#[test]
fn bad_recursor_settings_are_refused() {
    for (flags, says) in [
        (vec!["-recursor=not-an-ip"], "Invalid recursor address"),
        (
            vec![
                "-recursor=127.0.0.1",
                "-hcl",
                "dns_config { recursor_strategy = \"fastest\" }",
            ],
            "recursor_strategy",
        ),
    ] {
        let out = Command::new(test_support::binary("consul"))
            .args(["agent", "-dev", "-http-port=0"])
            .args(flags)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains(says), "{text}");
    }
}

/// An address that is a host name: a CNAME to it for A questions (service and node), the
/// host name as the SRV target.
#[tokio::test(flavor = "multi_thread")]
async fn host_name_addresses_are_cnames() {
    let (s, port) = dns_server(&[]).await;
    register(
        &s,
        "ext",
        "db.example.test",
        ("db", "db-1", 5432),
        &[],
        None,
    )
    .await;
    let a = dig(port, &["db.service.consul", "A"]);
    assert_eq!(a.status, "NOERROR", "{}", a.text);
    assert_eq!(
        a.data("CNAME"),
        vec![vec!["db.example.test.".to_string()]],
        "{}",
        a.text
    );
    let srv = dig(port, &["db.service.consul", "SRV"]);
    assert_eq!(
        srv.data("SRV"),
        vec![vec![
            "1".to_string(),
            "1".into(),
            "5432".into(),
            "db.example.test.".into()
        ]],
        "{}",
        srv.text
    );
    let node = dig(port, &["ext.node.consul", "A"]);
    assert_eq!(
        node.data("CNAME"),
        vec![vec!["db.example.test.".to_string()]],
        "{}",
        node.text
    );
}
