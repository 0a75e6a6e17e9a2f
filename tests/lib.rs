//! Helpers shared by the system tests: where the workspace and its built binaries are.

use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary built by `cargo build --workspace --bins` (debug profile).
pub fn bin(name: &str) -> PathBuf {
    root().join("target").join("debug").join(name)
}
