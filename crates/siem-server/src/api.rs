//! The HTTP API: routes, authentication and the admin (connector) handlers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use siem_dispatch::{TestEventResult, TestOutcome};

use crate::app::App;
use crate::auth::{self, Principal, Role};
use crate::connectors::{self, ConnectorStatus, FieldError};
use crate::store::{Inserted, StoreError, StoredConnector};

/// An API failure as the client sees it: a status and a JSON body
/// `{"error": "...", "errors": [{"field": "...", "message": "..."}]}`.
#[derive(Debug)]
pub(crate) enum ApiError {
    Unauthorized,
    TooManyFailures(Duration),
    Forbidden(&'static str),
    NotFound,
    Invalid(Vec<FieldError>),
    BadRequest(String),
    Conflict(String),
    Unavailable(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "database failure");
        ApiError::Unavailable("the database failed; try again".to_owned())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message, errors) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "missing or unknown token: send `Authorization: Bearer <token>`".to_owned(),
                vec![],
            ),
            ApiError::TooManyFailures(wait) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"error": "too many failed authentications from this address; wait and retry"})),
                )
                    .into_response();
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(wait.as_secs().max(1)),
                );
                return response;
            }
            ApiError::Forbidden(why) => (StatusCode::FORBIDDEN, why.to_owned(), vec![]),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not found".to_owned(), vec![]),
            ApiError::Invalid(errors) => (
                StatusCode::BAD_REQUEST,
                "the connector is not valid".to_owned(),
                errors,
            ),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m, vec![]),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m, vec![]),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m, vec![]),
        };
        let body = if errors.is_empty() {
            json!({ "error": message })
        } else {
            json!({ "error": message, "errors": errors })
        };
        (status, Json(body)).into_response()
    }
}

/// Every route of the service.
pub(crate) fn router(app: Arc<App>) -> Router {
    let body_limit = app.max_body_bytes;
    Router::new()
        .route("/healthz", get(crate::ops::healthz))
        .route("/readyz", get(crate::ops::readyz))
        .route("/metrics", get(crate::ops::metrics))
        .route("/api/v1/openapi.json", get(crate::ops::openapi))
        .route("/api/v1/orgs", post(create_org))
        .route("/api/v1/orgs/{org}/tokens", post(create_token))
        .route(
            "/api/v1/orgs/{org}/connectors",
            get(list_connectors).post(create_connector),
        )
        .route("/api/v1/orgs/{org}/connectors/test", post(test_unsaved))
        .route(
            "/api/v1/orgs/{org}/connectors/{name}",
            get(get_connector)
                .put(update_connector)
                .delete(delete_connector),
        )
        .route(
            "/api/v1/orgs/{org}/connectors/{name}/test",
            post(test_saved),
        )
        .route("/api/v1/events", post(crate::ingest::ingest))
        .merge(crate::page::routes())
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app)
}

/// Who sent the request, checked against the failure limiter. Failures are logged with
/// the client address and the reason, never the token.
pub(crate) async fn authenticate(
    app: &App,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Principal, ApiError> {
    if let Some(wait) = app.failures.blocked_for(peer.ip()) {
        return Err(ApiError::TooManyFailures(wait));
    }
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(token) = auth::bearer(header) else {
        app.failures.record_failure(peer.ip());
        tracing::warn!(client = %peer.ip(), reason = "no bearer token", "authentication failed");
        return Err(ApiError::Unauthorized);
    };
    let hash = auth::hash_token(token);
    if app.bootstrap_hash.as_deref() == Some(hash.as_str()) {
        return Ok(Principal::SuperAdmin);
    }
    match app.store.find_token(&hash).await? {
        Some((org_id, role)) => Ok(Principal::Org { org_id, role }),
        None => {
            app.failures.record_failure(peer.ip());
            tracing::warn!(client = %peer.ip(), reason = "unknown token", "authentication failed");
            Err(ApiError::Unauthorized)
        }
    }
}

/// The authenticated caller of a request (an extractor: handlers take it as an argument
/// and never see the token).
pub(crate) struct Caller(pub(crate) Principal);

impl axum::extract::FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &Arc<App>,
    ) -> Result<Self, ApiError> {
        // Always there: the service is served with connection info.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        authenticate(app, &parts.headers, peer).await.map(Caller)
    }
}

/// Authenticates and checks that the caller is an admin of `org` (or the super-admin),
/// and that `org` exists. Another organization's admin gets 404, as if it did not exist.
async fn admin_of(app: &App, caller: Caller, org: &str) -> Result<(), ApiError> {
    match caller.0 {
        Principal::SuperAdmin => {}
        Principal::Org { org_id, .. } if org_id != org => return Err(ApiError::NotFound),
        Principal::Org {
            role: Role::Ingest, ..
        } => {
            return Err(ApiError::Forbidden(
                "an ingest token may only post events; the connector API needs an admin token",
            ))
        }
        Principal::Org {
            role: Role::Admin, ..
        } => {}
    }
    if app.store.org_exists(org).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Checks that the caller is an admin of `org` ([`admin_of`]) and returns its connector
/// `name` (404 when there is none).
async fn admin_connector(
    app: &App,
    caller: Caller,
    org: &str,
    name: &str,
) -> Result<StoredConnector, ApiError> {
    admin_of(app, caller, org).await?;
    app.store
        .connector(org, name)
        .await?
        .ok_or(ApiError::NotFound)
}

fn super_admin(caller: Caller) -> Result<(), ApiError> {
    match caller.0 {
        Principal::SuperAdmin => Ok(()),
        Principal::Org { .. } => Err(ApiError::Forbidden(
            "only the bootstrap token (SIEM_BOOTSTRAP_TOKEN) creates organizations and tokens",
        )),
    }
}

/// A JSON body, or a 400 that says what is wrong with it.
fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))
}

/// A JSON body of a fixed shape, or a 400 that shows the shape expected.
fn body_as<T: serde::de::DeserializeOwned>(bytes: &[u8], expected: &str) -> Result<T, ApiError> {
    serde_json::from_value(json_body(bytes)?)
        .map_err(|e| ApiError::BadRequest(format!("expected {expected}: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrg {
    id: String,
}

async fn create_org(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    super_admin(caller)?;
    let NewOrg { id } = body_as(&body, r#"{"id": "org_…"}"#)?;
    check_org_id(&id)?;
    let status = match app.store.create_org(&id).await? {
        Inserted::Created => StatusCode::CREATED,
        Inserted::Exists => StatusCode::OK,
    };
    Ok((status, Json(json!({ "id": id }))).into_response())
}

fn check_org_id(id: &str) -> Result<(), ApiError> {
    siem_core::Ident::new(id).map(drop).map_err(|e| {
        ApiError::Invalid(vec![FieldError {
            field: Some("id".to_owned()),
            message: e.to_string(),
        }])
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    role: Role,
}

/// Creates a token for `org` (and the organization, if new); the token is in this answer
/// only.
async fn create_token(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    super_admin(caller)?;
    check_org_id(&org)?;
    let NewToken { role } = body_as(&body, r#"{"role": "admin"} or {"role": "ingest"}"#)?;
    app.store.create_org(&org).await?;
    let token = auth::new_token();
    app.store
        .insert_token(&auth::hash_token(&token), &org, role)
        .await?;
    tracing::info!(org = %org, role = role.as_str(), "token created");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "org_id": org, "role": role, "token": token })),
    )
        .into_response())
}

/// A connector as answered: its keys (never a secret value), which secret fields are
/// set, and its live status.
fn connector_json(app: &App, c: &StoredConnector, stats: &siem_dispatch::DispatcherStats) -> Value {
    let mut body: Map<String, Value> = c.options.clone();
    body.insert("secret_fields".into(), json!(c.secret_fields));
    body.insert("created_at".into(), json!(c.created_at));
    body.insert("updated_at".into(), json!(c.updated_at));
    let status = match app.not_running(&c.org_id, &c.name) {
        Some(why) => ConnectorStatus::not_running(why),
        None => match stats.sink(&c.org_id, &c.name) {
            Some(s) => ConnectorStatus::from_stats(s),
            None => ConnectorStatus::not_running("starting".to_owned()),
        },
    };
    body.insert("status".into(), json!(status));
    Value::Object(body)
}

async fn list_connectors(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Value>, ApiError> {
    admin_of(&app, caller, &org).await?;
    let stats = app.dispatcher.stats();
    let list: Vec<Value> = app
        .store
        .connectors(&org)
        .await?
        .iter()
        .map(|c| connector_json(&app, c, &stats))
        .collect();
    Ok(Json(json!({ "org_id": org, "connectors": list })))
}

async fn get_connector(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let c = admin_connector(&app, caller, &org, &name).await?;
    Ok(Json(connector_json(&app, &c, &app.dispatcher.stats())))
}

/// Checks a body for `org`; returns the input and the secret fields it will have (given
/// now, or kept from `stored`).
fn checked(
    app: &App,
    org: &str,
    body: Value,
    path_name: Option<&str>,
    stored: Option<&StoredConnector>,
) -> Result<
    (
        connectors::ConnectorInput,
        Vec<String>,
        siem_config::SinkSection,
    ),
    ApiError,
> {
    let input = connectors::read_body(body, path_name).map_err(ApiError::Invalid)?;
    let mut fields: Vec<String> = input.secrets.keys().cloned().collect();
    if fields.is_empty() {
        if let Some(stored) = stored {
            fields = stored.secret_fields.clone();
        }
    }
    let secret_name = app.secrets.name(org, &input.name);
    let section = connectors::check(&input.options, &fields, &secret_name, &app.data_dir)
        .map_err(ApiError::Invalid)?;
    Ok((input, fields, section))
}

async fn create_connector(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    admin_of(&app, caller, &org).await?;
    let (input, fields, _) = checked(&app, &org, json_body(&body)?, None, None)?;
    if app.store.connector(&org, &input.name).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "a connector named \"{}\" exists; change it with PUT",
            input.name
        )));
    }
    let secret_ref = write_secret(&app, &org, &input).await?;
    let now = crate::store::timestamp();
    let stored = StoredConnector {
        org_id: org.clone(),
        name: input.name.clone(),
        platform: input.platform.clone(),
        options: input.options,
        secret_ref,
        secret_fields: fields,
        created_at: now.clone(),
        updated_at: now,
    };
    if app.store.insert_connector(&stored).await? == Inserted::Exists {
        return Err(ApiError::Conflict(format!(
            "a connector named \"{}\" exists; change it with PUT",
            stored.name
        )));
    }
    tracing::info!(org = %org, connector = %stored.name, "connector created");
    app.reapply(&org).await?;
    let body = connector_json(&app, &stored, &app.dispatcher.stats());
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn write_secret(
    app: &App,
    org: &str,
    input: &connectors::ConnectorInput,
) -> Result<Option<String>, ApiError> {
    if input.secrets.is_empty() {
        return Ok(None);
    }
    app.secrets
        .put(org, &input.name, &input.secrets)
        .await
        .map(Some)
        .map_err(|e| {
            tracing::error!(org, connector = %input.name, error = %e, "cannot store the secret");
            ApiError::Unavailable(format!("the secret could not be stored: {e}"))
        })
}

async fn update_connector(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let stored = admin_connector(&app, caller, &org, &name).await?;
    let (input, fields, _) = checked(&app, &org, json_body(&body)?, Some(&name), Some(&stored))?;
    let secret_ref = match write_secret(&app, &org, &input).await? {
        Some(r) => Some(r),
        None => stored.secret_ref.clone(),
    };
    let updated = StoredConnector {
        platform: input.platform.clone(),
        options: input.options,
        secret_ref,
        secret_fields: fields,
        updated_at: crate::store::timestamp(),
        ..stored
    };
    if !app.store.update_connector(&updated).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(org = %org, connector = %name, "connector updated");
    app.reapply(&org).await?;
    Ok(Json(connector_json(
        &app,
        &updated,
        &app.dispatcher.stats(),
    )))
}

async fn delete_connector(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let stored = admin_connector(&app, caller, &org, &name).await?;
    if !app.store.delete_connector(&org, &name).await? {
        return Err(ApiError::NotFound);
    }
    if let Some(reference) = &stored.secret_ref {
        // The connector is gone either way; a secret left behind is logged by name.
        if let Err(e) = app.secrets.delete(reference).await {
            tracing::warn!(org = %org, connector = %name, error = %e, "the secret was not deleted");
        }
    }
    tracing::info!(org = %org, connector = %name, "connector deleted");
    app.reapply(&org).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The SIEM's verdict on a test event, in words.
fn verdict(result: &TestEventResult) -> Value {
    let latency_ms = (result.latency.as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    match &result.outcome {
        TestOutcome::Delivered { status } => json!({
            "delivered": true,
            "status": status,
            "latency_ms": latency_ms,
            "message": format!("delivered: {} answered HTTP {status}", result.platform),
        }),
        TestOutcome::Failed(e) => json!({
            "delivered": false,
            "status": e.status(),
            "latency_ms": latency_ms,
            "message": crate::hints::explain(result.platform, e),
        }),
        TestOutcome::Rejected(e) => json!({
            "delivered": false,
            "status": null,
            "latency_ms": latency_ms,
            "message": format!("the event could not be encoded: {e}"),
        }),
    }
}

/// Sends a test event with an unsaved body. Secret fields left blank are taken from the
/// saved connector of that name, if there is one (editing without retyping the token).
async fn test_unsaved(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    admin_of(&app, caller, &org).await?;
    let body = json_body(&body)?;
    let name = body.get("name").and_then(Value::as_str).map(str::to_owned);
    let stored = match &name {
        Some(n) => app.store.connector(&org, n).await?,
        None => None,
    };
    let (input, _, section) = checked(&app, &org, body, None, stored.as_ref())?;
    let mut missing = None;
    let section = connectors::with_credentials(section, |field| {
        if let Some(value) = input.secrets.get(field) {
            return Some(siem_secrets::SecretRef::static_value(value.clone()));
        }
        let reference = stored.as_ref()?.secret_ref.as_deref()?;
        match app.secrets.credential(reference, field) {
            Ok(r) => r,
            Err(e) => {
                missing = Some(e.to_string());
                None
            }
        }
    });
    if let Some(why) = missing {
        return Err(ApiError::Unavailable(why));
    }
    let sink = app
        .sink_config(&section)
        .await
        .map_err(|e| ApiError::Invalid(vec![e]))?;
    let result = siem_dispatch::send_test_event(&org, &sink)
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(verdict(&result)))
}

async fn test_saved(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    admin_connector(&app, caller, &org, &name).await?;
    if let Some(why) = app.not_running(&org, &name) {
        return Err(ApiError::Conflict(format!(
            "the connector is not running: {why}"
        )));
    }
    let result = app
        .dispatcher
        .send_test_event(&org, &name)
        .await
        .map_err(|e| ApiError::Conflict(format!("the connector is not running yet: {e}")))?;
    Ok(Json(verdict(&result)))
}
