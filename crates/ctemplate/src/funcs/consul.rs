//! Query functions (`service`, `key`, `ls`, `file`, ...) and the process-facing helpers
//! (`env`, `timestamp`). Each builds a [`Dependency`], records it and returns the store's data
//! or upstream's empty placeholder, following upstream's "missing" rules: `keyOrDefault`
//! still waits for the first answer, `safeLs`/`safeTree` stay missing while empty.

use std::path::Path;

use super::{arity, string, strings_of, Env, Func};
use crate::dependency::Dependency;
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("service", service),
    ("connect", connect),
    ("services", services),
    ("node", node),
    ("nodes", nodes),
    ("key", key),
    ("keyExists", key_exists),
    ("keyOrDefault", key_or_default),
    ("ls", ls),
    ("safeLs", safe_ls),
    ("tree", tree),
    ("safeTree", safe_tree),
    ("datacenters", datacenters),
    ("caRoots", ca_roots),
    ("caLeaf", ca_leaf),
    ("file", file),
    ("env", env),
    ("mustEnv", must_env),
    ("envOrDefault", env_or_default),
    ("timestamp", timestamp),
];

fn dep_err(e: impl std::fmt::Display) -> FuncError {
    FuncError::call(e.to_string())
}

fn empty() -> Value {
    Value::list(vec![])
}

fn health(env: &mut Env<'_>, args: Vec<Value>, connect: bool) -> Result<Value, FuncError> {
    let args = strings_of(&args)?;
    if args.first().map_or(true, String::is_empty) {
        return Ok(empty());
    }
    let dep = Dependency::service(&args, connect).map_err(dep_err)?;
    Ok(env.recall(&dep).unwrap_or_else(empty))
}

fn service(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    health(env, args, false)
}

fn connect(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    health(env, args, true)
}

fn services(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    let dep = Dependency::catalog_services(&strings_of(&args)?.concat()).map_err(dep_err)?;
    Ok(env.recall(&dep).unwrap_or_else(empty))
}

fn node(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    let dep = Dependency::catalog_node(&strings_of(&args)?.concat()).map_err(dep_err)?;
    Ok(env.recall(&dep).unwrap_or(Value::Nil))
}

fn nodes(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    let dep = Dependency::catalog_nodes(&strings_of(&args)?.concat()).map_err(dep_err)?;
    Ok(env.recall(&dep).unwrap_or_else(empty))
}

fn key(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let k = string(&args[0])?;
    if k.is_empty() {
        return Ok(Value::str(""));
    }
    let dep = Dependency::kv_get(&k, true).map_err(dep_err)?;
    Ok(match env.recall(&dep) {
        Some(Value::Nil) | None => Value::str(""),
        Some(v) => v,
    })
}

fn key_exists(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let k = string(&args[0])?;
    if k.is_empty() {
        return Ok(Value::Bool(false));
    }
    let dep = Dependency::kv_get(&k, false).map_err(dep_err)?;
    Ok(Value::Bool(
        matches!(env.recall(&dep), Some(v) if !matches!(v, Value::Nil)),
    ))
}

fn key_or_default(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let (k, def) = (string(&args[0])?, string(&args[1])?);
    if k.is_empty() {
        return Ok(Value::str(def));
    }
    let dep = Dependency::kv_get(&k, false).map_err(dep_err)?;
    Ok(match env.recall(&dep) {
        Some(Value::Str(s)) if !s.is_empty() => Value::Str(s),
        _ => Value::str(def),
    })
}

/// Shared body of `ls`/`tree` and their safe variants.
fn kv_list(
    env: &mut Env<'_>,
    args: Vec<Value>,
    keep: fn(&str) -> bool,
    empty_is_safe: bool,
) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let prefix = string(&args[0])?;
    if prefix.is_empty() {
        return Ok(empty());
    }
    let dep = Dependency::kv_list(&prefix).map_err(dep_err)?;
    let Some(data) = env.recall(&dep) else {
        return Ok(empty());
    };
    let pairs = match data {
        Value::List(l) => l,
        _ => return Ok(empty()),
    };
    let kept: Vec<Value> = pairs
        .iter()
        .filter(|p| match p {
            Value::Struct(s) => s.field("Key").and_then(Value::as_str).is_some_and(keep),
            _ => false,
        })
        .cloned()
        .collect();
    if kept.is_empty() && !empty_is_safe {
        env.mark_missing(&dep);
    }
    Ok(Value::list(kept))
}

fn ls_keep(key: &str) -> bool {
    !key.is_empty() && !key.contains('/')
}

fn tree_keep(key: &str) -> bool {
    !key.rsplit('/').next().unwrap_or("").is_empty()
}

fn ls(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    kv_list(env, args, ls_keep, true)
}

fn safe_ls(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    kv_list(env, args, ls_keep, false)
}

fn tree(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    kv_list(env, args, tree_keep, true)
}

fn safe_tree(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    kv_list(env, args, tree_keep, false)
}

fn datacenters(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    let ignore_failing = match args.as_slice() {
        [] => false,
        [Value::Bool(b)] => *b,
        [other] => {
            return Err(FuncError::call(format!(
                "wrong type for value; expected bool; got {}",
                other.type_name()
            )))
        }
        _ => {
            return Err(FuncError::call(format!(
                "datacenters: wrong number of arguments, expected 0 or 1, but got {}",
                args.len()
            )))
        }
    };
    Ok(env
        .recall(&Dependency::Datacenters { ignore_failing })
        .unwrap_or_else(empty))
}

/// `caRoots`: `[]*api.CARoot` (nil while missing, as upstream's placeholder).
fn ca_roots(env: &mut Env<'_>, _args: Vec<Value>) -> Result<Value, FuncError> {
    Ok(env
        .recall(&Dependency::CaRoots)
        .unwrap_or_else(crate::dependency::gonil::nil_list))
}

/// `caLeaf "service"`: `*api.LeafCert`, nil without a service name or data.
fn ca_leaf(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    let args = strings_of(&args)?;
    let Some(service) = args.first().filter(|s| !s.is_empty()) else {
        return Ok(Value::Nil);
    };
    let dep = Dependency::CaLeaf {
        service: service.clone(),
    };
    Ok(env.recall(&dep).unwrap_or(Value::Nil))
}

fn file(env: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let path = string(&args[0])?;
    if path.is_empty() {
        return Ok(Value::str(""));
    }
    if let Some(sandbox) = &env.options.sandbox_path {
        check_sandbox(sandbox, &path)?;
    }
    Ok(match env.recall(&Dependency::File { path }) {
        Some(Value::Nil) | None => Value::str(""),
        Some(v) => v,
    })
}

fn check_sandbox(sandbox: &Path, path: &str) -> Result<(), FuncError> {
    let real =
        std::fs::canonicalize(path).map_err(|e| FuncError::call(format!("lstat {path}: {e}")))?;
    let root = std::fs::canonicalize(sandbox).unwrap_or_else(|_| sandbox.to_path_buf());
    if !real.starts_with(&root) {
        return Err(FuncError::call(format!("'{path}' is outside of sandbox")));
    }
    Ok(())
}

fn lookup_env(env: &Env<'_>, name: &str) -> Option<String> {
    env.options
        .env
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var(name).ok())
}

fn env(e: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let name = string(&args[0])?;
    Ok(Value::str(lookup_env(e, &name).unwrap_or_default()))
}

fn must_env(e: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let name = string(&args[0])?;
    match lookup_env(e, &name).filter(|v| !v.is_empty()) {
        Some(v) => Ok(Value::str(v)),
        None => Err(FuncError::call(format!(
            "required environment variable {name} is empty"
        ))),
    }
}

fn env_or_default(e: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let (name, def) = (string(&args[0])?, string(&args[1])?);
    Ok(Value::str(lookup_env(e, &name).unwrap_or(def)))
}

fn timestamp(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    let now = chrono::Utc::now();
    match args.as_slice() {
        [] => Ok(Value::str(now.format("%Y-%m-%dT%H:%M:%SZ").to_string())),
        [f] => {
            let layout = string(f)?;
            if layout == "unix" {
                return Ok(Value::str(now.timestamp().to_string()));
            }
            Ok(Value::str(super::strings::go_time_format(&now, &layout)))
        }
        _ => Err(FuncError::call(format!(
            "timestamp: wrong number of arguments, expected 0 or 1, but got {}",
            args.len()
        ))),
    }
}
