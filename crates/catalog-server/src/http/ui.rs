//! The web UI's routes: `/` (redirect to the UI, or Consul's "UI disabled" text), the page
//! shell for every `/ui/...` path, the embedded assets (ETag + Cache-Control, gzip), and the
//! internal endpoints the UI reads (`/v1/internal/ui/services|nodes|node/:node`, blocking) plus
//! `/v1/internal/acl/authorize`, which answers 401 `ACL support disabled` as Consul does
//! without ACLs.

use super::acl::{authz, respond_list, Token};
use super::params::Params;
use super::reply::ApiError;
use super::{meta, only, read, respond, AppState};
use crate::agent::Agent;
use crate::ui::{self, ShellData};
use ::acl::{Access, Resource};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::CompressionLayer;

type Res = Result<Response, ApiError>;

/// The UI pages (under `content_path`, normally `/ui/`), assets and internal endpoints,
/// gzip-compressed when the client accepts it.
pub fn routes(content_path: &str) -> Router<AppState> {
    let base = mount(content_path);
    let base = base.trim_end_matches('/');
    Router::new()
        .route(base, get(ui_root))
        .route(&format!("{base}/"), get(ui_root))
        .route(&format!("{base}/assets/{{file}}"), get(asset))
        .route(&format!("{base}/{{*path}}"), get(page))
        .route("/robots.txt", get(robots))
        .route("/v1/internal/ui/services", only("GET", get(services)))
        .route("/v1/internal/ui/nodes", only("GET", get(nodes)))
        .route("/v1/internal/ui/node/{*node}", only("GET", get(node)))
        .route("/v1/internal/ui/node/", only("GET", get(missing_node)))
        .route("/v1/internal/acl/authorize", only("POST", post(authorize)))
        .layer(CompressionLayer::new())
}

/// `GET /`: 301 to the UI when it is enabled, otherwise Consul's plain-text notice.
pub async fn root(State(a): State<AppState>) -> Response {
    if !a.config().ui {
        return super::status::root(State(a)).await;
    }
    redirect(StatusCode::MOVED_PERMANENTLY, &content_path(&a))
}

/// The UI's mount point with slashes (`/ui/`); `/` itself is taken by the redirect.
fn mount(content_path: &str) -> String {
    match content_path.trim_matches('/') {
        "" => "/ui/".to_string(),
        p => format!("/{p}/"),
    }
}

fn content_path(a: &Agent) -> String {
    mount(&a.config().ui_content_path)
}

fn redirect(status: StatusCode, to: &str) -> Response {
    let loc = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/ui/"));
    (status, [(header::LOCATION, loc)]).into_response()
}

/// `/ui` and `/ui/`: the services page of the local datacenter.
async fn ui_root(State(a): State<AppState>, uri: Uri) -> Response {
    if !a.config().ui {
        return super::unknown_path(uri).await.into_response();
    }
    let to = format!(
        "{}{}/services",
        content_path(&a),
        form_urlencoded::byte_serialize(a.config().datacenter.as_bytes()).collect::<String>()
    );
    redirect(StatusCode::FOUND, &to)
}

/// Answers 304 when the client's `If-None-Match` already names `etag`.
fn cached(
    headers: &HeaderMap,
    etag: &str,
    cache_control: &'static str,
    ctype: &'static str,
    body: Vec<u8>,
) -> Response {
    let hit = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let h = [
        (header::ETAG, etag),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        ),
        (header::CONTENT_TYPE, HeaderValue::from_static(ctype)),
    ];
    if hit {
        (StatusCode::NOT_MODIFIED, h).into_response()
    } else {
        (StatusCode::OK, h, body).into_response()
    }
}

/// Any page under `/ui/`: the shell; the script draws the page the URL names.
async fn page(State(a): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    if !a.config().ui {
        return super::unknown_path(uri).await.into_response();
    }
    let html = ui::render_shell(&ShellData {
        content_path: &content_path(&a),
        datacenter: &a.config().datacenter,
        node_name: &a.config().node_name,
        acls_enabled: false,
    });
    let etag = ui::etag(html.as_bytes());
    cached(
        &headers,
        &etag,
        "no-cache",
        "text/html; charset=utf-8",
        html.into_bytes(),
    )
}

/// `/ui/assets/<file>`: versioned by `?v=<etag>` in the shell, so cacheable for a day.
async fn asset(
    State(a): State<AppState>,
    Path(file): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match ui::asset(&file) {
        Some(f) if a.config().ui => cached(
            &headers,
            &f.etag,
            "public, max-age=86400",
            f.content_type,
            f.body.as_bytes().to_vec(),
        ),
        Some(_) => super::unknown_path(uri).await.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn robots(State(a): State<AppState>, uri: Uri) -> Response {
    if !a.config().ui {
        return super::unknown_path(uri).await.into_response();
    }
    "User-agent: *\nDisallow: /\n".into_response()
}

async fn services(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let dc = a.config().datacenter.clone();
    let ans = read(&a, &p, |s| s.q_ui_services(&dc)).await?;
    Ok(respond_list(&a, &p, &t, ans.index, ans.value, |z, s| {
        z.allows(Resource::Service, &s.name, Access::Read)
    }))
}

/// The local node's `Meta["consul-version"]`, filled from our build as Consul fills it from
/// the member's `build` tag.
fn version_meta(a: &Agent, node: &str, meta: &mut api_types::StrMap) {
    if node.eq_ignore_ascii_case(&a.config().node_name) {
        meta.entry("consul-version".to_string())
            .or_insert_with(|| crate::version::VERSION.to_string());
    }
}

async fn nodes(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let mut ans = read(&a, &p, |s| s.q_ui_nodes()).await?;
    for n in &mut ans.value {
        version_meta(&a, &n.node, &mut n.meta);
    }
    Ok(respond_list(&a, &p, &t, ans.index, ans.value, |z, n| {
        z.allows(Resource::Node, &n.node, Access::Read)
    }))
}

async fn node(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Node, &name, Access::Read)?;
    let ans = read(&a, &p, |s| s.q_ui_node(&name)).await?;
    match ans.value {
        Some(mut n) => {
            version_meta(&a, &n.node, &mut n.meta);
            Ok(respond(&a, &p, ans.index, &n))
        }
        None => Ok((StatusCode::NOT_FOUND, meta(&a, &p, ans.index)).into_response()),
    }
}

async fn missing_node() -> ApiError {
    ApiError::bad_request("Missing node name")
}

const RESOURCES: [Resource; 13] = [
    Resource::Acl,
    Resource::Agent,
    Resource::Event,
    Resource::Intention,
    Resource::Key,
    Resource::Keyring,
    Resource::Mesh,
    Resource::Node,
    Resource::Operator,
    Resource::Peering,
    Resource::Query,
    Resource::Service,
    Resource::Session,
];

/// One permission the UI asks about (`/v1/internal/acl/authorize`).
#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(default)]
struct AuthorizationCheck {
    #[serde(rename = "Resource")]
    resource: String,
    #[serde(rename = "Segment")]
    segment: String,
    #[serde(rename = "Access")]
    access: String,
    #[serde(rename = "Allow")]
    allow: bool,
}

async fn authorize(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: axum::body::Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_enterprise()?;
    if !a.acl_enabled() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ACL support disabled",
        ));
    }
    let z = authz(&a, &t)?;
    let mut checks: Vec<AuthorizationCheck> =
        api_types::decode::decode_body(&body).map_err(ApiError::decode)?;
    for c in &mut checks {
        let resource = RESOURCES
            .into_iter()
            .find(|r| r.as_str() == c.resource)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid resource: {:?}", c.resource)))?;
        let access = [Access::Read, Access::List, Access::Write]
            .into_iter()
            .find(|x| x.as_str() == c.access)
            .ok_or_else(|| {
                ApiError::bad_request(format!("Invalid access level: {:?}", c.access))
            })?;
        c.allow = z.allows(resource, &c.segment, access);
    }
    Ok(super::reply::json(&checks, p.pretty()))
}
