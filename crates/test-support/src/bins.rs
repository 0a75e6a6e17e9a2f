//! Where the workspace's binaries are: `<target dir>/debug/<name>`, built by
//! `cargo build --workspace --bins` (the first step of `scripts/test`).

use std::path::{Path, PathBuf};

/// The workspace root (the directory of the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|crates| crates.parent())
        .map(PathBuf::from)
        .unwrap_or(here)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to the workspace root when
/// relative, as cargo run from there reads it); else, for a test binary
/// (`<target>/<profile>/deps/<test>`), the target dir it was built in, whatever
/// `.cargo/config` says; else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            workspace_root().join(dir)
        };
    }
    let exe = std::env::current_exe().ok();
    let deps = exe.as_deref().and_then(Path::parent);
    if let Some(deps) = deps.filter(|d| d.file_name().is_some_and(|n| n == "deps")) {
        if let Some(target) = deps.parent().and_then(Path::parent) {
            return target.to_path_buf();
        }
    }
    workspace_root().join("target")
}

/// A binary of this workspace (`consul`, `registrator`, `consul-template`, ...) in the debug
/// profile. Panics, naming the command that builds it, when it is missing: a test that needs
/// a binary never passes without it.
pub fn binary(name: &str) -> PathBuf {
    let path = target_dir().join("debug").join(name);
    if !path.is_file() {
        panic!(
            "{} is missing: build the workspace's binaries first with `cargo build --workspace --bins` \
             (scripts/test does this before running the tests)",
            path.display()
        );
    }
    path
}
