//! The HTTP request path minus the socket. The first byte chooses what the rest feeds:
//! Go's path rules, the query string, or the body decoder of one write endpoint (then the
//! handler's own checks on the decoded value, and for Raft-forwarded commands, the state
//! machine's apply).
#![no_main]

use api_types::decode::decode_body;
use api_types::{
    CatalogDeregistration, CatalogRegistration, CheckRegistration, CheckUpdate, ServiceRegistration,
};
use catalog_server::agent::local;
use catalog_server::catalog::{Command, Request, State};
use catalog_server::http::fuzzing;
use catalog_server::http::params::Params;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

/// Go's `path.Clean` output: rooted, no empty, `.` or `..` segment (a trailing slash kept).
fn assert_clean(p: &str) {
    assert!(p.starts_with('/'), "{p:?}");
    let inner = p.strip_suffix('/').unwrap_or(p);
    if inner.is_empty() {
        return;
    }
    for seg in inner[1..].split('/') {
        assert!(!seg.is_empty() && seg != "." && seg != "..", "{p:?}");
    }
}

fn path_rules(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let cleaned = fuzzing::clean_path(&s);
    assert_clean(&cleaned);
    assert_eq!(
        fuzzing::clean_path(&cleaned),
        cleaned,
        "clean is idempotent"
    );
    if let Some(bytes) = fuzzing::unescape(&s) {
        let text = fuzzing::bytes_to_string(&bytes);
        let shown = fuzzing::display(&text);
        assert!(shown.chars().count() <= bytes.len());
        assert!(bytes.len() <= s.len());
    } else {
        assert!(s.contains('%'), "only an escape can be invalid");
    }
    // The request as the listener hands it over (any method, this target).
    let Ok(uri) = http::Uri::try_from(data) else {
        return;
    };
    for method in [http::Method::GET, http::Method::PUT, http::Method::CONNECT] {
        let Ok(mut req) = http::Request::builder()
            .method(method.clone())
            .uri(uri.clone())
            .body(())
        else {
            continue;
        };
        match fuzzing::check(&mut req) {
            None if method != http::Method::CONNECT && req.uri().path() != "*" => {
                // What reaches the router decodes, and is clean unless an escaped `/` or
                // `.` (not path syntax before decoding, as for any key) became one when a
                // non-UTF-8 path was re-escaped.
                let p = req.uri().path();
                assert!(fuzzing::unescape(p).is_some(), "{p:?}");
                let raw = uri.path().to_ascii_lowercase();
                if !raw.contains("%2f") && !raw.contains("%2e") {
                    assert_eq!(fuzzing::clean_path(p), p);
                }
            }
            None => {}
            Some(resp) => {
                let st = resp.status().as_u16();
                assert!(st == 301 || st == 400, "{st}");
                if st == 301 {
                    // Raw bytes: a path may carry obs-text (>= 0x80), which hyper accepts.
                    let loc =
                        String::from_utf8_lossy(resp.headers()[http::header::LOCATION].as_bytes())
                            .into_owned();
                    let path = loc.split('?').next().unwrap_or(&loc);
                    assert_clean(path);
                }
            }
        }
    }
}

fn query(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let p = Params::parse(Some(&s));
    for key in [
        "recurse",
        "raw",
        "cas",
        "flags",
        "acquire",
        "release",
        "keys",
        "separator",
    ] {
        let _ = p.has(key);
        let _ = p.get(key);
        let _ = p.flag(key);
    }
    let _ = p.all("tag");
    let _ = p.node_meta();
    let _ = p.pretty();
    let _ = p.blocking(Duration::from_secs(300), Duration::from_secs(600));
    let _ = p.consistent();
    let _ = p.consistency_word();
    let _ = p.check_enterprise();
    let _ = p.check_dc("dc1");
    // The KV handler's numeric parameters.
    for key in ["cas", "flags", "index"] {
        if let Some(v) = p.get(key) {
            let _ = v.parse::<u64>();
        }
    }
    if let Some(w) = p.get("wait") {
        let _ = api_types::parse_duration(w);
    }
}

/// Raft-forwarded commands (`/v1/raft/forward`, a JSON `Command`), applied in order to one
/// state as the state machine does.
fn commands(data: &[u8]) {
    let cmds: Vec<Command> = match serde_json::from_slice::<Vec<Command>>(data) {
        Ok(v) => v,
        Err(_) => match serde_json::from_slice::<Command>(data) {
            Ok(c) => vec![c],
            Err(_) => return,
        },
    };
    let mut state = State::default();
    for (i, cmd) in cmds.into_iter().enumerate() {
        let req = Request {
            now_ms: 1_800_000_000_000 + i as u64 * 1000,
            cmd,
        };
        let _ = state.apply(i as u64 + 1, &req);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 11 {
        0 => path_rules(rest),
        1 => query(rest),
        2 => {
            if let Ok(reg) = decode_body::<ServiceRegistration>(rest) {
                let _ = local::service_records(&reg, "node1", true);
                let _ = local::service_records(&reg, "node1", false);
            }
        }
        3 => {
            if let Ok(def) = decode_body::<CheckRegistration>(rest) {
                let _ = local::check_record(&def, "node1", true);
                let _ = local::check_record(&def, "node1", false);
            }
        }
        4 => {
            let _ = decode_body::<CheckUpdate>(rest);
        }
        5 => {
            let _ = decode_body::<CatalogRegistration>(rest);
        }
        6 => {
            let _ = decode_body::<CatalogDeregistration>(rest);
        }
        7 => {
            if let Ok(n) = fuzzing::txn_body(rest) {
                assert!(n <= 128);
            }
        }
        8 => {
            if let Ok(ns) = fuzzing::session_create_body(rest, Duration::from_secs(10)) {
                assert!((0..=60_000_000_000).contains(&ns));
            }
        }
        9 => commands(rest),
        _ => {
            if let Ok(s) = std::str::from_utf8(rest) {
                let _ = api_types::parse_duration(s);
                if let Ok(ns) = api_types::parse_go_duration(s) {
                    let _ = api_types::format_go_duration(ns);
                }
            }
        }
    }
});
