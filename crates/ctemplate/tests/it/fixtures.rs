//! The fixture suite: every directory in `tests/fixtures/` holds a template (`in.ctmpl` in Go
//! syntax or `in.hbs`), optional `data.json` (canonical dependency string → raw Consul JSON
//! response, as the watch layer would store it), the exact expected output `out`, and
//! optionally `missing` (the dependencies expected to stay missing, one per line; when
//! present the render is incomplete).

use std::fs;
use std::path::Path;

use ctemplate::engine::{CompiledTemplate, Syntax};
use ctemplate::funcs::FuncOptions;
use ctemplate::template::Options;

use crate::common::render_passes;

fn run_fixture(dir: &Path) -> Result<(), String> {
    let (src_path, syntax) = if dir.join("in.hbs").exists() {
        (dir.join("in.hbs"), Syntax::Handlebars)
    } else {
        (dir.join("in.ctmpl"), Syntax::Go)
    };
    let src = fs::read_to_string(&src_path).map_err(|e| format!("{}: {e}", src_path.display()))?;
    let data: serde_json::Map<String, serde_json::Value> =
        match fs::read_to_string(dir.join("data.json")) {
            Ok(s) => serde_json::from_str(&s).map_err(|e| format!("data.json: {e}"))?,
            Err(_) => serde_json::Map::new(),
        };
    let expected = fs::read_to_string(dir.join("out")).map_err(|e| format!("out: {e}"))?;
    let name = src_path.display().to_string();
    let t = CompiledTemplate::compile(
        &name,
        &src,
        syntax,
        &Options::default(),
        FuncOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let exec = render_passes(&t, &data)?;
    if exec.output != expected {
        return Err(format!(
            "output differs\n--- expected\n{expected:?}\n--- got\n{:?}",
            exec.output
        ));
    }
    let missing: Vec<String> = exec.missing.iter().map(ToString::to_string).collect();
    let want_missing: Vec<String> = fs::read_to_string(dir.join("missing"))
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default();
    if missing != want_missing {
        return Err(format!(
            "missing deps: expected {want_missing:?}, got {missing:?}"
        ));
    }
    Ok(())
}

#[test]
fn fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 10,
        "expected the fixture suite, found {}",
        dirs.len()
    );
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| {
            run_fixture(d)
                .err()
                .map(|e| format!("{}: {e}", d.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
    eprintln!("{} fixtures passed", dirs.len());
}
