//! The boundaries docs/ARCHITECTURE.md states, checked on the source: which module may name
//! which library (only the store names sled, only `raft/` openraft, only `http/` axum and hyper,
//! only `dns/` hickory, only registrator's `docker.rs` and the Docker check bollard) and which of `consul`'s modules may use which
//! (no import cycles between the layers). A line that crosses a boundary fails with its place.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The code lines of a file (comments dropped), with their numbers.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

/// Whether `line` names the Rust path root `name` (`name::…` or `use name`), not as the tail
/// of a longer identifier.
fn names(line: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(at) = line[from..].find(name) {
        let start = from + at;
        let end = start + name.len();
        let before_ok = line[..start].chars().next_back().is_none_or(|c| !ident(c));
        let after = &line[end..];
        if before_ok
            && (after.starts_with("::")
                || line.trim_start().starts_with("use ") && after.starts_with(';'))
        {
            return true;
        }
        from = end;
    }
    false
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn crate_src(name: &str) -> PathBuf {
    workspace()
        .join("crates")
        .join(name)
        .join("src")
        .canonicalize()
        .expect("crate src")
}

/// The places under `roots` that name `library`, outside `allowed` (relative to the workspace).
fn offenders(roots: &[PathBuf], library: &str, allowed: &[&str]) -> Vec<String> {
    let root = workspace().canonicalize().expect("workspace");
    let mut out = Vec::new();
    for dir in roots {
        for file in rust_files(dir) {
            let rel = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            if allowed.iter().any(|a| rel.starts_with(a)) {
                continue;
            }
            for (n, line) in code_lines(&file) {
                if names(&line, library) {
                    out.push(format!("{rel}:{n}: {}", line.trim()));
                }
            }
        }
    }
    out
}

#[test]
fn each_library_is_named_by_one_room() {
    let all: Vec<PathBuf> = [
        "catalog-server",
        "api-types",
        "registrator",
        "ctemplate",
        "gotemplate",
        "acl",
    ]
    .iter()
    .map(|c| crate_src(c))
    .collect();
    let rules: [(&str, &[&str]); 8] = [
        ("sled", &["crates/catalog-server/src/store/"]),
        ("hickory_server", &["crates/catalog-server/src/dns/"]),
        ("hickory_proto", &["crates/catalog-server/src/dns/"]),
        ("openraft", &["crates/catalog-server/src/raft/"]),
        ("axum", &["crates/catalog-server/src/http/"]),
        ("hyper", &["crates/catalog-server/src/http/"]),
        (
            "hyper_util",
            &[
                "crates/catalog-server/src/http/",
                // tonic takes the gRPC check's own connection through hyper's I/O traits
                "crates/catalog-server/src/health/grpc.rs",
            ],
        ),
        (
            "bollard",
            &[
                "crates/registrator/src/docker.rs",
                "crates/catalog-server/src/health/docker.rs",
            ],
        ),
    ];
    let mut broken = Vec::new();
    for (library, allowed) in rules {
        for o in offenders(&all, library, allowed) {
            broken.push(format!("{library} named outside {allowed:?}: {o}"));
        }
    }
    assert!(
        broken.is_empty(),
        "boundaries crossed:\n{}",
        broken.join("\n")
    );
}

/// The Go template engine is a language, not a client: it names neither Consul's wire types
/// nor any I/O library, so consul-template and registrator can share it.
#[test]
fn the_template_engine_stands_alone() {
    let engine = crate_src("gotemplate");
    let mut broken = Vec::new();
    for library in [
        "api_types",
        "reqwest",
        "tokio",
        "bollard",
        "ctemplate",
        "registrator",
    ] {
        for o in offenders(std::slice::from_ref(&engine), library, &[]) {
            broken.push(format!("gotemplate names {library}: {o}"));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The ACL rules language and authorizer are pure: no I/O, clock or runtime, so every check
/// is a function of the rules and the request (and the catalog's `apply` stays deterministic).
#[test]
fn the_acl_rules_are_pure() {
    let rules = crate_src("acl");
    let mut broken = Vec::new();
    for library in [
        "tokio",
        "reqwest",
        "axum",
        "hyper",
        "sled",
        "openraft",
        "std::fs",
        "std::net",
        "std::time",
        "std::process",
        "catalog_server",
    ] {
        for o in offenders(std::slice::from_ref(&rules), library, &[]) {
            broken.push(format!("acl names {library}: {o}"));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The places under `src` where a module (a directory or file of the crate) uses a module it
/// must not (`crate::<forbidden>::…`).
fn layering_offenders(src: &Path, rules: &[(&str, &[&str])]) -> Vec<String> {
    let mut broken = Vec::new();
    for (module, forbidden) in rules {
        let dir = src.join(module);
        let files = if dir.is_dir() {
            rust_files(&dir)
        } else {
            vec![src.join(format!("{module}.rs"))]
        };
        for file in files {
            for (n, line) in code_lines(&file) {
                for f in *forbidden {
                    let used = line.contains(&format!("crate::{f}::"))
                        || line.contains(&format!("crate::{f};"))
                        || line.contains(&format!("crate::{f} "));
                    if used {
                        broken.push(format!(
                            "{module} uses {f}: {}:{n}: {}",
                            file.display(),
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    broken
}

/// The layers of `consul`: each module (a directory or file under crates/catalog-server/src)
/// and the modules it must not use. Together they keep the graph acyclic: the catalog domain
/// at the bottom, Raft and storage under the agent, the HTTP layer over the agent, the
/// lifecycle and the CLI on top.
#[test]
fn consul_modules_depend_downwards() {
    let rules: [(&str, &[&str]); 11] = [
        (
            "catalog",
            &[
                "agent",
                "http",
                "raft",
                "store",
                "wal",
                "health",
                "cli",
                "config",
                "lifecycle",
                "blocking",
            ],
        ),
        ("wal", &["raft", "agent", "http", "cli", "lifecycle"]),
        ("store", &["raft", "agent", "http", "cli", "lifecycle"]),
        ("health", &["agent", "http", "raft", "cli", "lifecycle"]),
        ("raft", &["agent", "http", "cli", "lifecycle", "health"]),
        ("config", &["cli", "agent", "http", "lifecycle", "raft"]),
        ("agent", &["http", "dns", "cli", "lifecycle", "listeners"]),
        ("http", &["cli", "lifecycle"]),
        ("dns", &["http", "cli", "lifecycle", "raft", "store", "wal"]),
        ("lifecycle", &["cli"]),
        // Metrics are recorded from everywhere: the recorder depends on nothing of ours.
        (
            "telemetry",
            &[
                "agent",
                "http",
                "raft",
                "catalog",
                "config",
                "blocking",
                "dns",
                "health",
                "store",
                "wal",
                "cli",
                "lifecycle",
            ],
        ),
    ];
    let broken = layering_offenders(&crate_src("catalog-server"), &rules);
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

/// consul-template's layers: the runner is driven by the config, never by the CLI; the
/// handlebars renderer is one engine `engine.rs` dispatches to, not its caller.
#[test]
fn consul_template_modules_depend_downwards() {
    let src = crate_src("ctemplate");
    let rules: [(&str, &[&str]); 3] = [
        ("runner", &["cli"]),
        ("hbs", &["engine", "cli", "runner"]),
        ("config", &["cli", "runner"]),
    ];
    let broken = layering_offenders(&src, &rules);
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

/// Each crate under `crates/` with the lines of its `[dependencies]` section (production
/// dependencies: tests may stand up a fake peer with anything).
fn production_dependencies() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(workspace().join("crates")).expect("crates/") {
        let dir = entry.expect("crate dir").path();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let mut section = String::new();
        let mut lines = Vec::new();
        for l in manifest.lines().map(str::trim) {
            if l.starts_with('[') {
                section = l.to_string();
            } else if section == "[dependencies]" {
                lines.push(l.to_string());
            }
        }
        out.push((name, lines));
    }
    out
}

/// Which packages may depend (outside their tests) on the libraries that define a room.
#[test]
fn only_their_crates_depend_on_the_heavy_libraries() {
    let rules: [(&str, &[&str]); 6] = [
        ("sled", &["catalog-server"]),
        ("hickory-server", &["catalog-server"]),
        ("hickory-proto", &["catalog-server"]),
        ("openraft", &["catalog-server"]),
        ("axum", &["catalog-server"]),
        ("bollard", &["registrator", "catalog-server"]),
    ];
    let mut broken = Vec::new();
    for (name, deps) in production_dependencies() {
        for (library, allowed) in rules {
            let depends = deps.iter().any(|l| {
                l.starts_with(&format!("{library} ")) || l.starts_with(&format!("{library}."))
            });
            if depends && !allowed.contains(&name.as_str()) {
                broken.push(format!("crates/{name} depends on {library}"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The test harness ships in no program: outside the test and bench packages it is a
/// dev-dependency, or optional behind a `bench` feature that only the benchmark binaries need.
#[test]
fn the_test_harness_is_not_a_dependency_of_the_programs() {
    let allowed = ["bench", "chaos", "test-support"];
    let mut broken = Vec::new();
    for (name, deps) in production_dependencies() {
        for l in deps {
            if l.starts_with("test-support")
                && !l.contains("optional = true")
                && !allowed.contains(&name.as_str())
            {
                broken.push(format!("crates/{name}: {l}"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_what_it_looks_for() {
    let deps = production_dependencies();
    assert!(
        deps.iter()
            .any(|(n, d)| n == "catalog-server" && d.iter().any(|l| l.starts_with("sled"))),
        "the manifest scan must see catalog-server's sled"
    );
    assert!(names("use sled::Tree;", "sled"));
    assert!(names("    let t: openraft::Raft<C>;", "openraft"));
    assert!(!names("let filter = \"openraft=warn\";", "openraft"));
    assert!(!names("mysled::x", "sled"));
    let src = crate_src("catalog-server");
    assert!(
        !offenders(std::slice::from_ref(&src), "sled", &[]).is_empty(),
        "the store names sled: the scan must find it"
    );
    assert!(!offenders(&[src], "openraft", &[]).is_empty());
}
