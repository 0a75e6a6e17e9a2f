//! `docker-host-view`: one Docker engine seen as several hosts, for the multi-host example
//! (`examples/multihost/run`) and its test.
//!
//! On a real cluster every host has its own engine, and the registrator of a host sees only that
//! host's containers. Here one engine runs every "host", so each host's registrator talks to a
//! socket of its own, served by this program, which forwards each request to the engine and adds
//! one label filter to the two calls that tell registrator which containers exist: the container
//! list (`GET /containers/json`) and the event stream (`GET /events`). Containers without the
//! host's label are then invisible to that registrator, as containers of another host would be.
//! Every other request passes through unchanged; each connection carries one request
//! (`Connection: close`), so every request is seen.
//!
//! ```sh
//! docker-host-view -listen=/run/h1.sock -label=multihost.host=h1 [-docker=/var/run/docker.sock]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// A request head larger than this is refused (Docker's clients send a few hundred bytes).
const MAX_HEAD: usize = 64 * 1024;

struct Args {
    listen: PathBuf,
    label: String,
    docker: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut label = None;
    let mut docker = PathBuf::from("/var/run/docker.sock");
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let flag = arg.trim_start_matches('-');
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (
                flag.to_string(),
                it.next()
                    .ok_or_else(|| format!("flag needs an argument: {arg}"))?,
            ),
        };
        match name.as_str() {
            "listen" => listen = Some(PathBuf::from(value)),
            "label" => label = Some(value),
            "docker" => docker = PathBuf::from(value),
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or("-listen is required")?,
        label: label.ok_or("-label is required")?,
        docker,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("docker-host-view: {e}");
            std::process::exit(2);
        }
    };
    let _ = std::fs::remove_file(&args.listen);
    let listener = match UnixListener::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("docker-host-view: listen {}: {e}", args.listen.display());
            std::process::exit(1);
        }
    };
    eprintln!(
        "docker-host-view: {} shows {} with label {}",
        args.listen.display(),
        args.docker.display(),
        args.label
    );
    loop {
        let (conn, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("docker-host-view: accept: {e}");
                continue;
            }
        };
        let (label, docker) = (args.label.clone(), args.docker.clone());
        tokio::spawn(async move {
            if let Err(e) = serve(conn, &label, &docker).await {
                eprintln!("docker-host-view: {e}");
            }
        });
    }
}

/// One request: its head read and rewritten, then both directions copied until either side
/// closes.
async fn serve(mut client: UnixStream, label: &str, docker: &Path) -> Result<(), String> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err("request head over 64 KiB".into());
        }
        let mut chunk = [0u8; 4096];
        let n = client
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "request head not UTF-8")?;
    let rewritten = rewrite_head(head, label)?;
    let mut engine = UnixStream::connect(docker)
        .await
        .map_err(|e| format!("connect {}: {e}", docker.display()))?;
    engine
        .write_all(rewritten.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    engine
        .write_all(&buf[head_end..])
        .await
        .map_err(|e| format!("write: {e}"))?;
    // The client closing its side early (registrator stopping its event stream) is normal.
    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The head with the label filter added where it belongs and `Connection: close` in place of
/// whatever the client asked.
fn rewrite_head(head: &str, label: &str) -> Result<String, String> {
    let mut lines = head.split("\r\n");
    let request = lines.next().ok_or("empty request")?;
    let mut parts = request.splitn(3, ' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) => (m, t, v),
        _ => return Err(format!("bad request line: {request:?}")),
    };
    let target = filtered_target(target, label)?;
    let mut out = format!("{method} {target} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    Ok(out)
}

/// `target` with `label` added to its `filters` when it lists containers or streams events.
fn filtered_target(target: &str, label: &str) -> Result<String, String> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let endpoint = strip_version(path);
    if endpoint != "/containers/json" && endpoint != "/events" {
        return Ok(target.to_string());
    }
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let filters = match pairs.iter().position(|(k, _)| k == "filters") {
        Some(i) => pairs.remove(i).1,
        None => "{}".to_string(),
    };
    let mut filters: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&filters).map_err(|e| format!("filters {filters:?}: {e}"))?;
    match filters
        .entry("label".to_string())
        .or_insert_with(|| serde_json::json!([]))
    {
        // The two forms Docker accepts: ["k=v"] and {"k=v": true}.
        serde_json::Value::Array(list) => list.push(serde_json::json!(label)),
        serde_json::Value::Object(map) => {
            map.insert(label.to_string(), serde_json::json!(true));
        }
        other => return Err(format!("filters label {other}: not a list")),
    }
    let filters = serde_json::to_string(&filters).map_err(|e| e.to_string())?;
    pairs.push(("filters".to_string(), filters));
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    Ok(format!("{path}?{query}"))
}

/// `/v1.41/events` → `/events`.
fn strip_version(path: &str) -> &str {
    match path.strip_prefix("/v") {
        Some(rest) => match rest.find('/') {
            Some(i) if rest[..i].chars().all(|c| c.is_ascii_digit() || c == '.') => &rest[i..],
            _ => path,
        },
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters_of(target: &str) -> serde_json::Value {
        let (_, q) = target.split_once('?').unwrap();
        let (_, f) = form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "filters")
            .unwrap();
        serde_json::from_str(&f).unwrap()
    }

    #[test]
    fn events_keep_their_filters_and_gain_the_label() {
        let t = filtered_target(
            "/v1.41/events?since=12&filters=%7B%22type%22%3A%5B%22container%22%5D%7D",
            "h=1",
        )
        .unwrap();
        assert!(t.starts_with("/v1.41/events?since=12&"), "{t}");
        assert_eq!(
            filters_of(&t),
            serde_json::json!({"type": ["container"], "label": ["h=1"]})
        );
    }

    #[test]
    fn container_lists_gain_the_label_in_either_form() {
        let t = filtered_target("/containers/json?all=true", "h=1").unwrap();
        assert_eq!(filters_of(&t), serde_json::json!({"label": ["h=1"]}));
        let t = filtered_target(
            "/v1.40/containers/json?filters=%7B%22label%22%3A%7B%22a%22%3Atrue%7D%7D",
            "h=1",
        )
        .unwrap();
        assert_eq!(
            filters_of(&t),
            serde_json::json!({"label": {"a": true, "h=1": true}})
        );
    }

    #[test]
    fn other_requests_pass_unchanged_and_every_connection_closes() {
        let head = "GET /v1.41/containers/abc/json HTTP/1.1\r\nHost: docker\r\nConnection: keep-alive\r\n\r\n";
        assert_eq!(
            rewrite_head(head, "h=1").unwrap(),
            "GET /v1.41/containers/abc/json HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
        );
        assert!(filtered_target("/containers/json?filters=nope", "h=1").is_err());
    }
}
