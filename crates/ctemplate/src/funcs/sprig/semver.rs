//! sprig's `semver` and `semverCompare` over Masterminds/semver v3.3's rules: versions read
//! loosely (`v` prefix, missing minor/patch as 0, prerelease and build metadata), ordered by
//! SemVer precedence; constraints are `||` alternatives of comma- or space-separated
//! comparisons (`=`, `!=`, `>`, `<`, `>=`, `<=`, `~`, `~>`, `^`, wildcards `x`/`X`/`*`,
//! hyphen ranges `1.2 - 1.4`), a prerelease version satisfying one only when the comparison
//! itself names a prerelease. `semver` returns a version whose methods (`.Major`, `.Minor`,
//! `.Patch`, `.Prerelease`, `.Metadata`, `.Original`, `.String`, `.Compare` and the other
//! comparisons) a template can call.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use regex::Regex;

use super::super::{string, Func};
use super::want;
use gotemplate::{FuncError, Object, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("sprig_semver", |_, a| {
        want(&a, 1)?;
        let v = Version::parse(&string(&a[0])?)?;
        Ok(Value::Object(Arc::new(v)))
    }),
    ("sprig_semverCompare", |_, a| {
        want(&a, 2)?;
        let c = Constraints::parse(&string(&a[0])?)?;
        let v = Version::parse(&string(&a[1])?)?;
        Ok(Value::Bool(c.check(&v)))
    }),
];

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

fn re(cell: &'static OnceLock<Regex>, src: impl FnOnce() -> String) -> &'static Regex {
    cell.get_or_init(|| Regex::new(&src()).unwrap_or_else(|e| panic!("semver regex: {e}")))
}

fn version_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, || {
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$".to_string()
    })
}

fn constraint_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, || format!(r"^\s*({OPS})\s*({CV})\s*$"))
}

fn range_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, || format!(r"\s*({CV})\s+-\s+({CV})\s*"))
}

fn find_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, || format!(r"({OPS})\s*({CV})"))
}

fn valid_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, || {
        format!(r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$")
    })
}

/// A version (`semver.Version`).
#[derive(Clone, Debug)]
pub(super) struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

fn only(s: &str, extra: bool) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (extra && (b.is_ascii_alphabetic() || b == b'-')))
}

impl Version {
    fn parse(s: &str) -> Result<Version, FuncError> {
        let invalid = || FuncError::call("Invalid Semantic Version");
        let m = version_re().captures(s).ok_or_else(invalid)?;
        let seg =
            |i: usize| -> Result<u64, FuncError> {
                match m.get(i) {
                    None => Ok(0),
                    Some(x) => x.as_str().trim_start_matches('.').parse().map_err(|e| {
                        FuncError::call(format!("Error parsing version segment: {e}"))
                    }),
                }
            };
        let v = Version {
            major: seg(1)?,
            minor: seg(2)?,
            patch: seg(3)?,
            pre: m.get(5).map_or("", |x| x.as_str()).to_string(),
            metadata: m.get(8).map_or("", |x| x.as_str()).to_string(),
            original: s.to_string(),
        };
        for part in v.pre.split('.').filter(|_| !v.pre.is_empty()) {
            if only(part, false) {
                if part.len() > 1 && part.starts_with('0') {
                    return Err(FuncError::call("Version segment starts with 0"));
                }
            } else if !only(part, true) {
                return Err(FuncError::call("Invalid Prerelease string"));
            }
        }
        Ok(v)
    }

    fn text(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    fn compare(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }

    /// The methods a template calls on it.
    fn method(&self, name: &str) -> Option<Value> {
        let n = |x: u64| Value::Int(i64::try_from(x).unwrap_or(i64::MAX));
        Some(match name {
            "Major" => n(self.major),
            "Minor" => n(self.minor),
            "Patch" => n(self.patch),
            "Prerelease" => Value::str(&self.pre),
            "Metadata" => Value::str(&self.metadata),
            "Original" => Value::str(&self.original),
            "String" => Value::str(self.text()),
            _ => return None,
        })
    }
}

impl Object for Version {
    fn type_name(&self) -> &str {
        "*semver.Version"
    }
    fn format_v(&self) -> String {
        self.text()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A method call on a `sprig_semver` value, if `recv` is one: the accessors, and the
/// comparisons that take another version (`Compare` answers -1, 0 or 1).
pub(crate) fn method(recv: &Value, name: &str, args: &[Value]) -> Option<Result<Value, FuncError>> {
    let Value::Object(o) = recv else { return None };
    let v = o.as_any().downcast_ref::<Version>()?;
    if let Some(out) = v.method(name) {
        if !args.is_empty() {
            return Some(Err(FuncError::arity(0, args.len())));
        }
        return Some(Ok(out));
    }
    let cmp: fn(Ordering) -> Value = match name {
        "Compare" => |o| Value::Int(o as i64),
        "LessThan" => |o| Value::Bool(o == Ordering::Less),
        "LessThanEqual" => |o| Value::Bool(o != Ordering::Greater),
        "GreaterThan" => |o| Value::Bool(o == Ordering::Greater),
        "GreaterThanEqual" => |o| Value::Bool(o != Ordering::Less),
        "Equal" => |o| Value::Bool(o == Ordering::Equal),
        _ => return None,
    };
    let [other] = args else {
        return Some(Err(FuncError::arity(1, args.len())));
    };
    let other = match other {
        Value::Object(x) => x.as_any().downcast_ref::<Version>(),
        _ => None,
    };
    Some(match other {
        Some(w) => Ok(cmp(v.compare(w))),
        None => Err(FuncError::call(format!(
            "wrong type for value; expected *semver.Version; got {}",
            args[0].type_name()
        ))),
    })
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..pa.len().max(pb.len()) {
        let (x, y) = (
            pa.get(i).copied().unwrap_or(""),
            pb.get(i).copied().unwrap_or(""),
        );
        let d = compare_part(x, y);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => s.cmp(o),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(x), Ok(y)) => {
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

#[derive(Debug)]
struct Constraint {
    op: String,
    con: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

impl Constraint {
    fn parse(c: &str) -> Result<Constraint, FuncError> {
        let m = constraint_re()
            .captures(c)
            .ok_or_else(|| FuncError::call(format!("improper constraint: {c}")))?;
        let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
        let (major, minor, patch, pre) = (g(3), g(4), g(5), g(6));
        let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
        let ver = if is_x(major) || major.is_empty() {
            dirty = true;
            format!("0.0.0{pre}")
        } else if is_x(minor.trim_start_matches('.')) || minor.is_empty() {
            minor_dirty = true;
            dirty = true;
            format!("{major}.0.0{pre}")
        } else if is_x(patch.trim_start_matches('.')) || patch.is_empty() {
            dirty = true;
            patch_dirty = true;
            format!("{major}{minor}.0{pre}")
        } else {
            g(2).to_string()
        };
        let con = Version::parse(&ver).map_err(|_| FuncError::call("constraint Parser Error"))?;
        Ok(Constraint {
            op: g(1).to_string(),
            con,
            minor_dirty,
            patch_dirty,
            dirty,
        })
    }

    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        let pre_blocked = !v.pre.is_empty() && c.pre.is_empty();
        match self.op.as_str() {
            "" | "=" => {
                if pre_blocked {
                    return false;
                }
                if self.dirty {
                    return self.tilde(v);
                }
                v.compare(c) == Ordering::Equal
            }
            "!=" => self.not_equal(v),
            ">" => {
                if pre_blocked {
                    return false;
                }
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                v.compare(c) == Ordering::Greater
            }
            "<" => !pre_blocked && v.compare(c) == Ordering::Less,
            ">=" | "=>" => !pre_blocked && v.compare(c) != Ordering::Less,
            "<=" | "=<" => {
                if pre_blocked {
                    return false;
                }
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            "~" | "~>" => !pre_blocked && self.tilde(v),
            "^" => !pre_blocked && self.caret(v),
            _ => false,
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if !v.pre.is_empty() && c.pre.is_empty() {
                return false;
            }
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch != v.patch && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.pre.is_empty() || !c.pre.is_empty() {
                    return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                }
                return false;
            }
        }
        v.compare(c) != Ordering::Equal
    }
}

struct Constraints(Vec<Vec<Constraint>>);

impl Constraints {
    fn parse(c: &str) -> Result<Constraints, FuncError> {
        // rewriteRange: "a - b" → ">= a, <= b ".
        let mut text = c.to_string();
        for m in range_re().captures_iter(c) {
            let (whole, a, b) = (&m[0], &m[1], &m[11]);
            text = text.replacen(whole, &format!(">= {a}, <= {b} "), 1);
        }
        let mut ors = Vec::new();
        for alt in text.split("||") {
            if !valid_re().is_match(alt) {
                return Err(FuncError::call(format!("improper constraint: {alt}")));
            }
            let found: Vec<&str> = find_re().find_iter(alt).map(|m| m.as_str()).collect();
            let found = if found.is_empty() { vec![alt] } else { found };
            ors.push(
                found
                    .into_iter()
                    .map(Constraint::parse)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(Constraints(ors))
    }

    fn check(&self, v: &Version) -> bool {
        self.0.iter().any(|and| and.iter().all(|c| c.check(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        Constraints::parse(c)
            .unwrap()
            .check(&Version::parse(v).unwrap())
    }

    #[test]
    fn masterminds_constraint_examples() {
        // From Masterminds/semver's constraints_test.go TestConstraintsCheck table.
        assert!(ok("*", "1.2.3"));
        assert!(!ok("*", "1.2.3-beta.1"));
        assert!(ok("~0.0.0", "1.2.3"));
        assert!(ok("0.x.x", "0.1.2"));
        assert!(!ok("0.x.x", "1.1.2"));
        assert!(ok("2.x", "2.1.1"));
        assert!(!ok("2.x", "1.1.1"));
        assert!(ok(">1.1", "1.2.0"));
        assert!(!ok(">1.1", "1.1.0"));
        assert!(ok("1.1 - 2", "1.1.1"));
        assert!(!ok("1.1 - 2", "3.0.0"));
        assert!(ok("^1.1.1-alpha", "1.1.1-beta"));
        assert!(!ok("~1", "1.3.5-beta"));
        assert!(ok("~1.2.3", "1.2.4"));
        assert!(!ok("~1.2.3", "1.3.4"));
        assert!(ok("^1.2.3", "1.8.9"));
        assert!(!ok("^1.2.3", "2.8.9"));
        assert!(ok("^0.2.3", "0.2.5"));
        assert!(!ok("^0.2.3", "0.5.6"));
        assert!(ok(">=1.1, <2", "1.9.9"));
        assert!(ok("<1 || >=2", "2.1.0"));
        assert!(!ok("<1 || >=2", "1.1.0"));
        assert!(ok(">= 1.1.1-beta", "1.1.1-rc"));
        assert!(ok("!=1.2.3", "1.2.4"));
        assert!(Version::parse("v1.2").unwrap().text() == "1.2.0");
        assert!(Version::parse("1.2.3.4").is_err());
    }
}
