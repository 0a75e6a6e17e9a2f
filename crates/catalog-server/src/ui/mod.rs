//! The web UI: a small catalog browser embedded in the binary. Static assets (`app.js`,
//! `kv.js`, `style.css`, compiled in with `include_str!`) and the page shell, rendered per request with
//! the agent's datacenter and content path. The shell is the same for every page; `app.js`
//! routes on the URL (`/ui/<dc>/services`, `/ui/<dc>/nodes/<node>`, `/ui/<dc>/kv/<prefix>`…),
//! draws each page from the public API and the internal UI endpoints, and follows changes with
//! blocking queries. Everything from the catalog is inserted as text, never as markup.
//!
//! Architecture invariant: this module knows nothing of HTTP; `http::ui` serves what it builds.

use std::sync::OnceLock;

/// An embedded file: its body, content type and strong ETag.
pub struct Asset {
    pub body: &'static str,
    pub content_type: &'static str,
    pub etag: String,
}

const APP_JS: &str = include_str!("app.js");
const KV_JS: &str = include_str!("kv.js");
const STYLE_CSS: &str = include_str!("style.css");

fn assets() -> &'static [(&'static str, Asset); 3] {
    static A: OnceLock<[(&'static str, Asset); 3]> = OnceLock::new();
    A.get_or_init(|| {
        let mk = |body: &'static str, content_type| Asset {
            body,
            content_type,
            etag: etag(body.as_bytes()),
        };
        [
            ("app.js", mk(APP_JS, "text/javascript; charset=utf-8")),
            ("kv.js", mk(KV_JS, "text/javascript; charset=utf-8")),
            ("style.css", mk(STYLE_CSS, "text/css; charset=utf-8")),
        ]
    })
}

/// The embedded asset called `name` (`app.js`, `style.css`).
pub fn asset(name: &str) -> Option<&'static Asset> {
    assets().iter().find(|(n, _)| *n == name).map(|(_, a)| a)
}

/// A strong ETag (quoted FNV-1a 64 hex digest) of `bytes`.
pub fn etag(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the page shell is rendered with (the subset of Consul's UI template data we use).
pub struct ShellData<'a> {
    /// Where the UI is mounted, with slashes: `/ui/`.
    pub content_path: &'a str,
    pub datacenter: &'a str,
    pub node_name: &'a str,
    pub acls_enabled: bool,
}

/// The HTML page every `/ui/...` path answers with. The config travels as JSON in a
/// `<script type="application/json">` whose `<`, `>` and `&` are `\u003c`-escaped.
pub fn render_shell(d: &ShellData) -> String {
    let cfg = serde_json::json!({
        "ContentPath": d.content_path,
        "LocalDatacenter": d.datacenter,
        "PrimaryDatacenter": d.datacenter,
        "NodeName": d.node_name,
        "ACLsEnabled": d.acls_enabled,
    });
    let cfg = String::from_utf8_lossy(&api_types::json::to_go_json(&cfg, false)).into_owned();
    let root = escape_html(d.content_path);
    let dc = escape_html(d.datacenter);
    let js_v = asset("app.js")
        .map(|a| a.etag.trim_matches('"'))
        .unwrap_or("");
    let kv_v = asset("kv.js")
        .map(|a| a.etag.trim_matches('"'))
        .unwrap_or("");
    let css_v = asset("style.css")
        .map(|a| a.etag.trim_matches('"'))
        .unwrap_or("");
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Consul</title>
<link rel="stylesheet" href="{root}assets/style.css?v={css_v}">
<script type="application/json" id="consul-ui-config">{cfg}</script>
</head>
<body>
<header class="top">
<a class="brand" href="{root}{dc}/services">Consul</a>
<nav>
<a id="nav-services" href="{root}{dc}/services">Services</a>
<a id="nav-nodes" href="{root}{dc}/nodes">Nodes</a>
<a id="nav-kv" href="{root}{dc}/kv/">Key/Value</a>
</nav>
<span class="dc" title="Datacenter">{dc}</span>
</header>
<div id="banner" class="banner" role="status" hidden></div>
<main id="app"><noscript>This page needs JavaScript. The same data is available from the HTTP API under /v1/.</noscript></main>
<script src="{root}assets/app.js?v={js_v}" defer></script>
<script src="{root}assets/kv.js?v={kv_v}" defer></script>
</body>
</html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_escapes_and_embeds_config() {
        let html = render_shell(&ShellData {
            content_path: "/ui/",
            datacenter: "<dc>",
            node_name: "n</script>",
            acls_enabled: false,
        });
        assert!(!html.contains("<dc>"));
        assert!(html.contains("&lt;dc&gt;"));
        assert!(!html.contains("n</script>"));
        assert!(html.contains(r#""LocalDatacenter":"\u003cdc\u003e""#));
    }

    #[test]
    fn assets_are_embedded_with_etags() {
        let js = asset("app.js").map(|a| a.etag.clone());
        assert!(js.is_some_and(|e| e.len() == 18));
        assert!(asset("nope.js").is_none());
        assert!(APP_JS.len() + KV_JS.len() + STYLE_CSS.len() < 100 * 1024);
    }
}
