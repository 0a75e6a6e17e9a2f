//! The KV requests of the campaign and how their answers are classed: acknowledged, refused
//! (certainly not applied), or unknown (the answer was lost, or an error that does not say).

use base64::Engine;
use std::collections::BTreeMap;
use std::time::Duration;

/// The answer to one write.
#[derive(Debug, Clone)]
pub enum Write {
    /// 200 and `true`.
    Acked,
    /// 200 and `false` (a CAS that lost) or a 4xx: not applied.
    Refused(u16, String),
    /// A 5xx or no answer: may or may not have been applied.
    Unknown(String),
}

/// `PUT /v1/kv/<key>[?query]` with `value`.
pub async fn put(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    query: &str,
    value: Vec<u8>,
) -> Write {
    let url = format!("{base}/v1/kv/{key}{query}");
    match http.put(url).body(value).send().await {
        Ok(r) => {
            let st = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            match st {
                200 if body.trim() == "true" => Write::Acked,
                200 | 400..=499 => Write::Refused(st, body),
                _ => Write::Unknown(format!("{st} {}", body.trim())),
            }
        }
        Err(e) => Write::Unknown(e.to_string()),
    }
}

/// One key's value and ModifyIndex; `None` when absent (404).
pub async fn get(
    http: &reqwest::Client,
    base: &str,
    key: &str,
) -> anyhow::Result<Option<(Vec<u8>, u64)>> {
    let r = http
        .get(format!("{base}/v1/kv/{key}"))
        .timeout(Duration::from_secs(10))
        .send()
        .await?;
    match r.status().as_u16() {
        404 => Ok(None),
        200 => {
            let v: serde_json::Value = r.json().await?;
            let e = &v[0];
            Ok(Some((
                decode(&e["Value"])?,
                e["ModifyIndex"].as_u64().unwrap_or(0),
            )))
        }
        st => anyhow::bail!("GET {key}: {st} {}", r.text().await.unwrap_or_default()),
    }
}

/// Every key under `prefix` with its value (`?recurse`).
pub async fn all(
    http: &reqwest::Client,
    base: &str,
    prefix: &str,
) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let r = http
        .get(format!("{base}/v1/kv/{prefix}?recurse"))
        .timeout(Duration::from_secs(60))
        .send()
        .await?;
    let mut out = BTreeMap::new();
    match r.status().as_u16() {
        404 => Ok(out),
        200 => {
            let v: serde_json::Value = r.json().await?;
            for e in v.as_array().into_iter().flatten() {
                let key = e["Key"].as_str().unwrap_or_default().to_string();
                out.insert(key, decode(&e["Value"])?);
            }
            Ok(out)
        }
        st => anyhow::bail!(
            "GET {prefix}?recurse: {st} {}",
            r.text().await.unwrap_or_default()
        ),
    }
}

fn decode(v: &serde_json::Value) -> anyhow::Result<Vec<u8>> {
    match v.as_str() {
        None => Ok(Vec::new()),
        Some(s) => Ok(base64::engine::general_purpose::STANDARD.decode(s)?),
    }
}
