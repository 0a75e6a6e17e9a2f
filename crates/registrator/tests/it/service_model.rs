//! The service model with real containers: every `SERVICE_CHECK_*` key upstream's consul
//! adapter reads (and a few it does not), `-useIpFromLabel`, `-internal`, and the network
//! choice for containers on several networks (`SERVICE_[<port>_]NETWORK`, and the default).
//! The real `registrator` binary runs against the real engine and the recording fake Consul
//! (exact request bodies), and once against the real `consul agent -dev` (the checks it
//! builds are accepted and run as the kinds asked for).
//!
//! Images are FROM-scratch busybox builds; every container, network and image carries the
//! test label and a unique `regit-` name and is removed by its guard. Registrator sees every
//! container on the engine, so assertions look only at this test's service IDs.

use super::common::consul_agent::ConsulAgent;
use super::common::fake_consul::FakeConsul;
use super::common::{
    docker, hostname, registrator, require_docker, unique, wait_until, Container, Image,
};
use serde_json::{json, Value};
use std::time::Duration;
use test_support::docker::Network;

const T: Duration = Duration::from_secs(30);

fn sid(name: &str, port: u16) -> String {
    format!("{}:{name}:{port}", hostname())
}

/// `docker run -d` with `-e` for each of `env` and `--label` for each of `labels`, then `args`.
fn run_with(name: &str, env: &[&str], labels: &[&str], args: &[&str]) -> Container {
    let mut all: Vec<&str> = Vec::new();
    for e in env {
        all.extend(["-e", e]);
    }
    for l in labels {
        all.extend(["--label", l]);
    }
    all.extend_from_slice(args);
    Container::run(name, &all)
}

/// `docker create` on the first of `networks`, `docker network connect` to the others, then
/// `docker start`: the container is on every network when its `start` event arrives.
fn run_on_networks(name: &str, networks: &[&str], env: &[&str], args: &[&str]) -> Container {
    let label = test_support::docker::label();
    let mut all = vec!["create", "--name", name, "--label", &label];
    if let Some(first) = networks.first() {
        all.extend(["--network", first]);
    }
    for e in env {
        all.extend(["-e", e]);
    }
    all.extend_from_slice(args);
    // The guard first: a create that fails half-way is still removed.
    let mut c = Container {
        name: name.to_string(),
        id: String::new(),
    };
    c.id = docker(&all);
    for n in networks.iter().skip(1) {
        docker(&["network", "connect", n, name]);
    }
    docker(&["start", name]);
    c
}

/// The container's address on `network`.
fn ip_on(c: &Container, network: &str) -> String {
    let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
    let ip = docker(&["inspect", "-f", &format, &c.name]);
    assert!(!ip.is_empty(), "{} has no address on {network}", c.name);
    ip
}

/// Waits until the fake holds a registration `id`; its body.
async fn registered(fake: &FakeConsul, id: &str, log: &dyn Fn() -> String) -> Value {
    let ok = wait_until(T, || async { fake.service(id).is_some() }).await;
    assert!(
        ok,
        "{id} not registered; calls {:?}\nregistrator log:\n{}",
        fake.calls(),
        log()
    );
    fake.service(id).unwrap_or_default()
}

/// Waits until registrator's log holds `line`.
async fn logged(line: &str, log: &dyn Fn() -> String) {
    let ok = wait_until(T, || async { log().contains(line) }).await;
    assert!(ok, "no `{line}` in the registrator log:\n{}", log());
}

/// One `SERVICE_CHECK_*` case: container suffix, env, labels, the expected `Check` (none:
/// `Value::Null`) and `Meta`, given the host port and the container ID.
type Expect = Box<dyn Fn(u16, &str) -> (Value, Value)>;

#[tokio::test(flavor = "multi_thread")]
async fn check_keys_reach_consul_as_upstream_builds_them() {
    require_docker();
    let fake = FakeConsul::start().await;
    let name = unique("checks");
    let image = Image::busybox(&name, "EXPOSE 80");
    let ip_label = format!("{name}.ip");
    let reg = registrator(&[
        "-ip=127.0.0.1",
        &format!("-useIpFromLabel={ip_label}"),
        &fake.uri(),
    ]);
    let label_ip = format!("{ip_label}=10.1.2.3/24");
    let cases: Vec<(&str, Vec<&str>, Vec<&str>, Expect)> = vec![
        (
            // Every HTTP key; a label beats the env var of the same key.
            "http",
            vec![
                "SERVICE_CHECK_HTTP=/health",
                "SERVICE_CHECK_HTTP_METHOD=HEAD",
                "SERVICE_CHECK_TIMEOUT=2s",
                "SERVICE_CHECK_INTERVAL=5s",
                "SERVICE_CHECK_INITIAL_STATUS=passing",
                "SERVICE_CHECK_DEREGISTER_AFTER=10m",
            ],
            vec!["SERVICE_CHECK_INTERVAL=15s"],
            Box::new(|p: u16, _: &str| {
                (
                    json!({"Status": "passing", "Interval": "15s", "Timeout": "2s",
                        "HTTP": format!("http://127.0.0.1:{p}/health"), "Method": "HEAD",
                        "DeregisterCriticalServiceAfter": "10m0s"}),
                    json!({"check_http": "/health", "check_http_method": "HEAD",
                        "check_timeout": "2s", "check_interval": "15s",
                        "check_initial_status": "passing", "check_deregister_after": "10m"}),
                )
            }),
        ),
        (
            // HTTPS takes its own method; skip-verify is not read for HTTPS.
            "https",
            vec![
                "SERVICE_CHECK_HTTPS=/s",
                "SERVICE_CHECK_HTTPS_METHOD=POST",
                "SERVICE_CHECK_HTTP_METHOD=GET",
                "SERVICE_CHECK_TLS_SKIP_VERIFY=true",
            ],
            vec![],
            Box::new(|p: u16, _: &str| {
                (
                    json!({"Interval": "10s", "HTTP": format!("https://127.0.0.1:{p}/s"),
                        "Method": "POST"}),
                    json!({"check_https": "/s", "check_https_method": "POST",
                        "check_http_method": "GET", "check_tls_skip_verify": "true"}),
                )
            }),
        ),
        (
            "grpctls",
            vec![
                "SERVICE_CHECK_GRPC=1",
                "SERVICE_CHECK_GRPC_USE_TLS=1",
                "SERVICE_CHECK_TLS_SKIP_VERIFY=1",
                "SERVICE_CHECK_TIMEOUT=3s",
            ],
            vec![],
            Box::new(|p: u16, _: &str| {
                (
                    json!({"Interval": "10s", "Timeout": "3s", "TLSSkipVerify": true,
                        "GRPC": format!("127.0.0.1:{p}"), "GRPCUseTLS": true}),
                    json!({"check_grpc": "1", "check_grpc_use_tls": "1",
                        "check_tls_skip_verify": "1", "check_timeout": "3s"}),
                )
            }),
        ),
        (
            // Skip-verify only counts with TLS.
            "grpc",
            vec!["SERVICE_CHECK_GRPC=1", "SERVICE_CHECK_TLS_SKIP_VERIFY=1"],
            vec![],
            Box::new(|p: u16, _: &str| {
                (
                    json!({"Interval": "10s", "GRPC": format!("127.0.0.1:{p}")}),
                    json!({"check_grpc": "1", "check_tls_skip_verify": "1"}),
                )
            }),
        ),
        (
            // Script before TTL before TCP; $SERVICE_IP/$SERVICE_PORT substituted.
            "script",
            vec![
                "SERVICE_CHECK_SCRIPT=nc -z $SERVICE_IP $SERVICE_PORT",
                "SERVICE_CHECK_TTL=30s",
                "SERVICE_CHECK_TCP=1",
            ],
            vec![],
            Box::new(|p: u16, _: &str| {
                (
                    json!({"Interval": "10s", "Args": [format!("nc -z 127.0.0.1 {p}")]}),
                    json!({"check_script": "nc -z $SERVICE_IP $SERVICE_PORT",
                        "check_ttl": "30s", "check_tcp": "1"}),
                )
            }),
        ),
        (
            "cmd",
            vec!["SERVICE_CHECK_CMD=/bin/check"],
            vec![],
            Box::new(|_: u16, id: &str| {
                let id12: String = id.chars().take(12).collect();
                (
                    json!({"Interval": "10s", "Args": ["check-cmd", id12, "80", "/bin/check"]}),
                    json!({"check_cmd": "/bin/check"}),
                )
            }),
        ),
        (
            // TTL beats TCP and takes neither interval nor timeout.
            "ttl",
            vec![
                "SERVICE_CHECK_TTL=30s",
                "SERVICE_CHECK_INTERVAL=5s",
                "SERVICE_CHECK_TIMEOUT=1s",
                "SERVICE_CHECK_TCP=1",
            ],
            vec![],
            Box::new(|_: u16, _: &str| {
                (
                    json!({"TTL": "30s"}),
                    json!({"check_ttl": "30s", "check_interval": "5s", "check_timeout": "1s",
                        "check_tcp": "1"}),
                )
            }),
        ),
        (
            // An empty value is unset: HTTP is skipped, TCP taken; the empty key is in Meta.
            "tcp",
            vec!["SERVICE_CHECK_HTTP=", "SERVICE_CHECK_TCP=yes"],
            vec![],
            Box::new(|p: u16, _: &str| {
                (
                    json!({"Interval": "10s", "TCP": format!("127.0.0.1:{p}")}),
                    json!({"check_http": "", "check_tcp": "yes"}),
                )
            }),
        ),
        (
            // The port's own key beats the generic one, in any order.
            "port",
            vec!["SERVICE_80_CHECK_HTTP=/port", "SERVICE_CHECK_HTTP=/generic"],
            vec![],
            Box::new(|p: u16, _: &str| {
                (
                    json!({"Interval": "10s", "HTTP": format!("http://127.0.0.1:{p}/port")}),
                    json!({"check_http": "/port"}),
                )
            }),
        ),
        (
            // Keys upstream never reads build no check; they are metadata like any other.
            "unread",
            vec![
                "SERVICE_CHECK_DOCKER=/bin/check",
                "SERVICE_CHECK_SHELL=/bin/sh",
                "SERVICE_CHECK_HEADER=X-A: b",
                "SERVICE_CHECK_INITIAL_STATUS=passing",
            ],
            vec![],
            Box::new(|_: u16, _: &str| {
                (
                    Value::Null,
                    json!({"check_docker": "/bin/check", "check_shell": "/bin/sh",
                        "check_header": "X-A: b", "check_initial_status": "passing"}),
                )
            }),
        ),
        (
            // -useIpFromLabel: the label's address (CIDR cut) for the service and its check;
            // the port stays the published one.
            "labelip",
            vec!["SERVICE_CHECK_TCP=1"],
            vec![label_ip.as_str()],
            Box::new(|p: u16, _: &str| {
                (
                    json!({"Interval": "10s", "TCP": format!("10.1.2.3:{p}")}),
                    json!({"check_tcp": "1"}),
                )
            }),
        ),
    ];
    let mut running = Vec::new();
    for (suffix, env, labels, expect) in cases {
        let c = run_with(
            &format!("{name}-{suffix}"),
            &env,
            &labels,
            &["-p", "0:80", &image.tag],
        );
        running.push((suffix, c, expect));
    }
    // A duration that is not a Go duration: Consul would refuse the registration; it is
    // skipped, saying which key.
    let bad = run_with(
        &format!("{name}-bad"),
        &["SERVICE_CHECK_TTL=soon"],
        &[],
        &["-p", "0:80", &image.tag],
    );
    for (suffix, c, expect) in &running {
        let id = sid(&c.name, 80);
        let port = c.host_port("80/tcp");
        let body = registered(&fake, &id, &|| reg.log()).await;
        let (check, meta) = expect(port, &c.id);
        let address = if *suffix == "labelip" {
            "10.1.2.3"
        } else {
            "127.0.0.1"
        };
        let mut want = json!({"ID": id, "Name": &name, "Port": port, "Address": address,
            "Meta": meta});
        if !check.is_null() {
            want["Check"] = check;
        }
        assert_eq!(body, want, "case {suffix}");
    }
    let id12: String = bad.id.chars().take(12).collect();
    logged(
        &format!("ignored: {id12} service on port 80: invalid SERVICE_CHECK_TTL=\"soon\""),
        &|| reg.log(),
    )
    .await;
    assert!(fake.service(&sid(&bad.name, 80)).is_none());
    // A container without the label keeps the computed address, and upstream's line says so.
    logged(
        &format!("Label '{ip_label}' not found in container configuration"),
        &|| reg.log(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_picks_the_network_deterministically_or_as_named() {
    require_docker();
    let fake = FakeConsul::start().await;
    let name = unique("internal");
    let image = Image::busybox(&name, "EXPOSE 80");
    // Three networks, in name order a < b < c; each container below is created on `b`.
    let nets: Vec<Network> = ["a", "b", "c"]
        .iter()
        .map(|s| Network::create(&format!("{name}-{s}"), &[]))
        .collect();
    let (na, nb, nc) = (
        nets[0].name.as_str(),
        nets[1].name.as_str(),
        nets[2].name.as_str(),
    );
    let ip_label = format!("{name}.ip");
    let reg = registrator(&[
        "-internal",
        "-ip=127.0.0.1",
        &format!("-useIpFromLabel={ip_label}"),
        &fake.uri(),
    ]);
    let log = || reg.log();
    let ok = wait_until(T, || async { reg.log().contains("Syncing services on") }).await;
    assert!(ok, "{}", reg.log());

    // On three networks, none named: the one it was created on (not the first or last by
    // name, and never Go's random pick). Unpublished, yet registered at the exposed port.
    let plain = run_on_networks(&format!("{name}-plain"), &[nb, na, nc], &[], &[&image.tag]);
    // SERVICE_NETWORK names the network.
    let named = run_on_networks(
        &format!("{name}-named"),
        &[nb, na, nc],
        &[&format!("SERVICE_NETWORK={nc}")],
        &[&image.tag],
    );
    // SERVICE_<port>_NETWORK beats SERVICE_NETWORK for its port.
    let ports = run_on_networks(
        &format!("{name}-ports"),
        &[nb, na],
        &[
            &format!("SERVICE_NETWORK={na}"),
            &format!("SERVICE_81_NETWORK={nb}"),
        ],
        &["--expose", "81", &image.tag],
    );
    // On the default bridge, published: the container IP and the exposed port, not -ip and
    // the host port.
    let bridge = Container::run(&format!("{name}-bridge"), &["-p", "0:80", &image.tag]);
    // SERVICE_NETWORK=host: registered as without -internal (-ip, published port) ...
    let host = run_with(
        &format!("{name}-host"),
        &["SERVICE_NETWORK=host"],
        &[],
        &["-p", "0:80", &image.tag],
    );
    // ... and skipped when the port is not published.
    let host_unpublished = run_with(
        &format!("{name}-hostnp"),
        &["SERVICE_NETWORK=host"],
        &[],
        &[&image.tag],
    );
    // A network it is not on: the default rule, said in the log.
    let missing_net = format!("{name}-missing");
    let missing = run_with(
        &format!("{name}-miss"),
        &[&format!("SERVICE_NETWORK={missing_net}")],
        &[],
        &[&image.tag],
    );
    // -useIpFromLabel beats -internal's address; the port stays the exposed one.
    let labelled = run_with(
        &format!("{name}-label"),
        &[],
        &[&format!("{ip_label}=10.9.8.7")],
        &[&image.tag],
    );

    let addr = |b: &Value| {
        (
            b["Address"].clone(),
            b["Port"].clone(),
            b.get("Meta").cloned(),
        )
    };
    let b = registered(&fake, &sid(&plain.name, 80), &log).await;
    assert_eq!(addr(&b), (json!(ip_on(&plain, nb)), json!(80), None));
    let b = registered(&fake, &sid(&named.name, 80), &log).await;
    assert_eq!(
        addr(&b),
        (
            json!(ip_on(&named, nc)),
            json!(80),
            Some(json!({"network": nc}))
        )
    );
    let b = registered(&fake, &sid(&ports.name, 80), &log).await;
    assert_eq!(b["Name"], json!(format!("{name}-80")));
    assert_eq!(
        addr(&b),
        (
            json!(ip_on(&ports, na)),
            json!(80),
            Some(json!({"network": na}))
        )
    );
    let b = registered(&fake, &sid(&ports.name, 81), &log).await;
    assert_eq!(
        addr(&b),
        (
            json!(ip_on(&ports, nb)),
            json!(81),
            Some(json!({"network": nb}))
        )
    );
    let bridge_ip = docker(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.IPAddress}}",
        &bridge.name,
    ]);
    let b = registered(&fake, &sid(&bridge.name, 80), &log).await;
    assert_eq!(addr(&b), (json!(bridge_ip), json!(80), None));
    let b = registered(&fake, &sid(&host.name, 80), &log).await;
    assert_eq!(
        addr(&b),
        (
            json!("127.0.0.1"),
            json!(host.host_port("80/tcp")),
            Some(json!({"network": "host"}))
        )
    );
    let missing_ip = docker(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.IPAddress}}",
        &missing.name,
    ]);
    let b = registered(&fake, &sid(&missing.name, 80), &log).await;
    assert_eq!(
        addr(&b),
        (
            json!(missing_ip),
            json!(80),
            Some(json!({"network": missing_net}))
        )
    );
    let id12 = |c: &Container| c.id.chars().take(12).collect::<String>();
    logged(
        &format!(
            "{} port 80: no address on network \"{missing_net}\" (SERVICE_NETWORK), using \"{missing_ip}\"",
            id12(&missing)
        ),
        &log,
    )
    .await;
    let b = registered(&fake, &sid(&labelled.name, 80), &log).await;
    assert_eq!(addr(&b), (json!("10.9.8.7"), json!(80), None));
    logged(
        &format!(
            "ignored: {} service on port 80: network \"host\" (SERVICE_NETWORK) asks for the published port",
            id12(&host_unpublished)
        ),
        &log,
    )
    .await;
    assert!(fake.service(&sid(&host_unpublished.name, 80)).is_none());
    // Containers before the networks they are on.
    drop((
        plain,
        named,
        ports,
        bridge,
        host,
        host_unpublished,
        missing,
        labelled,
    ));
    drop(nets);
}

#[tokio::test(flavor = "multi_thread")]
async fn real_consul_runs_the_checks_registrator_builds() {
    require_docker();
    let agent = ConsulAgent::start().await;
    let name = unique("rchecks");
    let image = Image::busybox(&name, "EXPOSE 80");
    let reg = registrator(&["-ip=127.0.0.1", &agent.uri()]);
    let grpc = run_with(
        &format!("{name}-grpc"),
        &[
            "SERVICE_CHECK_GRPC=1",
            "SERVICE_CHECK_GRPC_USE_TLS=1",
            "SERVICE_CHECK_TLS_SKIP_VERIFY=1",
            "SERVICE_CHECK_INTERVAL=30s",
        ],
        &[],
        &["-p", "0:80", &image.tag],
    );
    let ttl = run_with(
        &format!("{name}-ttl"),
        &[
            "SERVICE_CHECK_TTL=5m",
            "SERVICE_CHECK_INITIAL_STATUS=passing",
            "SERVICE_CHECK_DEREGISTER_AFTER=10m",
        ],
        &[],
        &["-p", "0:80", &image.tag],
    );
    let (grpc_check, ttl_check) = (
        format!("service:{}", sid(&grpc.name, 80)),
        format!("service:{}", sid(&ttl.name, 80)),
    );
    let ok = wait_until(T, || async {
        let checks = agent.get("/v1/agent/checks").await;
        checks.get(&grpc_check).is_some() && checks.get(&ttl_check).is_some()
    })
    .await;
    assert!(
        ok,
        "checks missing: {}\nregistrator log:\n{}",
        agent.get("/v1/agent/checks").await,
        reg.log()
    );
    let checks = agent.get("/v1/agent/checks").await;
    let g = &checks[&grpc_check];
    assert_eq!(g["Type"], json!("grpc"), "{g}");
    let port = grpc.host_port("80/tcp");
    assert_eq!(g["Definition"]["GRPC"], json!(format!("127.0.0.1:{port}")));
    assert_eq!(g["Definition"]["GRPCUseTLS"], json!(true), "{g}");
    assert_eq!(g["Definition"]["TLSSkipVerify"], json!(true), "{g}");
    assert_eq!(g["Definition"]["Interval"], json!("30s"), "{g}");
    let t = &checks[&ttl_check];
    assert_eq!(
        (t["Type"].clone(), t["Status"].clone()),
        (json!("ttl"), json!("passing")),
        "{t}"
    );
    assert_eq!(
        t["Definition"]["DeregisterCriticalServiceAfter"],
        json!("10m0s"),
        "{t}"
    );
    let services = agent.get("/v1/agent/services").await;
    assert_eq!(
        services[&sid(&ttl.name, 80)]["Meta"],
        json!({"check_ttl": "5m", "check_initial_status": "passing",
            "check_deregister_after": "10m"}),
        "{services}"
    );
}
