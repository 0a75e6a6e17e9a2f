//! `-tags` as a Go `text/template` (upstream v7.4) evaluated against the container inspect
//! object: the subset registrator users write — text, `{{ pipeline }}` actions with `|`,
//! field paths (`.ID`, `.Name`, `.Config.Labels`, …), string/number literals, and upstream's
//! functions `strSlice sIndex mIndex toUpper toLower replace join split splitIndex
//! matchFirstElement matchAllElements` plus `index`. No control structures, no `httpGet`.

use crate::docker::ContainerInspect;
use regex::Regex;
use serde_json::Value;

/// Renders `tmpl` for container `c`; a template without `{{` is returned unchanged.
pub fn render(tmpl: &str, c: &ContainerInspect) -> Result<String, String> {
    if !tmpl.contains("{{") {
        return Ok(tmpl.to_string());
    }
    let data = serde_json::to_value(c).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut rest = tmpl;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unclosed action")?;
        let mut action = &after[..end];
        rest = &after[end + 2..];
        if let Some(a) = action.strip_prefix('-') {
            text = text.trim_end();
            action = a;
        }
        out.push_str(text);
        if let Some(a) = action.strip_suffix('-') {
            action = a;
            rest = rest.trim_start();
        }
        out.push_str(&to_text(&eval(action.trim(), &data)?));
    }
    out.push_str(rest);
    Ok(out)
}

fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(to_text).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

fn tokens(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '`' {
            chars.next();
            let mut lit = String::from('"');
            loop {
                match chars.next() {
                    None => return Err("unterminated string".into()),
                    Some(q) if q == c => break,
                    Some('\\') if c == '"' => {
                        let e = chars.next().ok_or("bad escape")?;
                        lit.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                    Some(ch) => lit.push(ch),
                }
            }
            out.push(lit);
        } else if c == '|' {
            chars.next();
            out.push("|".into());
        } else {
            let mut word = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '|' {
                    break;
                }
                word.push(ch);
                chars.next();
            }
            out.push(word);
        }
    }
    Ok(out)
}

fn field(data: &Value, path: &str) -> Value {
    let mut cur = data;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let key = if part == "ID" { "Id" } else { part };
        let next = cur.get(key).or_else(|| {
            cur.as_object().and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
        });
        match next {
            Some(v) => cur = v,
            None => return Value::Null,
        }
    }
    cur.clone()
}

fn operand(tok: &str, data: &Value) -> Result<Value, String> {
    if let Some(s) = tok.strip_prefix('"') {
        Ok(Value::String(s.to_string()))
    } else if tok.starts_with('.') {
        Ok(field(data, tok))
    } else if let Ok(n) = tok.parse::<i64>() {
        Ok(Value::from(n))
    } else {
        Err(format!("function {tok:?} not defined"))
    }
}

fn eval(action: &str, data: &Value) -> Result<Value, String> {
    let toks = tokens(action)?;
    let mut prev: Option<Value> = None;
    for cmd in toks.split(|t| t == "|") {
        let (head, args) = cmd.split_first().ok_or("empty command")?;
        let mut vals = args
            .iter()
            .map(|a| operand(a, data))
            .collect::<Result<Vec<_>, _>>()?;
        vals.extend(prev.take());
        prev = Some(if FUNCS.contains(&head.as_str()) {
            call(head, &vals)?
        } else if vals.is_empty() {
            operand(head, data)?
        } else {
            return Err(format!("can't give argument to non-function {head}"));
        });
    }
    Ok(prev.unwrap_or(Value::Null))
}

const FUNCS: &[&str] = &[
    "strSlice",
    "sIndex",
    "mIndex",
    "toUpper",
    "toLower",
    "replace",
    "join",
    "split",
    "splitIndex",
    "matchFirstElement",
    "matchAllElements",
    "index",
];

fn s(v: &Value) -> String {
    to_text(v)
}
fn n(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("expected integer, got {v}"))
}
fn list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default()
}
fn at<'a>(a: &'a [Value], i: usize, f: &str) -> Result<&'a Value, String> {
    a.get(i)
        .ok_or_else(|| format!("wrong number of args for {f}"))
}
fn strs(v: Vec<String>) -> Value {
    Value::Array(v.into_iter().map(Value::String).collect())
}
/// Go-style index into a list of `len`: negative counts from the end; clamped into range.
fn clamp(i: i64, len: usize) -> usize {
    let len = len as i64;
    let i = if i < 0 { len + i } else { i };
    i.clamp(0, (len - 1).max(0)) as usize
}

fn call(f: &str, a: &[Value]) -> Result<Value, String> {
    Ok(match f {
        "toUpper" => Value::String(s(at(a, 0, f)?).to_uppercase()),
        "toLower" => Value::String(s(at(a, 0, f)?).to_lowercase()),
        "mIndex" => at(a, 1, f)?
            .get(s(at(a, 0, f)?))
            .cloned()
            .unwrap_or(Value::Null),
        "index" => {
            let (base, key) = (at(a, 0, f)?, at(a, 1, f)?);
            match key.as_i64() {
                Some(i) => base.get(i as usize).cloned().unwrap_or(Value::Null),
                None => base.get(s(key)).cloned().unwrap_or(Value::Null),
            }
        }
        "sIndex" => {
            let l = list(at(a, 1, f)?);
            let i = n(at(a, 0, f)?)?;
            l.get(clamp(i, l.len()))
                .cloned()
                .map(Value::String)
                .unwrap_or(Value::Null)
        }
        "strSlice" => {
            let l = list(at(a, 0, f)?);
            let i = clamp(n(at(a, 1, f)?)?, l.len() + 1);
            let j = match a.get(2) {
                Some(j) => clamp(n(j)?, l.len() + 1),
                None => l.len(),
            };
            strs(l.get(i..j.max(i)).unwrap_or_default().to_vec())
        }
        "replace" => {
            let (count, old, new, src) = (
                n(at(a, 0, f)?)?,
                s(at(a, 1, f)?),
                s(at(a, 2, f)?),
                s(at(a, 3, f)?),
            );
            Value::String(if count < 0 {
                src.replace(&old, &new)
            } else {
                src.replacen(&old, &new, count as usize)
            })
        }
        "join" => Value::String(list(at(a, 1, f)?).join(&s(at(a, 0, f)?))),
        "split" => strs(
            s(at(a, 1, f)?)
                .split(&s(at(a, 0, f)?))
                .map(String::from)
                .collect(),
        ),
        "splitIndex" => {
            let parts: Vec<String> = s(at(a, 2, f)?)
                .split(&s(at(a, 1, f)?))
                .map(String::from)
                .collect();
            let i = clamp(n(at(a, 0, f)?)?, parts.len());
            parts
                .get(i)
                .cloned()
                .map(Value::String)
                .unwrap_or(Value::Null)
        }
        "matchFirstElement" | "matchAllElements" => {
            let re = Regex::new(&s(at(a, 0, f)?)).map_err(|e| e.to_string())?;
            let hits: Vec<String> = list(at(a, 1, f)?)
                .into_iter()
                .filter(|e| re.is_match(e))
                .collect();
            if f == "matchFirstElement" {
                hits.into_iter()
                    .next()
                    .map(Value::String)
                    .unwrap_or(Value::Null)
            } else {
                strs(hits)
            }
        }
        _ => return Err(format!("function {f:?} not defined")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> ContainerInspect {
        serde_json::from_value(serde_json::json!({
            "Id": "0123456789abcdef",
            "Name": "/web.1",
            "Config": {
                "Image": "reg:5000/team/web:1.2",
                "Env": ["A=1", "ROLE=primary"],
                "Labels": {"com.amazonaws.ecs.task-arn": "arn:aws:ecs:task/abc/def"}
            }
        }))
        .unwrap_or_default()
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
}
