//! Fixture-driven mapping tests: each `tests/fixtures/*.json` holds recorded-shape
//! `docker inspect` JSON, the settings and host facts, and the exact registrations expected.

use registrator::mapping::{self, Container, Host, Settings};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    description: String,
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    host: Host,
    #[serde(default)]
    linked_ip: Option<String>,
    inspect: Container,
    expected: Vec<serde_json::Value>,
    #[serde(default)]
    notes: Option<Vec<String>>,
}

fn fixtures() -> Vec<(PathBuf, Fixture)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read fixture");
            let f: Fixture =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, f)
        })
        .collect()
}

#[test]
fn fixtures_map_exactly() {
    let all = fixtures();
    assert!(all.len() >= 10, "fixtures missing");
    let mut failures = Vec::new();
    for (path, f) in all {
        let got = mapping::services(&f.inspect, &f.settings, &f.host, f.linked_ip.as_deref());
        // Compare the exact wire bodies registrator sends.
        let got_json: Vec<serde_json::Value> = got
            .services
            .iter()
            .map(|s| serde_json::from_slice(&api_types::json::to_go_json(s, false)).expect("json"))
            .collect();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if got_json != f.expected {
            failures.push(format!(
                "{name} ({}):\n  expected {}\n  got      {}",
                f.description,
                serde_json::to_string(&f.expected).unwrap_or_default(),
                serde_json::to_string(&got_json).unwrap_or_default()
            ));
        }
        if let Some(notes) = f.notes {
            if notes != got.notes {
                failures.push(format!("{name}: notes {:?} != {:?}", got.notes, notes));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
