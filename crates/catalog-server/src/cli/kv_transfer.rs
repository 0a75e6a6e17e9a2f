//! `consul kv export` and `consul kv import`: a KV tree as Consul's interchange JSON, a list of
//! `{"key", "flags", "value"}` with the value in base64, tab-indented as Go's
//! `json.MarshalIndent` writes it, so files move both ways between Go Consul and us.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use api_types::client::KvPutOptions;
use base64::Engine;
use clap::Parser;
use serde::Serialize;
use serde_json::Value;
use std::io::Read;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One exported pair, in the interchange's field order.
#[derive(Serialize, Debug, PartialEq)]
struct Entry {
    key: String,
    flags: u64,
    value: String,
}

#[derive(Parser, Debug)]
struct ExportFlags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

/// Runs `consul kv export [KEY_OR_PREFIX]`.
pub fn run_export(args: &[String]) -> i32 {
    let usage = "Usage: consul kv export [KEY_OR_PREFIX]";
    let flags: ExportFlags = match goflags::parse("export", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let prefix = match flags.args.as_slice() {
        [] => String::new(),
        [k] => k.strip_prefix('/').unwrap_or(k).to_string(),
        more => {
            eprintln!("Too many arguments (expected 1, got {})", more.len());
            return 1;
        }
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let q = flags.http.query();
    super::block_on(async move {
        let pairs = match client.kv_list(&prefix, &q).await {
            Ok((p, _)) => p,
            Err(e) => {
                eprintln!("Error querying Consul agent: {e}");
                return 1;
            }
        };
        let entries: Vec<Entry> = pairs
            .iter()
            .map(|p| Entry {
                key: p.key.clone(),
                flags: p.flags,
                value: B64.encode(p.value_bytes()),
            })
            .collect();
        let text = api_types::json::to_go_json_indent(&entries, b"\t");
        println!("{}", String::from_utf8_lossy(&text));
        0
    })
}

#[derive(Parser, Debug)]
struct ImportFlags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

/// Runs `consul kv import DATA` (`@file`, `-` for stdin, or the JSON itself).
pub fn run_import(args: &[String]) -> i32 {
    let usage = "Usage: consul kv import [DATA]";
    let flags: ImportFlags = match goflags::parse("import", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let data = match data_from_args(&flags.args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Error! {e}");
            return 1;
        }
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let entries = match parse_entries(&data) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("Cannot unmarshal data: {e}");
            return 1;
        }
    };
    super::block_on(async move {
        for entry in entries {
            let value = match B64.decode(entry.value.as_bytes()) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("Error base 64 decoding value for key {}: {e}", entry.key);
                    return 1;
                }
            };
            let opts = KvPutOptions {
                flags: Some(entry.flags).filter(|f| *f != 0),
                ..Default::default()
            };
            if let Err(e) = client.kv_put(&entry.key, &value, &opts).await {
                eprintln!("Error! Failed writing data for key {}: {e}", entry.key);
                return 1;
            }
            println!("Imported: {}", entry.key);
        }
        0
    })
}

/// DATA as Consul reads it: `@file`, `-` (stdin), or the text itself.
fn data_from_args(args: &[String]) -> Result<String, String> {
    let data = match args {
        [] => return Err("Missing DATA argument".into()),
        [d] => d,
        more => {
            return Err(format!(
                "Too many arguments (expected 1, got {})",
                more.len()
            ))
        }
    };
    if data.is_empty() {
        return Err("Empty DATA argument".into());
    }
    if let Some(path) = data.strip_prefix('@') {
        let bytes = std::fs::read(path).map_err(|e| {
            format!(
                "Failed to read file: {}",
                super::go_io_error("open", path, &e)
            )
        })?;
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    if data == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .map_err(|e| format!("Failed to read stdin: {e}"))?;
        return Ok(String::from_utf8_lossy(&b).into_owned());
    }
    Ok(data.clone())
}

/// The entries of an export, decoded as Go's `encoding/json` decodes them into Consul's struct:
/// field names match case-insensitively, unknown fields are ignored, `null` is the zero value.
/// Namespaces are refused: they are a Consul Enterprise feature.
fn parse_entries(data: &str) -> Result<Vec<Entry>, String> {
    let root: Value = serde_json::from_str(data).map_err(|e| e.to_string())?;
    let list = match root {
        Value::Null => return Ok(Vec::new()),
        Value::Array(list) => list,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type []*impexp.Entry",
                json_kind(&other)
            ))
        }
    };
    let mut entries = Vec::with_capacity(list.len());
    for item in list {
        let fields = match item {
            Value::Null => continue,
            Value::Object(fields) => fields,
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go value of type impexp.Entry",
                    json_kind(&other)
                ))
            }
        };
        let mut entry = Entry {
            key: String::new(),
            flags: 0,
            value: String::new(),
        };
        for (name, v) in fields {
            let mismatch = |go_type: &str| {
                format!(
                    "json: cannot unmarshal {} into Go struct field Entry.{} of type {go_type}",
                    json_kind(&v),
                    name.to_ascii_lowercase()
                )
            };
            match name.to_ascii_lowercase().as_str() {
                "key" | "value" | "namespace" | "partition" => {
                    let text = match &v {
                        Value::Null => String::new(),
                        Value::String(s) => s.clone(),
                        _ => return Err(mismatch("string")),
                    };
                    match name.to_ascii_lowercase().as_str() {
                        "key" => entry.key = text,
                        "value" => entry.value = text,
                        _ if text.is_empty() || text == "default" => {}
                        _ => {
                            return Err(format!(
                                "entry {:?}: namespaces and partitions are a Consul Enterprise feature",
                                entry.key
                            ))
                        }
                    }
                }
                "flags" => {
                    entry.flags = match &v {
                        Value::Null => 0,
                        Value::Number(n) => n.as_u64().ok_or_else(|| {
                            format!(
                                "json: cannot unmarshal number {n} into Go struct field Entry.flags of type uint64"
                            )
                        })?,
                        _ => return Err(mismatch("uint64")),
                    }
                }
                _ => {}
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Go's name for a JSON value's kind in unmarshal errors.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exports_indent_with_tabs_like_go() {
        let entries = vec![Entry {
            key: "a<b".into(),
            flags: 7,
            value: "aGk=".into(),
        }];
        let text = String::from_utf8(api_types::json::to_go_json_indent(&entries, b"\t")).unwrap();
        assert_eq!(
            text,
            "[\n\t{\n\t\t\"key\": \"a\\u003cb\",\n\t\t\"flags\": 7,\n\t\t\"value\": \"aGk=\"\n\t}\n]"
        );
        let none: Vec<Entry> = Vec::new();
        assert_eq!(api_types::json::to_go_json_indent(&none, b"\t"), b"[]");
    }

    #[test]
    fn imports_decode_like_go() {
        let e = parse_entries(r#"[{"Key":"a","FLAGS":3,"value":"aGk=","extra":1},null]"#).unwrap();
        assert_eq!(
            e,
            vec![Entry {
                key: "a".into(),
                flags: 3,
                value: "aGk=".into()
            }]
        );
        assert_eq!(parse_entries("null").unwrap(), vec![]);
        assert_eq!(
            parse_entries(r#"{"key":"a"}"#).unwrap_err(),
            "json: cannot unmarshal object into Go value of type []*impexp.Entry"
        );
        assert_eq!(
            parse_entries(r#"[{"flags":"x"}]"#).unwrap_err(),
            "json: cannot unmarshal string into Go struct field Entry.flags of type uint64"
        );
        assert!(parse_entries(r#"[{"key":"a","namespace":"team"}]"#).is_err());
        assert!(parse_entries(r#"[{"key":"a","namespace":"default"}]"#).is_ok());
        assert!(parse_entries("[").is_err());
    }

    #[test]
    fn data_sources() {
        assert_eq!(data_from_args(&[]).unwrap_err(), "Missing DATA argument");
        assert_eq!(
            data_from_args(&["".into()]).unwrap_err(),
            "Empty DATA argument"
        );
        assert_eq!(data_from_args(&["[]".into()]).unwrap(), "[]");
        assert!(data_from_args(&["@/nonexistent/x".into()])
            .unwrap_err()
            .starts_with("Failed to read file: open /nonexistent/x: "));
    }
}
