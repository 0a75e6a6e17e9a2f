//! `-tags` as a Go `text/template` (upstream v7.4), evaluated by the `gotemplate` engine
//! against the container's inspect document, with upstream's functions `strSlice sIndex mIndex
//! toUpper toLower replace join split splitIndex matchFirstElement matchAllElements`, a
//! lenient `index`, and Go's predefined ones (`eq`, `printf`, `len`, ...). No `httpGet` or
//! `jsonParse`.
//!
//! The data is the inspect JSON as Go's template sees go-dockerclient's `Container`: keys as
//! field names (`.ID` as well as Docker's `.Id`), numbers as integers where they are whole,
//! string-valued objects (`.Config.Labels`) as `map[string]string`. A missing key renders empty
//! (Go's `missingkey=zero`; upstream prints `<no value>` for a missing label).

use super::Container;
use gotemplate::{FuncError, FuncMap, Funcs, Options, Template, TemplateError, Value};
use regex::Regex;
use std::collections::BTreeMap;

/// Renders `tmpl` for container `c`; a template without `{{` is returned unchanged.
pub fn render(tmpl: &str, c: &Container) -> Result<String, TemplateError> {
    if !tmpl.contains("{{") {
        return Ok(tmpl.to_string());
    }
    let mut funcs = funcs();
    let options = Options {
        zero_on_missing_key: true,
        ..Options::default()
    };
    let t = Template::parse("tags", tmpl, &options, &|name| funcs.has(name))?;
    t.execute(&data(c), &mut funcs)
}

/// The template's dot: the inspect document, with `ID` beside Docker's `Id`.
fn data(c: &Container) -> Value {
    let mut root = match from_json(&c.inspect) {
        Value::Map(m) => m.entries.clone(),
        _ => BTreeMap::new(),
    };
    if let Some(id) = root.get("Id").cloned() {
        root.entry("ID".to_string()).or_insert(id);
    }
    Value::map(root)
}

fn from_json(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        J::Array(a) => Value::list(a.iter().map(from_json).collect()),
        J::Object(o) => {
            let entries: BTreeMap<String, Value> =
                o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect();
            if o.values().all(J::is_string) {
                Value::str_map(entries)
            } else {
                Value::map(entries)
            }
        }
        other => Value::from_json(other),
    }
}

/// A value as text: strings as they are, nil as empty, anything else as Go's `%v`.
fn text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Nil => String::new(),
        other => other.to_string(),
    }
}

fn int(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(FuncError::call(format!("expected integer, got {other}"))),
    }
}

/// The elements of a list as text; anything else is an empty list.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.iter().map(text).collect(),
        _ => Vec::new(),
    }
}

fn list(items: Vec<String>) -> Value {
    Value::list(items.into_iter().map(Value::from).collect())
}

/// The first `n` arguments, or Go's arity error.
fn args<const N: usize>(a: &[Value]) -> Result<&[Value; N], FuncError> {
    a.get(..N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| FuncError::arity(N, a.len()))
}

/// Go-style index into a list of `len`: negative counts from the end; clamped into range.
fn clamp(i: i64, len: usize) -> usize {
    let len = len as i64;
    let i = if i < 0 { len + i } else { i };
    i.clamp(0, (len - 1).max(0)) as usize
}

fn at(items: &[String], i: usize) -> Value {
    Value::str(items.get(i).map(String::as_str).unwrap_or_default())
}

/// Upstream's function map (plus `index`, which looks up without failing).
fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    m.insert("toUpper", |a| {
        let [s] = args(&a)?;
        Ok(Value::str(text(s).to_uppercase()))
    });
    m.insert("toLower", |a| {
        let [s] = args(&a)?;
        Ok(Value::str(text(s).to_lowercase()))
    });
    m.insert("mIndex", |a| {
        let [key, map] = args(&a)?;
        let found = match map {
            Value::Map(m) => m.entries.get(&text(key)),
            _ => None,
        };
        Ok(found.cloned().unwrap_or_else(|| Value::str("")))
    });
    m.insert("index", |a| {
        let [base, key] = args(&a)?;
        let found = match (base, key) {
            (Value::List(l), Value::Int(i)) => usize::try_from(*i).ok().and_then(|i| l.get(i)),
            (Value::Map(m), key) if !matches!(key, Value::Int(_)) => m.entries.get(&text(key)),
            _ => None,
        };
        Ok(found.cloned().unwrap_or_else(|| Value::str("")))
    });
    m.insert("sIndex", |a| {
        let [i, items] = args(&a)?;
        let items = strings(items);
        Ok(at(&items, clamp(int(i)?, items.len())))
    });
    m.insert("strSlice", |a| {
        let [items, i] = args(&a)?;
        let items = strings(items);
        let i = clamp(int(i)?, items.len() + 1);
        let j = match a.get(2) {
            Some(j) => clamp(int(j)?, items.len() + 1),
            None => items.len(),
        };
        Ok(list(items.get(i..j.max(i)).unwrap_or_default().to_vec()))
    });
    m.insert("replace", |a| {
        let [count, old, new, src] = args(&a)?;
        let (count, old, new, src) = (int(count)?, text(old), text(new), text(src));
        Ok(Value::str(if count < 0 {
            src.replace(&old, &new)
        } else {
            src.replacen(&old, &new, count as usize)
        }))
    });
    m.insert("join", |a| {
        let [sep, items] = args(&a)?;
        Ok(Value::str(strings(items).join(&text(sep))))
    });
    m.insert("split", |a| {
        let [sep, s] = args(&a)?;
        Ok(list(text(s).split(&text(sep)).map(String::from).collect()))
    });
    m.insert("splitIndex", |a| {
        let [i, sep, s] = args(&a)?;
        let parts: Vec<String> = text(s).split(&text(sep)).map(String::from).collect();
        Ok(at(&parts, clamp(int(i)?, parts.len())))
    });
    m.insert("matchFirstElement", |a| {
        let hits = matches(&a)?;
        Ok(at(&hits, 0))
    });
    m.insert("matchAllElements", |a| Ok(list(matches(&a)?)));
    m
}

/// The elements of `a[1]` matching the regular expression `a[0]`.
fn matches(a: &[Value]) -> Result<Vec<String>, FuncError> {
    let [re, items] = args(a)?;
    let re = Regex::new(&text(re)).map_err(|e| FuncError::call(e.to_string()))?;
    Ok(strings(items)
        .into_iter()
        .filter(|e| re.is_match(e))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn container() -> Container {
        serde_json::from_value(serde_json::json!({
            "Id": "0123456789abcdef",
            "Name": "/web.1",
            "Config": {
                "Image": "reg:5000/team/web:1.2",
                "Env": ["A=1", "ROLE=primary"],
                "Labels": {"com.amazonaws.ecs.task-arn": "arn:aws:ecs:task/abc/def"}
            },
            "State": {"Pid": 4242, "Running": true}
        }))
        .unwrap()
    }

    #[test]
    fn renders_upstream_examples() {
        let c = container();
        let r = |t: &str| render(t, &c).unwrap_or_else(|e| format!("ERR {e}"));
        assert_eq!(r("plain,tags"), "plain,tags");
        assert_eq!(
            r(r#"{{ mIndex "com.amazonaws.ecs.task-arn" .Config.Labels | splitIndex -1 "/" }}"#),
            "def"
        );
        assert_eq!(
            r("id-{{ .ID | toUpper }},{{.Name}}"),
            "id-0123456789ABCDEF,/web.1"
        );
        assert_eq!(
            r(r#"{{ matchFirstElement "^ROLE=" .Config.Env | splitIndex 1 "=" }}"#),
            "primary"
        );
        assert_eq!(r(r#"{{ join "," .Config.Env }}"#), "A=1,ROLE=primary");
        assert_eq!(
            r(r#"{{ replace -1 "/" "-" .Config.Image }}"#),
            "reg:5000-team-web:1.2"
        );
        assert!(render("{{ nope 1 }}", &c).is_err());
        assert!(render("{{ .Name", &c).is_err());
    }

    #[test]
    fn the_rest_of_upstreams_functions() {
        let c = container();
        let r = |t: &str| render(t, &c).unwrap_or_else(|e| format!("ERR {e}"));
        assert_eq!(r(r#"{{ strSlice (split "=" "a=b=c") 1 }}"#), "[b c]");
        assert_eq!(r(r#"{{ strSlice .Config.Env 0 1 }}"#), "[A=1]");
        assert_eq!(
            r(r#"{{ sIndex -1 .Config.Env | toLower }}"#),
            "role=primary"
        );
        assert_eq!(
            r(r#"{{ matchAllElements "=" .Config.Env }}"#),
            "[A=1 ROLE=primary]"
        );
        assert_eq!(r(r#"[{{ matchFirstElement "^X=" .Config.Env }}]"#), "[]");
        assert_eq!(r(r#"{{ replace 1 "1" "x" "111" }}"#), "x11");
        assert_eq!(
            r(r#"{{ index .Config.Env 1 }}|{{ index .Config.Env 9 }}|"#),
            "ROLE=primary||"
        );
        assert_eq!(r("{{ .State.Pid }}"), "4242");
        assert!(r(r#"{{ sIndex "x" .Config.Env }}"#).contains("expected integer, got x"));
    }

    #[test]
    fn the_full_language_and_empty_missing_labels() {
        let c = container();
        let r = |t: &str| render(t, &c).unwrap_or_else(|e| format!("ERR {e}"));
        assert_eq!(r("[{{ .Config.Labels.team }}]"), "[]");
        assert_eq!(r(r#"[{{ mIndex "team" .Config.Labels }}]"#), "[]");
        assert_eq!(
            r(r#"{{ range .Config.Env }}{{ if ne . "A=1" }}{{ . }}{{ end }}{{ end }}"#),
            "ROLE=primary"
        );
        assert_eq!(r(r#"{{ printf "%s-%d" .Name .State.Pid }}"#), "/web.1-4242");
    }
}
