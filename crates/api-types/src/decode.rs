//! Request bodies decoded the way Go's `encoding/json` decodes them into Consul's structs:
//!
//! - field names match case-insensitively, and Consul's snake_case aliases
//!   (`enable_tag_override`, `script_args`) are accepted: keys are canonicalised in a pre-pass;
//!   keys inside free-form maps (`Meta`, `NodeMeta`, `Header`, ...) are user data and left alone;
//! - `null` is the zero value wherever it appears: `None` for an `Option` field (Go's nil
//!   pointer, slice or map), the type's zero for any other field (`""`, `0`, `false`, an empty
//!   list or map, a struct of zeros), and the same for `null` elements of lists and `null`
//!   values of maps (Go: `[null]` into a `[]string` is `[""]`);
//! - unknown fields are ignored;
//! - only the body's first JSON value is read (`json.Decoder.Decode`): bytes after it are not
//!   an error;
//! - a value of the wrong type is an error in Go's words:
//!   `json: cannot unmarshal string into Go struct field .Port of type int`.
//!
//! So every body type gives every field a default (`#[serde(default)]`): an absent field and a
//! `null` one both decode as Go's zero value.
//!
//! Consul's *responses* are decoded with the same rules by [`decode_response`] (the typed
//! client reads every answer through it): `null` is the zero value (a `"Tags": null` is an
//! empty list), unknown fields are ignored, and a key matches a struct field exactly or else
//! case-insensitively, as Go's decoder matches them. There the match follows the target type,
//! with no request-body pre-pass, so the keys of free-form maps (a member's `Tags`, `Meta`,
//! `/v1/agent/self`) are never touched.

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Every field name of a request body we decode, in its canonical spelling.
const CANONICAL: &[&str] = &[
    "ID",
    "Name",
    "Service",
    "Services",
    "Tags",
    "Address",
    "TaggedAddresses",
    "Meta",
    "Port",
    "Kind",
    "Proxy",
    "Connect",
    "Check",
    "Checks",
    "EnableTagOverride",
    "Weights",
    "Passing",
    "Warning",
    "SocketPath",
    "Namespace",
    "Partition",
    "CheckID",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "Notes",
    "Status",
    "Output",
    "Interval",
    "Timeout",
    "TTL",
    "HTTP",
    "Method",
    "Header",
    "Body",
    "TLSServerName",
    "TLSSkipVerify",
    "TCP",
    "UDP",
    "GRPC",
    "GRPCUseTLS",
    "H2PING",
    "OSService",
    "H2PingUseTLS",
    "Args",
    "ScriptArgs",
    "Script",
    "Shell",
    "DockerContainerID",
    "AliasNode",
    "AliasService",
    "DeregisterCriticalServiceAfter",
    "OutputMaxSize",
    "SuccessBeforePassing",
    "FailuresBeforeWarning",
    "FailuresBeforeCritical",
    "Node",
    "Datacenter",
    "NodeMeta",
    "SkipNodeUpdate",
    "Definition",
    "LockDelay",
    "NodeChecks",
    "ServiceChecks",
    "Behavior",
    "KV",
    "Verb",
    "Key",
    "Value",
    "Flags",
    "Index",
    "Session",
    "Type",
    "DisableRedirects",
    "Port",
    "Resource",
    "Access",
    "Segment",
    "Enable",
    "Reason",
    "Token",
    "ExposedPort",
    "ModifyIndex",
    // ACL auth methods, binding rules and login.
    "DisplayName",
    "Description",
    "MaxTokenTTL",
    "TokenLocality",
    "Config",
    "AuthMethod",
    "BearerToken",
    "Selector",
    "BindType",
    "BindName",
    "BindVars",
    "TokenNameFormat",
    "NamespaceRules",
];

/// Keys whose object value is user data: its keys are not field names (an auth method's
/// `Config` is decoded by its type, keys matched as Go's mapstructure matches them).
const FREE_FORM: &[&str] = &["Meta", "NodeMeta", "Header", "ServiceMeta", "Config"];

fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn table() -> &'static HashMap<String, &'static str> {
    static TABLE: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| CANONICAL.iter().map(|c| (fold(c), *c)).collect())
}

/// Rewrites object keys in place to their canonical spelling, recursively.
pub fn canonicalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut v) in old {
                let canon = table().get(&fold(&k)).map(|c| c.to_string()).unwrap_or(k);
                if !FREE_FORM.contains(&canon.as_str()) {
                    canonicalize(&mut v);
                }
                // First spelling wins, like Go (later duplicates overwrite in Go; keep it simple).
                map.insert(canon, v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonicalize),
        _ => {}
    }
}

/// Key pairs some body types read into one field (`ID`/`CheckID`, `Args`/`ScriptArgs`).
const ALIASES: &[(&str, &str)] = &[("ID", "CheckID"), ("Args", "ScriptArgs")];

/// Where a body has both keys of an alias pair and one is `null`, drops the `null` one: in Go
/// the two are separate fields, and a `null` one leaves the other's value alone, where serde
/// would see one field given twice.
fn drop_null_aliases(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (a, b) in ALIASES {
                if map.contains_key(*a) && map.contains_key(*b) {
                    if map[*a].is_null() {
                        map.remove(*a);
                    } else if map[*b].is_null() {
                        map.remove(*b);
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if !FREE_FORM.contains(&k.as_str()) {
                    drop_null_aliases(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_aliases),
        _ => {}
    }
}

/// Why a body could not be decoded; `Display` is the text after `Request decode failed: `.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl de::Error for DecodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        DecodeError(msg.to_string())
    }
}

/// The names Go prints in a type error for one body type: `Go struct field {strukt}.{path} of
/// type T` for a field, `Go value of type {value}` for the body as a whole.
#[derive(Debug, Clone, Copy)]
pub struct GoNames {
    /// The struct the body's fields belong to. Empty for the bodies Consul decodes through a
    /// custom `UnmarshalJSON` with an anonymous alias struct (`ServiceDefinition`,
    /// `CheckDefinition`, `Session`): Go then prints `Go struct field .Port`.
    pub strukt: &'static str,
    /// The Go type of the whole body (`structs.RegisterRequest`, `api.TxnOps`).
    pub value: &'static str,
    /// Nested structs' Go types by the field holding them (`("KV", "api.KVTxnOp")`): errors in
    /// their fields name them, as Go names the innermost struct.
    pub nested: &'static [(&'static str, &'static str)],
}

impl GoNames {
    /// A body whose fields Go reports as `Go struct field .Name`.
    pub const ANONYMOUS: GoNames = GoNames::new("", "struct");

    pub const fn new(strukt: &'static str, value: &'static str) -> Self {
        GoNames {
            strukt,
            value,
            nested: &[],
        }
    }

    pub const fn with_nested(self, nested: &'static [(&'static str, &'static str)]) -> Self {
        GoNames {
            strukt: self.strukt,
            value: self.value,
            nested,
        }
    }
}

/// Decodes a JSON request body with Go's rules (see the module docs); type errors name fields
/// as Consul's anonymous alias structs do (`Go struct field .Port`).
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    decode_body_as(body, GoNames::ANONYMOUS)
}

/// [`decode_body`], with the Go names its type errors print.
pub fn decode_body_as<T: DeserializeOwned>(body: &[u8], names: GoNames) -> Result<T, DecodeError> {
    from_value(first_value(body)?, names)
}

/// The body's first JSON value, read as `json.Decoder.Decode` reads it: an empty body is
/// `EOF`, a body cut short `unexpected EOF`, and bytes after the first value are not read.
pub fn first_value(body: &[u8]) -> Result<Value, DecodeError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DecodeError("EOF".to_string()));
    }
    match serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()
    {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) if e.is_eof() => Err(DecodeError("unexpected EOF".to_string())),
        Some(Err(e)) => Err(DecodeError(e.to_string())),
        None => Err(DecodeError("EOF".to_string())),
    }
}

/// Decodes a parsed JSON value with Go's rules: keys canonicalised, `null` the zero value,
/// unknown fields ignored.
pub fn from_value<T: DeserializeOwned>(mut v: Value, names: GoNames) -> Result<T, DecodeError> {
    canonicalize(&mut v);
    drop_null_aliases(&mut v);
    T::deserialize(Go {
        v,
        names,
        strukt: names.strukt,
        path: String::new(),
        fold: false,
    })
}

/// Decodes a JSON response body with Go's rules (see the module docs): the body's first
/// value, `null` as the zero value, unknown fields ignored, keys matched to struct fields
/// exactly or else case-insensitively.
pub fn decode_response<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    response_from_value(first_value(body)?)
}

/// [`decode_response`] of an already parsed JSON value.
pub fn response_from_value<T: DeserializeOwned>(v: Value) -> Result<T, DecodeError> {
    T::deserialize(Go {
        v,
        names: GoNames::ANONYMOUS,
        strukt: "",
        path: String::new(),
        fold: true,
    })
}

/// A struct's members with each key spelled as the struct's field when it matches one only
/// case-insensitively (Go's `EqualFold` fallback); an exact key wins over a folded one.
fn fold_keys(
    entries: serde_json::Map<String, Value>,
    fields: &'static [&'static str],
) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::with_capacity(entries.len());
    let mut exact = std::collections::HashSet::new();
    for (k, v) in entries {
        if fields.contains(&k.as_str()) {
            exact.insert(k.clone());
            out.insert(k, v);
            continue;
        }
        match fields.iter().find(|f| f.eq_ignore_ascii_case(&k)) {
            Some(f) if exact.contains(*f) => {}
            Some(f) => {
                out.insert((*f).to_string(), v);
            }
            None => {
                out.insert(k, v);
            }
        }
    }
    out
}

/// Serde helper for a field Consul's handler fills with a default before decoding, where a
/// present `null` replaces that default with Go's nil: absent → `None`, `null` → `Some` of the
/// empty value, anything else → `Some(value)`. Use with `#[serde(default, deserialize_with)]`.
pub fn null_is_empty<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: de::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(|v| Some(v.unwrap_or_default()))
}

/// A JSON value being decoded with Go's rules, and where it sits in the body (for Go's error
/// text).
struct Go {
    v: Value,
    names: GoNames,
    /// The struct this value is a field of.
    strukt: &'static str,
    /// Go's field path from the body's root, joined by `.` (list indices and map keys left out).
    path: String,
    /// Response mode: struct keys match field names case-insensitively (no pre-pass).
    fold: bool,
}

/// A field's Go type where the Rust type's shape does not say it.
fn field_type(field: &str) -> Option<&'static str> {
    Some(match field {
        "Tags" | "ServiceTags" | "Args" | "ScriptArgs" | "NodeChecks" => "[]string",
        "Meta" | "NodeMeta" | "ServiceMeta" => "map[string]string",
        "Header" => "map[string][]string",
        "Port" | "ExposedPort" | "OutputMaxSize" | "Passing" | "Warning" => "int",
        "Flags" | "Index" | "ModifyIndex" | "CreateIndex" => "uint64",
        _ => return None,
    })
}

impl Go {
    fn last_field(&self) -> &str {
        self.path.rsplit('.').next().unwrap_or("")
    }

    fn child(&self, v: Value, field: Option<&str>, strukt: &'static str) -> Go {
        let path = match field {
            Some(f) if self.path.is_empty() => f.to_string(),
            Some(f) => format!("{}.{f}", self.path),
            None => self.path.clone(),
        };
        Go {
            v,
            names: self.names,
            strukt,
            path,
            fold: self.fold,
        }
    }

    fn nested_name(&self) -> Option<&'static str> {
        let last = self.last_field();
        self.names
            .nested
            .iter()
            .find(|(f, _)| *f == last)
            .map(|(_, n)| *n)
    }

    /// A Go type's name without its package (`structs.NodeService` → `NodeService`).
    fn bare(go_type: &'static str) -> &'static str {
        go_type.rsplit('.').next().unwrap_or(go_type)
    }

    /// The struct this value is, named in its own fields' errors.
    fn struct_name(&self) -> &'static str {
        if self.path.is_empty() {
            return self.names.strukt;
        }
        self.nested_name().map(Go::bare).unwrap_or(self.strukt)
    }

    /// Go's `UnmarshalTypeError` text for this value decoded into `go_type`.
    fn type_error(&self, go_type: &str) -> DecodeError {
        let what = match &self.v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        self.error_with(what, go_type)
    }

    fn error_with(&self, what: &str, go_type: &str) -> DecodeError {
        if self.path.is_empty() {
            let ty = match go_type {
                "struct" | "slice" | "map" => self.names.value,
                t => t,
            };
            return DecodeError(format!(
                "json: cannot unmarshal {what} into Go value of type {ty}"
            ));
        }
        let ty = match (field_type(self.last_field()), go_type) {
            (Some(t), _) => t.to_string(),
            (None, "struct") => self.nested_name().unwrap_or("struct").to_string(),
            (None, "slice") => match self.nested_name() {
                Some(n) => format!("[]*{n}"),
                None => "[]string".to_string(),
            },
            (None, "map") => "map[string]string".to_string(),
            (None, t) => t.to_string(),
        };
        DecodeError(format!(
            "json: cannot unmarshal {what} into Go struct field {}.{} of type {ty}",
            self.strukt, self.path
        ))
    }

    fn unsigned<'de, V: Visitor<'de>>(
        self,
        v: V,
        max: u64,
        go_type: &str,
    ) -> Result<V::Value, DecodeError> {
        match &self.v {
            Value::Null => v.visit_u64(0),
            Value::Number(n) => match n.as_u64() {
                Some(x) if x <= max => v.visit_u64(x),
                _ => Err(self.error_with(&format!("number {n}"), go_type)),
            },
            _ => Err(self.type_error(go_type)),
        }
    }

    fn signed<'de, V: Visitor<'de>>(
        self,
        v: V,
        min: i64,
        max: i64,
    ) -> Result<V::Value, DecodeError> {
        match &self.v {
            Value::Null => v.visit_i64(0),
            Value::Number(n) => match n.as_i64() {
                Some(x) if (min..=max).contains(&x) => v.visit_i64(x),
                _ => Err(self.error_with(&format!("number {n}"), "int")),
            },
            _ => Err(self.type_error("int")),
        }
    }

    fn seq<'de, V: Visitor<'de>>(self, v: V, items: Vec<Value>) -> Result<V::Value, DecodeError> {
        v.visit_seq(Seq {
            items: items.into_iter(),
            parent: self,
        })
    }

    /// Visits an object's members: a struct's fields when `fields` names the struct, else a
    /// map's entries (whose keys are not part of Go's field path).
    fn map<'de, V: Visitor<'de>>(
        self,
        v: V,
        entries: serde_json::Map<String, Value>,
        fields: Option<&'static str>,
    ) -> Result<V::Value, DecodeError> {
        v.visit_map(Map {
            entries: entries.into_iter(),
            pending: None,
            parent: self,
            fields,
        })
    }
}

impl<'de> de::Deserializer<'de> for Go {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(mut self, v: V) -> Result<V::Value, DecodeError> {
        match std::mem::take(&mut self.v) {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(b),
            Value::Number(n) => {
                if let Some(x) = n.as_u64() {
                    v.visit_u64(x)
                } else if let Some(x) = n.as_i64() {
                    v.visit_i64(x)
                } else {
                    v.visit_f64(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => v.visit_string(s),
            Value::Array(items) => self.seq(v, items),
            Value::Object(entries) => self.map(v, entries, None),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        match self.v {
            Value::Null => v.visit_bool(false),
            Value::Bool(b) => v.visit_bool(b),
            _ => Err(self.type_error("bool")),
        }
    }

    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.unsigned(v, u8::MAX.into(), "uint8")
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.unsigned(v, u16::MAX.into(), "int")
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.unsigned(v, u32::MAX.into(), "int")
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.unsigned(v, u64::MAX, "uint64")
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.signed(v, i8::MIN.into(), i8::MAX.into())
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.signed(v, i16::MIN.into(), i16::MAX.into())
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.signed(v, i32::MIN.into(), i32::MAX.into())
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.signed(v, i64::MIN, i64::MAX)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_f64(v)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        match &self.v {
            Value::Null => v.visit_f64(0.0),
            Value::Number(n) => v.visit_f64(n.as_f64().unwrap_or(0.0)),
            _ => Err(self.type_error("float64")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_string(v)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_string(v)
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        match self.v {
            Value::Null => v.visit_str(""),
            Value::String(s) => v.visit_string(s),
            _ => Err(self.type_error("string")),
        }
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_string(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_byte_buf(v)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(mut self, v: V) -> Result<V::Value, DecodeError> {
        match std::mem::take(&mut self.v) {
            Value::Null => v.visit_byte_buf(Vec::new()),
            Value::String(s) => v.visit_string(s),
            Value::Array(items) => self.seq(v, items),
            other => {
                self.v = other;
                Err(self.type_error("[]uint8"))
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        match self.v {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, v: V) -> Result<V::Value, DecodeError> {
        match std::mem::take(&mut self.v) {
            Value::Null => self.seq(v, Vec::new()),
            Value::Array(items) => self.seq(v, items),
            other => {
                self.v = other;
                Err(self.type_error("slice"))
            }
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, v: V) -> Result<V::Value, DecodeError> {
        match std::mem::take(&mut self.v) {
            Value::Null => self.map(v, serde_json::Map::new(), None),
            Value::Object(entries) => self.map(v, entries, None),
            other => {
                self.v = other;
                Err(self.type_error("map"))
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DecodeError> {
        let inner = self.struct_name();
        match std::mem::take(&mut self.v) {
            Value::Null => self.map(v, serde_json::Map::new(), Some(inner)),
            Value::Object(entries) if self.fold => {
                let entries = fold_keys(entries, fields);
                self.map(v, entries, Some(inner))
            }
            Value::Object(entries) => self.map(v, entries, Some(inner)),
            other => {
                self.v = other;
                Err(self.type_error("struct"))
            }
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DecodeError> {
        let value = match self.v {
            Value::Null => Value::String(String::new()),
            other => other,
        };
        de::Deserializer::deserialize_enum(value, name, variants, v)
            .map_err(|e| DecodeError(e.to_string()))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        v.visit_unit()
    }
}

/// A JSON list's elements, each decoded with Go's rules at the list's field path.
struct Seq {
    items: std::vec::IntoIter<Value>,
    parent: Go,
}

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = DecodeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        match self.items.next() {
            None => Ok(None),
            Some(v) => seed
                .deserialize(self.parent.child(v, None, self.parent.strukt))
                .map(Some),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A JSON object's members, each value decoded with Go's rules.
struct Map {
    entries: serde_json::map::IntoIter,
    pending: Option<(String, Value)>,
    parent: Go,
    /// The struct's name when the members are a struct's fields; `None` for a map.
    fields: Option<&'static str>,
}

impl<'de> de::MapAccess<'de> for Map {
    type Error = DecodeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        let key: de::value::StringDeserializer<DecodeError> = k.clone().into_deserializer();
        let key = seed.deserialize(key)?;
        self.pending = Some((k, v));
        Ok(Some(key))
    }

    fn next_value_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, DecodeError> {
        let Some((k, v)) = self.pending.take() else {
            return Err(DecodeError("a map value without its key".to_string()));
        };
        let child = match self.fields {
            Some(strukt) => self.parent.child(v, Some(&k), strukt),
            None => self.parent.child(v, None, self.parent.strukt),
        };
        seed.deserialize(child)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_snake_case_but_not_meta() {
        let mut v: Value = serde_json::from_str(
            r#"{"name":"web","enable_tag_override":true,"meta":{"version":"1"},"check":{"script_args":["a"],"http":"x"}}"#,
        )
        .unwrap();
        canonicalize(&mut v);
        assert_eq!(v["Name"], "web");
        assert_eq!(v["EnableTagOverride"], true);
        assert_eq!(v["Meta"]["version"], "1");
        assert_eq!(v["Check"]["ScriptArgs"][0], "a");
        assert_eq!(v["Check"]["HTTP"], "x");
    }

    use crate::{
        CatalogDeregistration, CatalogRegistration, CheckRegistration, CheckUpdate,
        ServiceRegistration,
    };

    /// An object with every field name any body has, each `null`.
    fn all_null() -> Value {
        Value::Object(
            CANONICAL
                .iter()
                .map(|k| (k.to_string(), Value::Null))
                .collect(),
        )
    }

    fn go<T: DeserializeOwned>(v: Value) -> T {
        from_value(v, GoNames::ANONYMOUS).unwrap()
    }

    #[test]
    fn null_in_every_field_is_the_zero_value_for_every_body_type() {
        assert_eq!(go::<ServiceRegistration>(all_null()), Default::default());
        assert_eq!(go::<CheckRegistration>(all_null()), Default::default());
        assert_eq!(go::<CheckUpdate>(all_null()), Default::default());
        assert_eq!(go::<CatalogRegistration>(all_null()), Default::default());
        assert_eq!(go::<CatalogDeregistration>(all_null()), Default::default());
        // Inside sub-objects too.
        let mut v = all_null();
        v["Check"] = all_null();
        v["Checks"] = Value::Array(vec![all_null(), Value::Null]);
        v["Service"] = all_null();
        let s: ServiceRegistration = go(v.clone());
        assert_eq!(s.check, Some(CheckRegistration::default()));
        assert_eq!(s.checks, Some(vec![CheckRegistration::default(); 2]));
        let c: CatalogRegistration = go(v);
        assert_eq!(c.service, Some(Default::default()));
        assert_eq!(c.checks, Some(vec![Default::default(); 2]));
    }

    #[test]
    fn null_scalars_are_zero_and_null_options_none() {
        let s: ServiceRegistration = go(serde_json::json!({
            "Name": null, "Port": null, "EnableTagOverride": null, "Tags": null,
            "Meta": null, "Weights": null, "Check": null, "Checks": null,
        }));
        assert_eq!(s, ServiceRegistration::default());
        let c: CheckRegistration = go(serde_json::json!({"TTL": null, "Interval": null,
            "Header": null, "Args": null, "OutputMaxSize": null, "TLSSkipVerify": null}));
        assert_eq!(c, CheckRegistration::default());
    }

    #[test]
    fn null_elements_and_map_values_are_zero_values() {
        let s: ServiceRegistration = go(serde_json::json!({
            "Name": "web",
            "Tags": [null, "a"],
            "Meta": {"k": null},
            "Weights": {"Passing": null, "Warning": null},
            "Check": {"Header": {"X": [null], "Y": null}, "Args": [null]},
        }));
        assert_eq!(s.tags, Some(vec![String::new(), "a".to_string()]));
        assert_eq!(s.meta.unwrap()["k"], "");
        let w = s.weights.unwrap();
        assert_eq!((w.passing, w.warning), (0, 0));
        let check = s.check.unwrap();
        let header = check.header.unwrap();
        assert_eq!(header["X"], vec![String::new()]);
        assert!(header["Y"].is_empty());
        assert_eq!(check.args, Some(vec![String::new()]));
    }

    #[test]
    fn keys_fold_case_and_unknown_fields_are_ignored() {
        let s: ServiceRegistration = decode_body(
            br#"{"NAME":"web","port":80,"Unknown":{"x":[1,null]},"check":{"ttl":"10s","Bogus":1}}"#,
        )
        .unwrap();
        assert_eq!(s.name, "web");
        assert_eq!(s.port, 80);
        assert_eq!(s.check.unwrap().ttl.0, 10_000_000_000);
    }

    #[test]
    fn only_the_first_value_is_read() {
        let u: CheckUpdate = decode_body(br#"{"Status":"passing"} trailing"#).unwrap();
        assert_eq!(u.status, "passing");
        let r: Result<CheckUpdate, _> = decode_body(br#"{"Status":"pass"#);
        assert_eq!(r.unwrap_err().to_string(), "unexpected EOF");
    }

    #[test]
    fn wrong_types_are_go_unmarshal_type_errors() {
        let err = |body: &str, names| {
            decode_body_as::<CatalogRegistration>(body.as_bytes(), names)
                .unwrap_err()
                .to_string()
        };
        let reg = GoNames::new("RegisterRequest", "structs.RegisterRequest")
            .with_nested(&[("Service", "structs.NodeService")]);
        assert_eq!(
            err(r#"{"Node":5}"#, reg),
            "json: cannot unmarshal number into Go struct field RegisterRequest.Node of type string"
        );
        assert_eq!(
            err(r#"{"Node":"n","Service":{"Port":"80"}}"#, reg),
            "json: cannot unmarshal string into Go struct field NodeService.Service.Port of type int"
        );
        assert_eq!(
            err(r#"{"Node":"n","Service":{"Port":-1}}"#, reg),
            "json: cannot unmarshal number -1 into Go struct field NodeService.Service.Port of type int"
        );
        assert_eq!(
            err(r#"{"NodeMeta":{"a":1}}"#, reg),
            "json: cannot unmarshal number into Go struct field RegisterRequest.NodeMeta of type map[string]string"
        );
        assert_eq!(
            err(r#"{"Service":"web"}"#, reg),
            "json: cannot unmarshal string into Go struct field RegisterRequest.Service of type structs.NodeService"
        );
        assert_eq!(
            err("[]", reg),
            "json: cannot unmarshal array into Go value of type structs.RegisterRequest"
        );
        let s = decode_body::<ServiceRegistration>(br#"{"Name":"x","Port":"eighty"}"#);
        assert_eq!(
            s.unwrap_err().to_string(),
            "json: cannot unmarshal string into Go struct field .Port of type int"
        );
        let s = decode_body::<ServiceRegistration>(br#"{"Name":"x","Tags":"a"}"#);
        assert_eq!(
            s.unwrap_err().to_string(),
            "json: cannot unmarshal string into Go struct field .Tags of type []string"
        );
        let s = decode_body::<ServiceRegistration>(br#"{"Name":true}"#);
        assert_eq!(
            s.unwrap_err().to_string(),
            "json: cannot unmarshal bool into Go struct field .Name of type string"
        );
    }

    #[test]
    fn null_is_empty_tells_a_present_null_from_an_absent_field() {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(rename = "Checks", default, deserialize_with = "null_is_empty")]
            checks: Option<Vec<String>>,
        }
        let b: Body = decode_body(b"{}").unwrap();
        assert_eq!(b.checks, None);
        let b: Body = decode_body(br#"{"checks":null}"#).unwrap();
        assert_eq!(b.checks, Some(vec![]));
        let b: Body = decode_body(br#"{"Checks":["a",null]}"#).unwrap();
        assert_eq!(b.checks, Some(vec!["a".to_string(), String::new()]));
    }

    #[test]
    fn responses_read_null_as_empty_and_keys_by_the_target_type() {
        use crate::{AgentService, Member, ServiceEntry};
        let services: std::collections::BTreeMap<String, AgentService> = decode_response(
            br#"{"web":{"ID":"web","Service":"web","Tags":null,"Meta":null,"port":80,"New":1}}"#,
        )
        .unwrap();
        let web = &services["web"];
        assert!(web.tags.is_empty() && web.meta.is_empty());
        assert_eq!(web.port, 80);
        let entries: Vec<ServiceEntry> = decode_response(
            br#"[{"Node":{"Node":"n1","Meta":null},"Service":{"ID":"w","Service":"w","Tags":null,"Meta":null},"Checks":null}]"#,
        )
        .unwrap();
        assert_eq!(entries[0].node.node, "n1");
        assert!(entries[0].service.tags.is_empty() && entries[0].checks.is_empty());
        // Free-form maps keep their keys (the request pre-pass would turn "id" into "ID").
        let m: Member = decode_response(br#"{"Name":"n1","Tags":{"id":"x","port":"1"}}"#).unwrap();
        assert_eq!(m.tags.get("id").map(String::as_str), Some("x"));
        let v: Value = decode_response(br#"{"Config":{"id":1}}"#).unwrap();
        assert_eq!(v["Config"]["id"], 1);
        assert!(decode_response::<AgentService>(br#"{"Port":"80"}"#).is_err());
    }

    #[test]
    fn empty_body_is_eof() {
        let r: Result<Value, _> = decode_body(b"  ");
        assert_eq!(r.unwrap_err().to_string(), "EOF");
    }
}
