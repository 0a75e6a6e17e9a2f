//! Go's `net/http` rules for request paths on the client API, applied before routing:
//! - an invalid percent-escape (`%zz`, `%4`) is refused like `url.ParseRequestURI` makes Go's
//!   server refuse it: `400 Bad Request`, plain text, connection closed;
//! - a path that is not clean (`//`, `.` or `..` segments) gets `301 Moved Permanently` to the
//!   cleaned path with the query kept, like `http.ServeMux` (trailing slash preserved);
//! - decoded bytes need not be UTF-8 (`%ff%fe`): KV keys are byte strings in Go. Paths are
//!   `String`s here, so each byte of an invalid sequence is carried as one private-use
//!   character (U+10FF80..U+10FFFF, see [`byte_char`]) and shown as U+FFFD on output, which
//!   is what Go's JSON encoder prints for it.
//!
//! It also refuses a declared `Content-Length` over the route's body limit before reading the
//! body (`413`), so a client cannot park a handler on a body that will be refused anyway.

use axum::body::Body;
use axum::http::{header, Method, Request, Response, StatusCode, Uri};
use std::borrow::Cow;

/// Go's reply to a request it cannot parse.
pub fn go_bad_request() -> Response<Body> {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CONNECTION, "close")
        .body(Body::from("400 Bad Request"))
        .unwrap_or_default()
}

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes like Go's `PathUnescape`: `None` for an invalid escape; the bytes need
/// not be UTF-8.
pub fn unescape(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).copied().and_then(unhex)?;
            let lo = b.get(i + 2).copied().and_then(unhex)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Go's `path.Clean` on an absolute path.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(p.len());
    for s in &parts {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Go's `http.ServeMux` `cleanPath`: `path.Clean`, keeping a trailing slash.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return "/".to_string();
    }
    let p = if p.starts_with('/') {
        Cow::Borrowed(p)
    } else {
        Cow::Owned(format!("/{p}"))
    };
    let mut np = clean(&p);
    if p.ends_with('/') && np != "/" {
        np.push('/');
    }
    np
}

/// The character that stands for byte `b` (0x80..=0xFF) of an invalid UTF-8 sequence.
pub fn byte_char(b: u8) -> char {
    char::from_u32(0x10FF00 + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER)
}

fn is_byte_char(c: char) -> bool {
    (0x10FF80..=0x10FFFF).contains(&u32::from(c))
}

/// Decoded path bytes as a `String`: UTF-8 as is, each byte of an invalid sequence as its
/// [`byte_char`].
pub fn bytes_to_string(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, rest) = b.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let bad = e.error_len().unwrap_or(rest.len());
                out.extend(rest[..bad].iter().map(|&x| byte_char(x)));
                b = &rest[bad..];
            }
        }
    }
}

/// A key as Go prints it: each invalid byte as U+FFFD.
pub fn display(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_byte_char) {
        Cow::Owned(
            s.chars()
                .map(|c| {
                    if is_byte_char(c) {
                        char::REPLACEMENT_CHARACTER
                    } else {
                        c
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// Percent-encodes a decoded path for the router: `/` and unreserved characters as they are,
/// everything else escaped (so the router decodes it back to the same string).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// `301 Moved Permanently` to `location`, with Go's `http.Redirect` body for GET and HEAD.
fn moved(method: &Method, location: &str) -> Response<Body> {
    let mut b = Response::builder()
        .status(StatusCode::MOVED_PERMANENTLY)
        .header(header::LOCATION, location);
    let body = if method == Method::GET || method == Method::HEAD {
        b = b.header(header::CONTENT_TYPE, "text/html; charset=utf-8");
        Body::from(format!(
            "<a href=\"{}\">Moved Permanently</a>.\n\n",
            html_escape(location)
        ))
    } else {
        Body::empty()
    };
    b.body(body).unwrap_or_default()
}

/// The declared body length, if any.
pub fn content_length<B>(req: &Request<B>) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `413` for a declared body over `max`, before it is read; the connection is closed.
pub fn too_large(message: String) -> Response<Body> {
    Response::builder()
        .status(StatusCode::PAYLOAD_TOO_LARGE)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CONNECTION, "close")
        .body(Body::from(message))
        .unwrap_or_default()
}

/// Applies the path rules: `Some` is the answer to send instead of routing the request.
pub fn check<B>(req: &mut Request<B>) -> Option<Response<Body>> {
    // CONNECT targets are not paths; `OPTIONS *` is the server-wide form.
    if req.method() == Method::CONNECT || req.uri().path() == "*" {
        return None;
    }
    let raw = req.uri().path().to_string();
    let Some(bytes) = unescape(&raw) else {
        return Some(go_bad_request());
    };
    let cleaned = clean_path(&raw);
    if cleaned != raw {
        let location = match req.uri().query() {
            Some(q) if !q.is_empty() => format!("{cleaned}?{q}"),
            _ => cleaned,
        };
        return Some(moved(req.method(), &location));
    }
    if std::str::from_utf8(&bytes).is_err() {
        let path = escape(&bytes_to_string(&bytes));
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = pq.parse().ok();
        match Uri::from_parts(parts) {
            Ok(u) => *req.uri_mut() = u,
            Err(_) => return Some(go_bad_request()),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_clean_path() {
        for (input, want) in [
            ("", "/"),
            ("/", "/"),
            ("/v1/kv/a//b", "/v1/kv/a/b"),
            ("/v1/kv/a/../b", "/v1/kv/b"),
            ("/v1/kv/a/./b/", "/v1/kv/a/b/"),
            ("/v1/kv//", "/v1/kv/"),
            ("/..", "/"),
            ("/../a/", "/a/"),
            ("/v1/kv/a/b/..", "/v1/kv/a"),
            ("/v1/kv/.hidden", "/v1/kv/.hidden"),
            ("/v1/kv/a..b", "/v1/kv/a..b"),
            ("a/b", "/a/b"),
        ] {
            assert_eq!(clean_path(input), want, "{input:?}");
        }
    }

    #[test]
    fn unescape_like_go() {
        assert_eq!(unescape("a%20b").as_deref(), Some(&b"a b"[..]));
        assert_eq!(unescape("%ff%FE").as_deref(), Some(&[0xff, 0xfe][..]));
        assert_eq!(unescape("%zz"), None);
        assert_eq!(unescape("%4"), None);
        assert_eq!(unescape("a%"), None);
        assert_eq!(unescape("%%41"), None);
    }

    #[test]
    fn invalid_bytes_round_trip_distinctly() {
        let a = bytes_to_string(&[b'k', 0xff, 0xfe]);
        let b = bytes_to_string(&[b'k', 0xfe, 0xff]);
        assert_ne!(a, b);
        assert_eq!(display(&a), "k\u{fffd}\u{fffd}");
        assert_eq!(bytes_to_string("é/x".as_bytes()), "é/x");
        assert_eq!(bytes_to_string(&[0xc3]), byte_char(0xc3).to_string());
        // the router decodes the escaped form back to the same string
        let e = escape(&a);
        assert_eq!(
            unescape(&e).map(|v| String::from_utf8(v).expect("utf8")),
            Some(a)
        );
    }

    #[test]
    fn check_redirects_and_refuses() {
        let mut r = Request::builder()
            .uri("/v1/kv/a//b?cas=0&x")
            .body(())
            .expect("req");
        let resp = check(&mut r).expect("redirect");
        assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(resp.headers()[header::LOCATION], "/v1/kv/a/b?cas=0&x");
        let mut r = Request::builder().uri("/v1/kv/a%zz").body(()).expect("req");
        assert_eq!(
            check(&mut r).expect("bad").status(),
            StatusCode::BAD_REQUEST
        );
        let mut r = Request::builder()
            .uri("/v1/kv/%ff%fe?raw")
            .body(())
            .expect("req");
        assert!(check(&mut r).is_none());
        assert!(r.uri().path().starts_with("/v1/kv/%F4%8F%BF%BF"));
        assert_eq!(r.uri().query(), Some("raw"));
        let mut r = Request::builder()
            .method(Method::OPTIONS)
            .uri("*")
            .body(())
            .expect("req");
        assert!(check(&mut r).is_none());
    }
}
