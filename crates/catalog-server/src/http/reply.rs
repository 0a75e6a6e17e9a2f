//! Responses: Go-style JSON bodies, the query-meta headers of reads, and the one place where a
//! domain error becomes an HTTP status and a plain-text body.

use crate::catalog::acl::AclRefusal;
use crate::catalog::CatalogError;
use crate::raft::WriteError;
use api_types::headers;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer: a status and Consul's plain-text reason.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, m)
    }
    pub fn decode(e: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("Request decode failed: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response()
    }
}

impl From<AclRefusal> for ApiError {
    fn from(e: AclRefusal) -> Self {
        let status = match e {
            AclRefusal::NotFound | AclRefusal::Denied(_) => StatusCode::FORBIDDEN,
            AclRefusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            AclRefusal::Invalid(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        if let CatalogError::AclBootstrapDone(_) = e {
            return ApiError::new(StatusCode::FORBIDDEN, format!("Permission denied: {e}"));
        }
        let status = match e {
            CatalogError::UnknownService(_)
            | CatalogError::UnknownCheck(_)
            | CatalogError::CheckServiceMissing(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Catalog(c) => c.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// A JSON body encoded like Go's `encoding/json`.
pub fn json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Response {
    let body = api_types::json::to_go_json(value, pretty);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The headers every blocking-capable read carries.
pub fn meta_headers(
    index: u64,
    known_leader: bool,
    last_contact_ms: u64,
    consistency: &'static str,
    default_acl_policy: &'static str,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    let idx = index.max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&idx) {
        h.insert(headers::INDEX, v);
    }
    h.insert(
        headers::KNOWN_LEADER,
        HeaderValue::from_static(if known_leader { "true" } else { "false" }),
    );
    h.insert(headers::LAST_CONTACT, HeaderValue::from(last_contact_ms));
    h.insert(
        headers::EFFECTIVE_CONSISTENCY,
        HeaderValue::from_static(consistency),
    );
    h.insert(
        headers::DEFAULT_ACL_POLICY,
        HeaderValue::from_static(default_acl_policy),
    );
    h
}

/// `X-Consul-Results-Filtered-By-ACLs: true`, when ACLs removed part of a list.
pub fn mark_filtered(r: &mut Response, filtered: bool) {
    if filtered {
        r.headers_mut().insert(
            "X-Consul-Results-Filtered-By-ACLs",
            HeaderValue::from_static("true"),
        );
    }
}

/// An empty 200, the answer of agent writes.
pub fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}
