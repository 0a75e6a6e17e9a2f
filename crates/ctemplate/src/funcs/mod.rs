//! The template function set: Go's predefined functions ([`gotemplate::builtins`]) plus
//! consul-template's own. It exists once and serves both front ends: the Go-syntax evaluator
//! calls it through [`gotemplate::Funcs`] and the handlebars front end through helper
//! adapters. Consul query functions never fetch: they read a [`Store`] and record which
//! [`Dependency`] values were used and which were missing.

mod collections;
mod consul;
mod encode;
mod math;
mod sockaddr;
mod spew;
mod sprig;
mod strings;
mod system;
mod toml;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::dependency::Dependency;
use collections::Scratch;
use gotemplate::{FuncError, Funcs, Value};

/// Where query functions read dependency data. `None` means "no data yet": the function
/// returns an empty placeholder and the dependency is recorded as missing.
pub trait Store: Send + Sync {
    /// The latest decoded value of a dependency, if any has arrived.
    fn get(&self, dep: &Dependency) -> Option<Value>;
}

impl Store for HashMap<Dependency, Value> {
    fn get(&self, dep: &Dependency) -> Option<Value> {
        HashMap::get(self, dep).cloned()
    }
}

/// Settings that change what functions do.
#[derive(Clone, Debug, Default)]
pub struct FuncOptions {
    /// Environment entries that take precedence over the process environment (`env`).
    pub env: Vec<(String, String)>,
    /// Glob patterns of functions that error when called (`function_denylist`).
    pub denylist: Vec<String>,
    /// Restricts `file` to paths inside this directory.
    pub sandbox_path: Option<PathBuf>,
}

/// A function: evaluated arguments in (piped value last), value out.
pub type Func = fn(&mut Env<'_>, Vec<Value>) -> Result<Value, FuncError>;

fn table() -> &'static HashMap<&'static str, Func> {
    static TABLE: OnceLock<HashMap<&'static str, Func>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = HashMap::new();
        for part in [
            collections::FUNCS,
            consul::FUNCS,
            encode::FUNCS,
            math::FUNCS,
            spew::FUNCS,
            strings::FUNCS,
        ] {
            for (name, f) in part {
                m.insert(*name, *f);
            }
        }
        for (name, f) in sprig::funcs() {
            m.insert(name, f);
        }
        m.insert("toTOML", toml::to_toml as Func);
        m.insert("plugin", system::plugin as Func);
        m.insert("writeToFile", system::write_to_file as Func);
        m.insert("sockaddr", sockaddr::sockaddr as Func);
        m
    })
}

/// Upstream functions this consul-template knows but does not provide, each with why: a call
/// is an error naming the function (a template using one never renders), not a parse error
/// about an unknown name.
const REFUSED: &[(&str, &str)] = &[
    ("secret", "Vault"),
    ("secrets", "Vault"),
    ("pkiCert", "Vault"),
    ("nomadService", "Nomad"),
    ("nomadServices", "Nomad"),
    ("nomadVar", "Nomad"),
    ("nomadVarExists", "Nomad"),
    ("nomadVarList", "Nomad"),
    ("nomadVarListSafe", "Nomad"),
    ("exportedServices", "Consul Enterprise partitions"),
    ("importedServices", "Consul Enterprise partitions"),
    ("partitions", "Consul Enterprise partitions"),
    ("peerings", "Consul cluster peering"),
];

fn refusal(name: &str) -> Option<FuncError> {
    if let Some((_, what)) = REFUSED.iter().find(|(n, _)| *n == name) {
        return Some(FuncError::call(format!(
            "{name} is not supported: this consul-template has no {what} integration"
        )));
    }
    sprig::REFUSED.contains(&name).then(|| sprig::refused(name))
}

/// Names of every function but `and` and `or` (the evaluator's), sorted.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = table().keys().copied().collect();
    v.extend(REFUSED.iter().map(|(name, _)| *name));
    v.extend(sprig::REFUSED.iter().copied());
    v.extend(gotemplate::builtins::FUNCS.iter().map(|(name, _)| *name));
    v.push("executeTemplate");
    v.sort_unstable();
    v.dedup();
    v
}

/// Whether a function exists (the evaluator handles `and`, `or` and `executeTemplate`).
pub fn exists(name: &str) -> bool {
    table().contains_key(name)
        || gotemplate::builtins::exists(name)
        || name == "executeTemplate"
        || REFUSED.iter().any(|(n, _)| *n == name)
        || sprig::REFUSED.contains(&name)
}

/// One execution's function environment: the store, the dependency record and the fresh
/// `scratch`.
pub struct Env<'a> {
    store: &'a dyn Store,
    options: &'a FuncOptions,
    used: Vec<Dependency>,
    used_set: HashSet<Dependency>,
    missing: Vec<Dependency>,
    missing_set: HashSet<Dependency>,
    scratch: Arc<Scratch>,
}

impl<'a> Env<'a> {
    /// A fresh environment for one execution.
    pub fn new(store: &'a dyn Store, options: &'a FuncOptions) -> Env<'a> {
        Env {
            store,
            options,
            used: Vec::new(),
            used_set: HashSet::new(),
            missing: Vec::new(),
            missing_set: HashSet::new(),
            scratch: Arc::new(Scratch::default()),
        }
    }

    /// Dependencies used, in first-use order.
    pub fn used(&self) -> &[Dependency] {
        &self.used
    }

    /// Dependencies without data, in first-use order.
    pub fn missing(&self) -> &[Dependency] {
        &self.missing
    }

    /// Consumes the environment, returning (used, missing).
    pub fn into_deps(self) -> (Vec<Dependency>, Vec<Dependency>) {
        (self.used, self.missing)
    }

    /// Records `dep` as used and returns its data, recording it as missing when absent.
    fn recall(&mut self, dep: &Dependency) -> Option<Value> {
        if self.used_set.insert(dep.clone()) {
            self.used.push(dep.clone());
        }
        let v = self.store.get(dep);
        if v.is_none() {
            self.mark_missing(dep);
        }
        v
    }

    fn mark_missing(&mut self, dep: &Dependency) {
        if self.missing_set.insert(dep.clone()) {
            self.missing.push(dep.clone());
        }
    }

    fn denied(&self, name: &str) -> bool {
        self.options
            .denylist
            .iter()
            .any(|pat| glob_match(pat, name))
    }

    /// Calls a function by name (used by both front ends).
    pub fn call_func(&mut self, name: &str, args: Vec<Value>) -> Result<Value, FuncError> {
        if self.denied(name) {
            return Err(FuncError::call("function is disabled"));
        }
        if let Some(f) = table().get(name) {
            return f(self, args);
        }
        if let Some(e) = refusal(name) {
            return Err(e);
        }
        gotemplate::builtins::call(name, args)
            .unwrap_or_else(|| Err(FuncError::call(format!("function {name:?} not defined"))))
    }
}

impl Funcs for Env<'_> {
    fn has(&self, name: &str) -> bool {
        exists(name)
    }

    fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value, FuncError> {
        self.call_func(name, args)
    }

    fn call_method(
        &mut self,
        recv: &Value,
        name: &str,
        args: Vec<Value>,
    ) -> Option<Result<Value, FuncError>> {
        if let Some(r) = sprig::semver_method(recv, name, &args) {
            return Some(r);
        }
        collections::scratch_method(recv, name, args)
    }
}

/// Shell-style glob with `*` and `?`, as the denylist uses.
fn glob_match(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

// ---- argument helpers shared by the function modules ----

pub(crate) fn arity(args: &[Value], want: usize) -> Result<(), FuncError> {
    if args.len() != want {
        return Err(FuncError::arity(want, args.len()));
    }
    Ok(())
}

fn wrong_type(expected: &str, got: &Value) -> FuncError {
    FuncError::call(format!(
        "wrong type for value; expected {expected}; got {}",
        got.type_name()
    ))
}

pub(crate) fn string(v: &Value) -> Result<String, FuncError> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        Value::Nil => Err(FuncError::call("invalid value; expected string")),
        other => Err(wrong_type("string", other)),
    }
}

pub(crate) fn strings_of(args: &[Value]) -> Result<Vec<String>, FuncError> {
    args.iter().map(string).collect()
}

pub(crate) fn int(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(wrong_type("int", other)),
    }
}

pub(crate) fn list(v: &Value) -> Result<Arc<Vec<Value>>, FuncError> {
    match v {
        Value::List(l) => Ok(l.clone()),
        Value::Nil => Ok(Arc::new(Vec::new())),
        other => Err(wrong_type("[]interface {}", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("plugin", "plugin"));
        assert!(glob_match("*File", "writeToFile"));
        assert!(glob_match("env*", "envOrDefault"));
        assert!(!glob_match("env", "envOrDefault"));
    }
}
