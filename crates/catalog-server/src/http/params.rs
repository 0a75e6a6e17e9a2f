//! Query parameters as Consul reads them: presence flags (`?recurse`), repeated keys (`tag`),
//! and the blocking/consistency options common to reads.

use crate::agent::Consistency;
use crate::blocking::shared::Question;
use crate::blocking::Blocking;
use crate::http::reply::ApiError;
use std::time::Duration;

/// The parsed query string of one request.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(raw: Option<&str>) -> Params {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Params { pairs }
    }

    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A Go-`strconv.ParseBool`-style flag where presence with an empty value means true;
    /// `None` when the value is not a boolean.
    pub fn flag(&self, key: &str) -> Option<bool> {
        match self.get(key) {
            None => Some(false),
            Some("") => Some(true),
            Some(v) => api_types::parse_bool(v),
        }
    }

    /// What this request asks of `endpoint` with `args`, for sharing its answer.
    pub fn question(&self, endpoint: &'static str, args: &[&str]) -> Question {
        Question::new(
            endpoint,
            args,
            self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    pub fn pretty(&self) -> bool {
        self.has("pretty")
    }

    /// `node-meta=key:value` filters.
    pub fn node_meta(&self) -> Vec<(String, String)> {
        self.all("node-meta")
            .into_iter()
            .map(|m| match m.split_once(':') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (m, String::new()),
            })
            .collect()
    }

    /// `?index` and `?wait` resolved against the agent's query times.
    pub fn blocking(&self, default: Duration, max: Duration) -> Result<Option<Blocking>, ApiError> {
        let index = match self.get("index") {
            None => return Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request("Invalid index"))?,
        };
        let wait = match self.get("wait") {
            None => None,
            Some(w) => Some(
                api_types::parse_duration(w)
                    .map_err(|_| ApiError::bad_request("Invalid wait time"))?,
            ),
        };
        Ok(Some(Blocking::new(index, wait, default, max)))
    }

    /// Validates the consistency mode; returns true for `?consistent`.
    /// The read's consistency mode, refusing contradictory or malformed options as Consul does.
    pub fn consistency(&self) -> Result<Consistency, ApiError> {
        let stale = self.has("stale") || self.has("max_stale");
        let consistent = self.has("consistent");
        if stale && consistent {
            return Err(ApiError::bad_request(
                "Cannot specify ?stale with ?consistent, conflicting semantics.",
            ));
        }
        if self.has("cached") && consistent {
            return Err(ApiError::bad_request(
                "Cannot specify ?cached with ?consistent, conflicting semantics.",
            ));
        }
        if let Some(ms) = self.get("max_stale") {
            if api_types::parse_duration(ms).is_err() {
                return Err(ApiError::bad_request(format!(
                    "Invalid max_stale value {ms:?}"
                )));
            }
        }
        Ok(self.consistency_mode())
    }

    /// The consistency word of `X-Consul-Effective-Consistency`.
    /// The mode the options ask for (unvalidated: for the headers of any answer).
    pub fn consistency_mode(&self) -> Consistency {
        if self.has("stale") || self.has("max_stale") {
            Consistency::Stale
        } else if self.has("consistent") {
            Consistency::Consistent
        } else {
            Consistency::Default
        }
    }

    /// Rejects Enterprise-only namespaces, as Consul CE does.
    pub fn check_enterprise(&self) -> Result<(), ApiError> {
        if self
            .get("ns")
            .is_some_and(|v| !v.is_empty() && v != "default")
        {
            return Err(ApiError::bad_request(
                "Invalid query parameter: \"ns\" - Namespaces are a Consul Enterprise feature",
            ));
        }
        Ok(())
    }

    /// `?dc=` must name our datacenter.
    pub fn check_dc(&self, ours: &str) -> Result<(), ApiError> {
        match self.get("dc") {
            Some(dc) if !dc.is_empty() && !dc.eq_ignore_ascii_case(ours) => {
                Err(ApiError::internal("No path to datacenter"))
            }
            _ => Ok(()),
        }
    }
}
