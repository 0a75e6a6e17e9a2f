//! JSON encoded as Go's `encoding/json` encodes it: `<`, `>`, `&`, U+2028 and U+2029 escaped,
//! compact by default, or indented by four spaces with a trailing newline for `?pretty`.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::io;

struct GoEscape<F>(F);

impl<F: Formatter> Formatter for GoEscape<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        frag: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in frag.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&frag.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&frag.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Encodes `value` like Go: compact, or pretty (4-space indent plus trailing newline).
pub fn to_go_json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Vec<u8> {
    if pretty {
        let mut out = to_go_json_indent(value, b"    ");
        out.push(b'\n');
        return out;
    }
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoEscape(CompactFormatter));
    if value.serialize(&mut ser).is_err() {
        // Our types always serialise; a failure here means a map with non-string keys.
        return b"null".to_vec();
    }
    out
}

/// Encodes `value` as Go's `json.MarshalIndent(value, "", indent)` does (no trailing newline).
pub fn to_go_json_indent<T: Serialize + ?Sized>(value: &T, indent: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        GoEscape(PrettyFormatter::with_indent(indent)),
    );
    if value.serialize(&mut ser).is_err() {
        return b"null".to_vec();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_like_go() {
        let s = String::from_utf8(to_go_json(&"<a&b>", false)).unwrap();
        assert_eq!(s, r#""\u003ca\u0026b\u003e""#);
        let p = String::from_utf8(to_go_json(&serde_json::json!({"A":[1]}), true)).unwrap();
        assert_eq!(p, "{\n    \"A\": [\n        1\n    ]\n}\n");
    }
}
