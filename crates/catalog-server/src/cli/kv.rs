//! `consul kv get|put|delete`: the KV store from the command line, with Consul's exact
//! messages (`Success! Data written to: KEY`, `Error! No key exists at: KEY`, ...), `@file` and
//! `-` (stdin) values, `-base64`, CAS and lock flags, and `-detailed` as a tabwriter block.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use super::render::tabwrite;
use api_types::client::KvPutOptions;
use api_types::KvPair;
use base64::Engine;
use clap::Parser;
use std::io::{Read, Write};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `consul kv` alone: its subcommands, exit 1.
pub fn run_parent(args: &[String]) -> i32 {
    let code = if args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
    {
        0
    } else {
        1
    };
    eprint!("{}", super::parent_usage(&["kv"]));
    code
}

fn out(bytes: &[u8]) {
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(bytes);
    let _ = so.write_all(b"\n");
}

#[derive(Parser, Debug)]
struct GetFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Base64 encode the value.
    #[arg(long)]
    base64: bool,
    /// Provide additional metadata about the key in addition to the value such as the ModifyIndex and any flags.
    #[arg(long)]
    detailed: bool,
    /// List keys which start with the given prefix, but not their values.
    #[arg(long)]
    keys: bool,
    /// Recursively look at all keys prefixed with the given path.
    #[arg(long)]
    recurse: bool,
    /// String to use as a separator between keys (with -keys; "" for none).
    #[arg(long, default_value = "/")]
    separator: String,
    args: Vec<String>,
}

/// The `-detailed` block for one pair (Go tabwriter: min 0, tab 2, padding 6).
pub fn render_detailed(pair: &KvPair, base64: bool) -> String {
    let value = if base64 {
        B64.encode(pair.value_bytes())
    } else {
        String::from_utf8_lossy(&pair.value_bytes()).into_owned()
    };
    let session = if pair.session.is_empty() {
        "-"
    } else {
        pair.session.as_str()
    };
    let text = format!(
        "CreateIndex\t{}\nFlags\t{}\nKey\t{}\nLockIndex\t{}\nModifyIndex\t{}\nSession\t{session}\nValue\t{value}",
        pair.create_index, pair.flags, pair.key, pair.lock_index, pair.modify_index
    );
    tabwrite(&text, 0, 6)
}

/// Runs `consul kv get`.
pub fn run_get(args: &[String]) -> i32 {
    let usage = "Usage: consul kv get [options] [KEY_OR_PREFIX]";
    let flags: GetFlags = match goflags::parse("get", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut key = match flags.args.as_slice() {
        [] => String::new(),
        [k] => k.clone(),
        more => {
            eprintln!("Too many arguments (expected 1, got {})", more.len());
            return 1;
        }
    };
    if let Some(stripped) = key.strip_prefix('/') {
        key = stripped.to_string();
    }
    if key.is_empty() && !(flags.recurse || flags.keys) {
        eprintln!("Error! Missing KEY argument");
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let q = flags.http.query();
    super::block_on(async move {
        if flags.keys {
            return match client.kv_keys(&key, Some(&flags.separator), &q).await {
                Ok((keys, _)) => {
                    keys.iter().for_each(|k| println!("{k}"));
                    0
                }
                Err(e) => {
                    eprintln!("Error querying Consul agent: {e}");
                    1
                }
            };
        }
        if flags.recurse {
            let pairs = match client.kv_list(&key, &q).await {
                Ok((p, _)) => p,
                Err(e) => {
                    eprintln!("Error querying Consul agent: {e}");
                    return 1;
                }
            };
            for (i, pair) in pairs.iter().enumerate() {
                if flags.detailed {
                    println!("{}", render_detailed(pair, flags.base64));
                    if i + 1 < pairs.len() {
                        println!();
                    }
                } else if flags.base64 {
                    println!("{}:{}", pair.key, B64.encode(pair.value_bytes()));
                } else {
                    let mut line = format!("{}:", pair.key).into_bytes();
                    line.extend(pair.value_bytes());
                    out(&line);
                }
            }
            return 0;
        }
        match client.kv_get(&key, &q).await {
            Ok((None, _)) => {
                eprintln!("Error! No key exists at: {key}");
                1
            }
            Ok((Some(pair), _)) => {
                if flags.detailed {
                    println!("{}", render_detailed(&pair, flags.base64));
                } else if flags.base64 {
                    println!("{}", B64.encode(pair.value_bytes()));
                } else {
                    out(&pair.value_bytes());
                }
                0
            }
            Err(e) => {
                eprintln!("Error querying Consul agent: {e}");
                1
            }
        }
    })
}

#[derive(Parser, Debug)]
struct PutFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Obtain a lock on the key (requires -session).
    #[arg(long)]
    acquire: bool,
    /// Treat the data as base 64 encoded.
    #[arg(long)]
    base64: bool,
    /// Perform a Check-And-Set operation (requires -modify-index).
    #[arg(long)]
    cas: bool,
    /// Unsigned integer value to assign to this key-value pair.
    #[arg(long)]
    flags: Option<u64>,
    /// Unsigned integer representing the ModifyIndex of the key (with -cas).
    #[arg(long = "modify-index")]
    modify_index: Option<u64>,
    /// Forfeit the lock on the key at the given path (requires -session).
    #[arg(long)]
    release: bool,
    /// User-defined identifer for the session (with -acquire or -release).
    #[arg(long)]
    session: Option<String>,
    args: Vec<String>,
}

/// `KEY [DATA]` → key and value bytes (`@file`, `-` for stdin, `-base64` decoding).
fn data_from_args(args: &[String], base64: bool) -> Result<(String, Vec<u8>), String> {
    let (key, data) = match args {
        [] => return Err("Missing KEY argument".into()),
        [k] => return Ok((k.clone(), Vec::new())),
        [k, d] => (k.clone(), d.clone()),
        more => {
            return Err(format!(
                "Too many arguments (expected 1 or 2, got {})",
                more.len()
            ))
        }
    };
    let bytes = if let Some(path) = data.strip_prefix('@') {
        std::fs::read(path).map_err(|e| {
            format!(
                "Failed to read file: {}",
                super::go_io_error("open", path, &e)
            )
        })?
    } else if data == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .map_err(|e| format!("Failed to read stdin: {e}"))?;
        b
    } else {
        data.into_bytes()
    };
    if base64 {
        let text = String::from_utf8_lossy(&bytes);
        return B64
            .decode(text.trim_end_matches('\n').as_bytes())
            .map(|v| (key, v))
            .map_err(|e| format!("Cannot base 64 decode data: {e}"));
    }
    Ok((key, bytes))
}

/// Runs `consul kv put`.
pub fn run_put(args: &[String]) -> i32 {
    let usage = "Usage: consul kv put [options] KEY [DATA]";
    let flags: PutFlags = match goflags::parse("put", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let (key, value) = match data_from_args(&flags.args, flags.base64) {
        Ok(kv) => kv,
        Err(e) => {
            eprintln!("Error! {e}");
            return 1;
        }
    };
    let session = flags.session.clone().unwrap_or_default();
    if (flags.release || flags.acquire) && session.is_empty() {
        eprintln!("Error! Missing -session (required with -acquire and -release)");
        return 1;
    }
    let modify_index = flags.modify_index.unwrap_or(0);
    if flags.cas && modify_index == 0 {
        eprintln!("Must specify -modify-index with -cas!");
        return 1;
    }
    if key.starts_with('/') {
        eprintln!("Error! Failed writing data: Invalid key. Key must not begin with a '/': {key}");
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let mut opts = KvPutOptions {
        flags: flags.flags.filter(|f| *f != 0),
        ..Default::default()
    };
    super::block_on(async move {
        if flags.cas {
            opts.cas = Some(modify_index);
            return match client.kv_put(&key, &value, &opts).await {
                Ok(true) => ok(format!("Success! Data written to: {key}")),
                Ok(false) => fail(format!("Error! Did not write to {key}: CAS failed")),
                Err(e) => fail(format!("Error! Did not write to {key}: {e}")),
            };
        }
        if flags.acquire {
            opts.acquire = Some(session);
            return match client.kv_put(&key, &value, &opts).await {
                Ok(true) => ok(format!("Success! Lock acquired on: {key}")),
                Ok(false) => fail("Error! Did not acquire lock".into()),
                Err(e) => fail(format!("Error! Failed writing data: {e}")),
            };
        }
        if flags.release {
            opts.release = Some(session);
            return match client.kv_put(&key, &value, &opts).await {
                Ok(true) => ok(format!("Success! Lock released on: {key}")),
                Ok(false) => fail("Error! Did not release lock".into()),
                Err(_) => fail(format!("Error! Failed writing data: {key}")),
            };
        }
        match client.kv_put(&key, &value, &opts).await {
            Ok(_) => ok(format!("Success! Data written to: {key}")),
            Err(e) => fail(format!("Error! Failed writing data: {e}")),
        }
    })
}

fn ok(msg: String) -> i32 {
    println!("{msg}");
    0
}

fn fail(msg: String) -> i32 {
    eprintln!("{msg}");
    1
}

#[derive(Parser, Debug)]
struct DeleteFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Perform a Check-And-Set operation (requires -modify-index).
    #[arg(long)]
    cas: bool,
    /// Unsigned integer representing the ModifyIndex of the key (with -cas).
    #[arg(long = "modify-index")]
    modify_index: Option<u64>,
    /// Recursively delete all keys with the path.
    #[arg(long)]
    recurse: bool,
    args: Vec<String>,
}

/// Runs `consul kv delete`.
pub fn run_delete(args: &[String]) -> i32 {
    let usage = "Usage: consul kv delete [options] KEY_OR_PREFIX";
    let flags: DeleteFlags = match goflags::parse("delete", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut key = match flags.args.as_slice() {
        [] => String::new(),
        [k] => k.clone(),
        more => {
            return fail(format!(
                "Too many arguments (expected 1, got {})",
                more.len()
            ))
        }
    };
    if let Some(stripped) = key.strip_prefix('/') {
        key = stripped.to_string();
    }
    let modify_index = flags.modify_index.unwrap_or(0);
    if key.is_empty() && !flags.recurse {
        return fail("Error! Missing KEY argument".into());
    }
    if flags.cas && modify_index == 0 {
        return fail("Must specify -modify-index with -cas!".into());
    }
    if modify_index != 0 && !flags.cas {
        return fail("Cannot specify -modify-index without -cas!".into());
    }
    if flags.recurse && flags.cas {
        return fail("Cannot specify both -cas and -recurse!".into());
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        if flags.recurse {
            return match client.kv_delete(&key, true, None).await {
                Ok(_) => ok(format!("Success! Deleted keys with prefix: {key}")),
                Err(e) => fail(format!("Error! Did not delete prefix {key}: {e}")),
            };
        }
        if flags.cas {
            return match client.kv_delete(&key, false, Some(modify_index)).await {
                Ok(true) => ok(format!("Success! Deleted key: {key}")),
                Ok(false) => fail(format!("Error! Did not delete key {key}: CAS failed")),
                Err(e) => fail(format!("Error! Did not delete key {key}: {e}")),
            };
        }
        match client.kv_delete(&key, false, None).await {
            Ok(_) => ok(format!("Success! Deleted key: {key}")),
            Err(e) => fail(format!("Error deleting key {key}: {e}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detailed_block_from_sample() {
        let pair: KvPair = serde_json::from_str(
            r#"{"CreateIndex":100,"ModifyIndex":200,"LockIndex":200,"Key":"zip","Flags":0,
                "Value":"dGVzdA==","Session":"adf4238a-882b-9ddc-4a9d-5b6758e4159e"}"#,
        )
        .expect("sample");
        assert_eq!(
            render_detailed(&pair, false),
            "CreateIndex      100\nFlags            0\nKey              zip\nLockIndex        200\n\
             ModifyIndex      200\nSession          adf4238a-882b-9ddc-4a9d-5b6758e4159e\nValue            test"
        );
        let unlocked = KvPair {
            session: String::new(),
            value: None,
            ..pair
        };
        let text = render_detailed(&unlocked, true);
        assert!(
            text.contains("\nSession          -\nValue            "),
            "{text}"
        );
    }

    #[test]
    fn put_data_sources() {
        let sv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            data_from_args(&sv(&["k", "v"]), false),
            Ok(("k".into(), b"v".to_vec()))
        );
        assert_eq!(
            data_from_args(&sv(&["k"]), false),
            Ok(("k".into(), Vec::new()))
        );
        assert_eq!(
            data_from_args(&sv(&["k", "dGVzdA=="]), true),
            Ok(("k".into(), b"test".to_vec()))
        );
        assert_eq!(
            data_from_args(&[], false),
            Err("Missing KEY argument".into())
        );
        assert_eq!(
            data_from_args(&sv(&["k", "v", "-flags=1"]), false),
            Err("Too many arguments (expected 1 or 2, got 3)".into())
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("v.txt");
        std::fs::write(&f, b"from file").expect("write");
        let at = format!("@{}", f.display());
        assert_eq!(
            data_from_args(&sv(&["k", &at]), false),
            Ok(("k".into(), b"from file".to_vec()))
        );
    }
}
