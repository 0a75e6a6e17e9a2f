//! Stamps the build with the git revision and the commit date, for `consul version`,
//! `/v1/agent/self` and `consul info`'s `build` section (`CONSUL_REVISION`,
//! `CONSUL_BUILD_DATE`; both empty-safe when git is unavailable).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let revision = git(&["rev-parse", "--short=8", "HEAD"]).unwrap_or_else(|| "00000000".into());
    let date = git(&[
        "log",
        "-1",
        "--format=%cd",
        "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
    ])
    .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    println!("cargo:rustc-env=CONSUL_REVISION={revision}");
    println!("cargo:rustc-env=CONSUL_BUILD_DATE={date}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
}
