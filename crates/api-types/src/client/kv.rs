//! `/v1/kv/*` and `/v1/session/*`: the key/value store and the sessions that lock its keys.

use super::{decode, params, status_error, Body, Client, ClientError, QueryOptions};
use crate::headers::QueryMeta;
use crate::{KvPair, SessionEntry, SessionId};
use reqwest::{Method, StatusCode};

/// The query flags of a `PUT /v1/kv/:key`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvPutOptions {
    /// `?flags=` (opaque u64 stored with the key).
    pub flags: Option<u64>,
    /// `?cas=`: write only if `ModifyIndex` equals this (0 = create only).
    pub cas: Option<u64>,
    /// `?acquire=<session>`.
    pub acquire: Option<String>,
    /// `?release=<session>`.
    pub release: Option<String>,
}

impl Client {
    /// `GET /v1/kv/:key`; `None` on 404 (the meta still carries the index).
    pub async fn kv_get(
        &self,
        key: &str,
        q: &QueryOptions,
    ) -> Result<(Option<KvPair>, QueryMeta), ClientError> {
        let a = self
            .send(Method::GET, &format!("/v1/kv/{key}"), params(q, &[]), None)
            .await?;
        match a.status {
            StatusCode::NOT_FOUND => Ok((None, a.meta)),
            StatusCode::OK => {
                let pairs: Vec<KvPair> = decode(&a.body)?;
                Ok((pairs.into_iter().next(), a.meta))
            }
            _ => Err(status_error(&a)),
        }
    }

    /// `GET /v1/kv/:prefix?recurse`; empty on 404.
    pub async fn kv_list(
        &self,
        prefix: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<KvPair>, QueryMeta), ClientError> {
        let a = self
            .send(
                Method::GET,
                &format!("/v1/kv/{prefix}"),
                params(q, &[("recurse", "")]),
                None,
            )
            .await?;
        match a.status {
            StatusCode::NOT_FOUND => Ok((Vec::new(), a.meta)),
            StatusCode::OK => Ok((
                decode::<Option<Vec<KvPair>>>(&a.body)?.unwrap_or_default(),
                a.meta,
            )),
            _ => Err(status_error(&a)),
        }
    }

    /// `GET /v1/kv/:prefix?keys[&separator=]`; empty on 404.
    pub async fn kv_keys(
        &self,
        prefix: &str,
        separator: Option<&str>,
        q: &QueryOptions,
    ) -> Result<(Vec<String>, QueryMeta), ClientError> {
        let mut extra = vec![("keys", "")];
        if let Some(s) = separator.filter(|s| !s.is_empty()) {
            extra.push(("separator", s));
        }
        let a = self
            .send(
                Method::GET,
                &format!("/v1/kv/{prefix}"),
                params(q, &extra),
                None,
            )
            .await?;
        match a.status {
            StatusCode::NOT_FOUND => Ok((Vec::new(), a.meta)),
            StatusCode::OK => Ok((
                decode::<Option<Vec<String>>>(&a.body)?.unwrap_or_default(),
                a.meta,
            )),
            _ => Err(status_error(&a)),
        }
    }

    /// `PUT /v1/kv/:key` with the raw value; the answer (`false` when cas/acquire/release lost).
    pub async fn kv_put(
        &self,
        key: &str,
        value: &[u8],
        opts: &KvPutOptions,
    ) -> Result<bool, ClientError> {
        let mut p = Vec::new();
        if let Some(f) = opts.flags {
            p.push(("flags".to_string(), f.to_string()));
        }
        if let Some(c) = opts.cas {
            p.push(("cas".to_string(), c.to_string()));
        }
        if let Some(s) = &opts.acquire {
            p.push(("acquire".to_string(), s.clone()));
        }
        if let Some(s) = &opts.release {
            p.push(("release".to_string(), s.clone()));
        }
        let a = self
            .send_ok(
                Method::PUT,
                &format!("/v1/kv/{key}"),
                p,
                Some(Body::raw(value.to_vec())),
            )
            .await?;
        decode(&a.body)
    }

    /// `DELETE /v1/kv/:key` (`?recurse`, `?cas=`); the answer.
    pub async fn kv_delete(
        &self,
        key: &str,
        recurse: bool,
        cas: Option<u64>,
    ) -> Result<bool, ClientError> {
        let mut p = Vec::new();
        if recurse {
            p.push(("recurse".to_string(), String::new()));
        }
        if let Some(c) = cas {
            p.push(("cas".to_string(), c.to_string()));
        }
        let a = self
            .send_ok(Method::DELETE, &format!("/v1/kv/{key}"), p, None)
            .await?;
        if a.body.is_empty() {
            return Ok(true);
        }
        decode(&a.body)
    }

    /// `PUT /v1/session/create` with a Consul session body (`Name`, `TTL`, `Behavior`,
    /// `LockDelay`, `NodeChecks`…); the new session ID.
    pub async fn session_create(&self, body: &serde_json::Value) -> Result<String, ClientError> {
        let a = self
            .send_ok(
                Method::PUT,
                "/v1/session/create",
                Vec::new(),
                Some(super::to_body(body)?),
            )
            .await?;
        Ok(decode::<SessionId>(&a.body)?.id)
    }

    /// `PUT /v1/session/destroy/:id`.
    pub async fn session_destroy(&self, id: &str) -> Result<bool, ClientError> {
        let a = self
            .send_ok(
                Method::PUT,
                &format!("/v1/session/destroy/{id}"),
                Vec::new(),
                None,
            )
            .await?;
        if a.body.is_empty() {
            return Ok(true);
        }
        decode(&a.body)
    }

    /// `PUT /v1/session/renew/:id`; `None` when the session no longer exists (404).
    pub async fn session_renew(&self, id: &str) -> Result<Option<SessionEntry>, ClientError> {
        let a = self
            .send(
                Method::PUT,
                &format!("/v1/session/renew/{id}"),
                Vec::new(),
                None,
            )
            .await?;
        match a.status {
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::OK => Ok(decode::<Option<Vec<SessionEntry>>>(&a.body)?
                .unwrap_or_default()
                .into_iter()
                .next()),
            _ => Err(status_error(&a)),
        }
    }

    /// `GET /v1/session/info/:id`; `None` when unknown.
    pub async fn session_info(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Option<SessionEntry>, QueryMeta), ClientError> {
        let (v, meta): (Option<Vec<SessionEntry>>, _) = self
            .get_json(&format!("/v1/session/info/{id}"), q, &[])
            .await?;
        Ok((v.unwrap_or_default().into_iter().next(), meta))
    }

    /// `GET /v1/session/list`.
    pub async fn session_list(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<SessionEntry>, QueryMeta), ClientError> {
        let (v, meta): (Option<Vec<SessionEntry>>, _) =
            self.get_json("/v1/session/list", q, &[]).await?;
        Ok((v.unwrap_or_default(), meta))
    }

    /// `GET /v1/session/node/:node`.
    pub async fn session_node(
        &self,
        node: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<SessionEntry>, QueryMeta), ClientError> {
        let (v, meta): (Option<Vec<SessionEntry>>, _) = self
            .get_json(&format!("/v1/session/node/{node}"), q, &[])
            .await?;
        Ok((v.unwrap_or_default(), meta))
    }
}
