//! `consul snapshot save|restore`: `GET /v1/snapshot` written to a file (then re-read and
//! checked to be a gzip archive) and `PUT /v1/snapshot` from a file.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use clap::Parser;
use std::io::Write;

/// `consul snapshot` alone: its subcommands, exit 1.
pub fn run_parent(args: &[String]) -> i32 {
    let code = if args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
    {
        0
    } else {
        1
    };
    eprint!("{}", super::parent_usage(&["snapshot"]));
    code
}

#[derive(Parser, Debug)]
struct Flags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

fn one_file(args: &[String]) -> Result<&str, i32> {
    match args {
        [] => {
            eprintln!("Missing FILE argument");
            Err(1)
        }
        [f] => Ok(f),
        more => {
            eprintln!("Too many arguments (expected 1, got {})", more.len());
            Err(1)
        }
    }
}

/// A snapshot archive is a gzip'd tar; anything else was not a snapshot.
pub fn verify(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b {
        return Err("snapshot is not a gzip archive".to_string());
    }
    Ok(())
}

/// Runs `consul snapshot save FILE`.
pub fn run_save(args: &[String]) -> i32 {
    let usage = "Usage: consul snapshot save [options] FILE\n\n  Retrieves an atomic, point-in-time snapshot of the state of the Consul servers.";
    let flags: Flags = match goflags::parse("save", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let file = match one_file(&flags.args) {
        Ok(f) => f.to_string(),
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let q = flags.http.query();
    super::block_on(async move {
        let (bytes, meta) = match client.snapshot_save(&q).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("Error getting snapshot: {e}");
                return 1;
            }
        };
        let tmp = format!("{file}.tmp");
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &file));
        if let Err(e) = written {
            eprintln!(
                "Error writing snapshot file: {}",
                super::go_io_error("open", &tmp, &e)
            );
            return 1;
        }
        let check = std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|b| verify(&b));
        if let Err(e) = check {
            eprintln!("Error verifying snapshot file: {e}");
            return 1;
        }
        println!("Saved and verified snapshot to index {}", meta.index);
        0
    })
}

/// Runs `consul snapshot restore FILE`.
pub fn run_restore(args: &[String]) -> i32 {
    let usage = "Usage: consul snapshot restore [options] FILE\n\n  Restores an atomic, point-in-time snapshot of the state of the Consul servers.";
    let flags: Flags = match goflags::parse("restore", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let file = match one_file(&flags.args) {
        Ok(f) => f.to_string(),
        Err(code) => return code,
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "Error opening snapshot file: {}",
                super::go_io_error("open", &file, &e)
            );
            return 1;
        }
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        match client.snapshot_restore(bytes).await {
            Ok(()) => {
                println!("Restored snapshot");
                0
            }
            Err(e) => {
                eprintln!("Error restoring snapshot: {e}");
                1
            }
        }
    })
}
