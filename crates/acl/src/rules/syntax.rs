//! A rules text read into a neutral tree of keyed entries, whatever its syntax.
//!
//! Consul decodes rules with HCL 1, which reads JSON when the text starts with `{` and HCL
//! otherwise, and sees `key "a" { policy = "read" }`, `key = { a = { policy = "read" } }` and
//! `{"key": {"a": {"policy": "read"}}}` alike: entries keyed `key`, then `a`, then `policy`.
//! The tree keeps that shape, entries in source order and repeated keys kept, so that
//! `rules/mod.rs` interprets one form only.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

use super::duplicates;

/// One value of the tree.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// A string, number or boolean, as its text (HCL 1 decodes all three into strings).
    Scalar(String),
    /// A block body or object: entries in source order, repeated keys kept.
    Object(Vec<(String, Node)>),
    /// A list (JSON arrays of rule objects, HCL lists).
    List(Vec<Node>),
    /// A value rules never hold (null, a variable, a function call, ...), named for messages.
    Other(&'static str),
}

impl Node {
    /// How the value is called in a message.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Node::Scalar(_) => "a string",
            Node::Object(_) => "a block",
            Node::List(_) => "a list",
            Node::Other(what) => what,
        }
    }
}

/// The top-level entries of `text`; the error is the reason, without Consul's
/// `Failed to parse ACL rules: ` start.
pub(super) fn read(text: &str) -> Result<Vec<(String, Node)>, String> {
    if text.trim_start().starts_with('{') {
        return read_json(text);
    }
    read_hcl(text)
}

fn read_hcl(text: &str) -> Result<Vec<(String, Node)>, String> {
    if api_types::hcl_guard::nests_too_deep(text) {
        return Err(format!(
            "nesting deeper than {} levels",
            api_types::hcl_guard::MAX_HCL_NESTING
        ));
    }
    if let Some(duplicate) = duplicates::first(text) {
        return Err(duplicate);
    }
    let body = hcl::parse(text)
        .or_else(|e| hcl::parse(&api_types::hcl1::to_hcl2(text)).map_err(|_| e))
        .map_err(|e| match e {
            hcl::Error::Parse(p) => format!(
                "At {}:{}: {}",
                p.location().line(),
                p.location().column(),
                p.message()
            ),
            other => other.to_string(),
        })?;
    Ok(body_entries(&body))
}

fn body_entries(body: &hcl::Body) -> Vec<(String, Node)> {
    body.iter()
        .map(|structure| match structure {
            hcl::Structure::Attribute(a) => (a.key.as_str().to_string(), expression(&a.expr)),
            hcl::Structure::Block(b) => {
                // `key "a" "b" { ... }` is `key = { a = { b = { ... } } }`.
                let mut node = Node::Object(body_entries(&b.body));
                for label in b.labels.iter().rev() {
                    node = Node::Object(vec![(label.as_str().to_string(), node)]);
                }
                (b.identifier.as_str().to_string(), node)
            }
        })
        .collect()
}

fn expression(expr: &hcl::Expression) -> Node {
    use hcl::Expression as E;
    match expr {
        E::String(s) => Node::Scalar(s.clone()),
        E::Number(n) => Node::Scalar(n.to_string()),
        E::Bool(b) => Node::Scalar(b.to_string()),
        // HCL 1 does not interpolate: `"${x}"` is those characters.
        E::TemplateExpr(t) => Node::Scalar(match t.as_ref() {
            hcl::TemplateExpr::QuotedString(s) => s.clone(),
            hcl::TemplateExpr::Heredoc(h) => h.template.clone(),
        }),
        E::Array(items) => Node::List(items.iter().map(expression).collect()),
        E::Object(object) => {
            let mut entries = Vec::with_capacity(object.len());
            for (key, value) in object.iter() {
                let key = match key {
                    hcl::ObjectKey::Identifier(id) => id.as_str().to_string(),
                    hcl::ObjectKey::Expression(E::String(s)) => s.clone(),
                    _ => return Node::Other("an object with a computed key"),
                };
                entries.push((key, expression(value)));
            }
            Node::Object(entries)
        }
        E::Parenthesis(inner) => expression(inner),
        E::Null => Node::Other("null"),
        E::Variable(_) => Node::Other("an unquoted word"),
        _ => Node::Other("an expression"),
    }
}

fn read_json(text: &str) -> Result<Vec<(String, Node)>, String> {
    let JsonNode(node) = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match node {
        Node::Object(entries) => Ok(entries),
        other => Err(format!("expected an object, got {}", other.kind())),
    }
}

/// A JSON value read into a [`Node`], keeping repeated object keys (HCL 1 keeps them too).
struct JsonNode(Node);

impl<'de> Deserialize<'de> for JsonNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = JsonNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Scalar(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Scalar(v.to_string())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Scalar(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Scalar(v.to_string())))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Scalar(v.to_string())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Other("null")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonNode, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonNode(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsonNode(Node::List(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonNode, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, JsonNode(value))) = map.next_entry::<String, JsonNode>()? {
            entries.push((key, value));
        }
        Ok(JsonNode(Node::Object(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(entries: &[(&str, Node)]) -> Node {
        Node::Object(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn s(v: &str) -> Node {
        Node::Scalar(v.to_string())
    }

    #[test]
    fn all_forms_read_alike() {
        let want = vec![(
            "key".to_string(),
            obj(&[("a", obj(&[("policy", s("read"))]))]),
        )];
        let forms = [
            "key \"a\" {\n  policy = \"read\"\n}\n",
            "key \"a\" { policy = \"read\" }",
            "key = { a = { policy = \"read\" } }",
            "key a { policy = \"read\" }",
            r#"{"key": {"a": {"policy": "read"}}}"#,
            "  \n{\"key\":{\"a\":{\"policy\":\"read\"}}}",
        ];
        for text in forms {
            assert_eq!(read(text), Ok(want.clone()), "{text}");
        }
    }

    #[test]
    fn hcl1_one_line_bodies_are_rewritten() {
        let text = r#"service "web" { policy = "write" intentions = "read" }"#;
        let want = vec![(
            "service".to_string(),
            obj(&[(
                "web",
                obj(&[("policy", s("write")), ("intentions", s("read"))]),
            )]),
        )];
        assert_eq!(read(text), Ok(want));
    }

    #[test]
    fn json_keeps_repeated_keys_and_reads_scalars_as_text() {
        let text =
            r#"{"key": {"a": {"policy": "read"}}, "key": {"b": {"policy": 1}}, "acl": true}"#;
        let got = read(text).expect("reads");
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].1, obj(&[("b", obj(&[("policy", s("1"))]))]));
        assert_eq!(got[2].1, s("true"));
    }

    #[test]
    fn errors_are_reasons() {
        let table = [
            ("key \"a\" {", "At "),
            ("{\"key\": ", "EOF while parsing"),
            ("[1]", "At "),
        ];
        for (text, want) in table {
            let e = read(text).expect_err(text);
            assert!(e.contains(want), "{text}: {e}");
        }
        let deep = "a = ".to_string() + &"[".repeat(40);
        assert_eq!(
            read(&deep),
            Err("nesting deeper than 32 levels".to_string())
        );
    }
}
