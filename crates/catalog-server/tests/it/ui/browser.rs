//! The UI in a real headless Chromium: the tutorial's click path (services → nginx → its
//! instances → node consul-server01), live updates, escaping, KV editing with a conflict,
//! reconnecting after a restart, and 1,000 services. Fails when Chromium is not installed.

use super::cdp::{self, Browser};
use super::{register, spawn, start_node};

/// The tutorial in a browser: services → nginx → its instances → node consul-server01, a live
/// registration, escaping, KV editing with a conflict, and reconnecting after a restart.
#[tokio::test]
async fn ui_in_headless_chromium() {
    let mut b = Browser::launch().await;
    let mut s = start_node("consul-server01", &["-ui"]).await;
    register(&s, "test-01", "nginx", 81).await;
    register(&s, "test-02", "nginx", 82).await;
    register(&s, "test-03", "httpd", 83).await;
    register(&s, "test-04", "httpd", 84).await;
    register(&s, "evil", "<script>window.pwned=1</script>", 99).await;
    let out = r#"{"Status":"warning","Output":"<img src=x onerror=window.pwned=2>"}"#;
    s.put("/v1/agent/check/update/service:test-02", out).await;

    b.navigate(&s.url("/")).await;
    b.wait_for(
        r#"document.querySelector('#services tr[data-service="nginx"]')"#,
        10,
        "services list",
    )
    .await;
    b.wait_for(
        "location.pathname === '/ui/dc1/services'",
        5,
        "redirect to services",
    )
    .await;
    b.screenshot("services").await;
    let text = b
        .eval("document.getElementById('services').innerText")
        .await;
    assert!(
        text.as_str()
            .unwrap()
            .contains("<script>window.pwned=1</script>"),
        "{text}"
    );
    assert!(text.as_str().unwrap().contains("1 warning"), "{text}");

    b.eval(r#"document.querySelector('#services tr[data-service="nginx"] a').click()"#)
        .await;
    b.wait_for(
        "document.querySelectorAll('#instances .instance').length === 2",
        10,
        "two nginx instances",
    )
    .await;
    let text = b
        .eval("document.getElementById('instances').innerText")
        .await
        .to_string();
    assert!(
        text.contains("127.0.0.1:81")
            && text.contains("127.0.0.1:82")
            && text.contains("<img src=x"),
        "{text}"
    );
    b.screenshot("service-instances").await;

    b.eval("document.querySelector('#instances .node-link').click()")
        .await;
    b.wait_for(
        "location.pathname === '/ui/dc1/nodes/consul-server01'",
        5,
        "node page",
    )
    .await;
    b.wait_for(
        "document.querySelectorAll('#node-services tr[data-instance]').length === 6",
        10,
        "six instances",
    )
    .await;
    b.screenshot("node").await;

    // Live: the node page, loaded before, shows an instance registered now.
    register(&s, "test-05", "nginx", 85).await;
    b.wait_for(
        r#"document.querySelector('#node-services tr[data-instance="test-05"]')"#,
        10,
        "live test-05",
    )
    .await;
    assert_eq!(
        b.eval("window.pwned === undefined").await,
        true,
        "markup from the catalog ran"
    );

    b.eval("document.getElementById('nav-nodes').click()").await;
    b.wait_for(
        r#"document.querySelector('#nodes tr[data-node="consul-server01"]')"#,
        10,
        "nodes list",
    )
    .await;
    b.screenshot("nodes").await;

    // KV: view, edit, conflict, create, delete.
    s.put("/v1/kv/app/config", "v1").await;
    b.navigate(&s.url("/ui/dc1/kv/app/")).await;
    b.wait_for(
        r#"document.querySelector('#kv-keys tr[data-key="app/config"] a')"#,
        10,
        "kv list",
    )
    .await;
    b.screenshot("kv-folder").await;
    b.eval(r#"document.querySelector('#kv-keys tr[data-key="app/config"] a').click()"#)
        .await;
    b.wait_for(
        "document.getElementById('kv-value').value === 'v1'",
        10,
        "kv value",
    )
    .await;
    b.eval("(() => { const t = document.getElementById('kv-value'); t.value = 'v2'; t.dispatchEvent(new Event('input')); document.getElementById('kv-save').click(); })()").await;
    b.wait_for(
        "document.getElementById('kv-msg').innerText.includes('Saved')",
        10,
        "saved",
    )
    .await;
    assert_eq!(s.get("/v1/kv/app/config?raw").await.unwrap().1, "v2");
    b.eval("(() => { const t = document.getElementById('kv-value'); t.value = 'mine'; t.dispatchEvent(new Event('input')); })()").await;
    s.put("/v1/kv/app/config", "theirs").await;
    b.eval("document.getElementById('kv-save').click()").await;
    b.wait_for(
        "document.getElementById('kv-conflict')",
        10,
        "conflict message",
    )
    .await;
    b.screenshot("kv-conflict").await;
    assert_eq!(s.get("/v1/kv/app/config?raw").await.unwrap().1, "theirs");
    b.navigate(&s.url("/ui/dc1/kv/app/")).await;
    b.wait_for("document.getElementById('kv-create')", 10, "create form")
        .await;
    b.eval("(() => { document.getElementById('kv-new-key').value = 'new'; document.getElementById('kv-new-value').value = 'hello'; document.getElementById('kv-create-btn').click(); })()").await;
    b.wait_for(
        "location.pathname === '/ui/dc1/kv/app/new'",
        10,
        "created key page",
    )
    .await;
    assert_eq!(s.get("/v1/kv/app/new?raw").await.unwrap().1, "hello");
    b.wait_for(
        "document.getElementById('kv-value').value === 'hello'",
        10,
        "new value",
    )
    .await;
    b.eval("document.getElementById('kv-delete').click(); document.getElementById('kv-delete').click()").await;
    b.wait_for(
        "location.pathname === '/ui/dc1/kv/app/'",
        10,
        "back to folder",
    )
    .await;
    assert_eq!(s.get("/v1/kv/app/new").await.unwrap().0, 404);

    // Restart: the services page shows a banner, reconnects, and catches up.
    b.navigate(&s.url("/ui/dc1/services")).await;
    b.wait_for(
        r#"document.querySelector('#services tr[data-service="nginx"]')"#,
        10,
        "services again",
    )
    .await;
    s.kill9();
    b.wait_for("!document.getElementById('banner').hidden && document.getElementById('banner').innerText.includes('Reconnecting')", 15, "reconnecting banner").await;
    b.screenshot("reconnecting").await;
    spawn(&mut s).await;
    register(&s, "late", "late-service", 90).await;
    b.wait_for(
        r#"document.querySelector('#services tr[data-service="late-service"]')"#,
        30,
        "catch-up after restart",
    )
    .await;
    assert_eq!(
        b.eval("document.getElementById('banner').hidden").await,
        true
    );
    println!("screenshots in {}", cdp::screenshot_dir().display());
}

/// 1,000 services: the services page is drawn and filterable well under a second.
#[tokio::test]
async fn ui_thousand_services_in_browser() {
    use futures::StreamExt;
    let mut b = Browser::launch().await;
    let s = start_node("consul-server01", &["-ui"]).await;
    futures::stream::iter(0..1000)
        .map(|i| {
            let body = format!(
                r#"{{"Node":"ext-{}","Address":"10.0.0.{}","Service":{{"Service":"svc-{i:04}","Port":80,"Tags":["t{}"]}},
                    "Check":{{"CheckID":"c-{i}","Name":"c","Status":"passing","ServiceID":"svc-{i:04}"}}}}"#,
                i % 10,
                i % 10,
                i % 7
            );
            let s = &s;
            async move { assert_eq!(s.put("/v1/catalog/register", body).await.0, 200) }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let (_, _, json) = s.get_full("/v1/internal/ui/services").await;
    println!(
        "/v1/internal/ui/services with 1001 services: {} bytes",
        json.len()
    );
    b.navigate(&s.url("/ui/dc1/services")).await;
    b.wait_for(
        "document.querySelectorAll('#services tbody tr').length === 1001",
        10,
        "1001 rows",
    )
    .await;
    let ms = b
        .eval("performance.now()")
        .await
        .as_f64()
        .unwrap_or(f64::MAX);
    println!(
        "services page with 1001 services interactive after {ms:.0} ms (incl. 100 ms polling)"
    );
    assert!(ms < 3000.0, "{ms} ms");
    let filter_ms = b
        .eval("(() => { const f = document.getElementById('filter'); const t0 = performance.now(); f.value = 'svc-09'; f.dispatchEvent(new Event('input')); return performance.now() - t0; })()")
        .await
        .as_f64()
        .unwrap_or(f64::MAX);
    assert_eq!(
        b.eval("document.querySelectorAll('#services tbody tr').length")
            .await,
        100
    );
    println!("filtering 1001 services took {filter_ms:.1} ms");
    assert!(filter_ms < 500.0);
    b.screenshot("services-1000").await;
}

/// With `acl { default_policy = "deny" }`: a page the agent refuses asks for a token; the
/// token given is sent with every request after (the page draws); a list the token cannot
/// fully see says entries are hidden, with a way to give another token.
#[tokio::test]
async fn ui_asks_for_a_token_under_acls() {
    const MGMT: &str = "3e4d5c6b-7a89-4b0c-9d1e-2f3a4b5c6d7e";
    let mut b = Browser::launch().await;
    let acl = format!(
        r#"acl {{ enabled = true default_policy = "deny" tokens {{ initial_management = "{MGMT}" }} }}"#
    );
    let mut s = crate::common::TestServer::new(
        crate::common::TestServer::builder()
            .node("consul-server01")
            .token(MGMT)
            .args(["-ui", "-hcl", &acl])
            .build(),
    );
    s.start().await;
    let r = s
        .http
        .put(s.url("/v1/agent/service/register"))
        .header("X-Consul-Token", MGMT)
        .body(r#"{"ID":"web-1","Name":"web","Port":80}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The node page needs node:read: refused, so the page asks for a token.
    b.navigate(&s.url("/ui/dc1/nodes/consul-server01")).await;
    b.wait_for("document.getElementById('token-form')", 10, "token prompt")
        .await;
    let why = b
        .eval("document.getElementById('token-why').innerText")
        .await;
    assert!(
        why.as_str().unwrap_or("").starts_with("Permission denied"),
        "{why}"
    );
    b.screenshot("acl-token-prompt").await;
    b.eval(&format!(
        "document.getElementById('token-input').value = '{MGMT}'; document.getElementById('token-save').click()"
    ))
    .await;
    b.wait_for(
        "document.querySelector('#node-services tr[data-instance=\"web-1\"]')",
        10,
        "the node page with the token",
    )
    .await;

    // Forget the token: the services list is drawn, with a note that entries are hidden.
    b.eval("localStorage.removeItem('consul:token')").await;
    b.navigate(&s.url("/ui/dc1/services")).await;
    b.wait_for(
        "document.getElementById('acl-filtered')",
        10,
        "hidden-by-ACLs note",
    )
    .await;
    let rows = b
        .eval("document.querySelectorAll('#services tbody tr').length")
        .await;
    assert_eq!(rows, 0, "anonymous sees no service");
    b.eval("document.getElementById('acl-login').click()").await;
    b.wait_for("document.getElementById('token-form')", 5, "token prompt")
        .await;
    b.eval(&format!(
        "document.getElementById('token-input').value = '{MGMT}'; document.getElementById('token-save').click()"
    ))
    .await;
    b.wait_for(
        "document.querySelector('#services tr[data-service=\"web\"]')",
        10,
        "services with the token",
    )
    .await;
}
