//! Entra ID (Azure AD) token endpoint emulator: the client-credentials grant only.
//!
//! # What it checks, like Entra
//! - `POST /{tenant}/oauth2/v2.0/token` (another method → 400 `invalid_request`), the
//!   tenant the configured one (else 400 `invalid_request`, AADSTS90002).
//! - `Content-Type: application/x-www-form-urlencoded`, else 400 `invalid_request`.
//! - `grant_type=client_credentials` (missing → 400 `invalid_request` AADSTS900144;
//!   another → 400 `unsupported_grant_type` AADSTS70003).
//! - `client_id` the configured one (else 400 `unauthorized_client` AADSTS700016);
//!   `client_secret` present (else 401 `invalid_client` AADSTS7000216) and right (else 401
//!   `invalid_client` AADSTS7000215).
//! - `scope=https://monitor.azure.com/.default` (else 400 `invalid_scope` AADSTS1002012).
//! - Success: 200 `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,
//!   "access_token":"<random>"}`; the token is then accepted by the DCE emulator that
//!   shares this endpoint's token book, until [`EntraEmulator::revoke_tokens`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http::Method;

use crate::control::{config_debug, control_methods, Core, Recording};
use crate::json;
use crate::server::{start_with_own_ca, EmulatorServer, Outcome, Reply, Req, Service};

/// The scope the Logs Ingestion API needs.
pub const MONITOR_SCOPE: &str = "https://monitor.azure.com/.default";
/// Default tenant id.
pub const DEFAULT_TENANT_ID: &str = "00000000-0000-4000-8000-00000000e17a";
/// Default client (application) id.
pub const DEFAULT_CLIENT_ID: &str = "00000000-0000-4000-8000-0000000c1e47";
/// Default client secret.
pub const DEFAULT_CLIENT_SECRET: &str = "testkit~client~secret";

/// Configuration of an [`EntraEmulator`].
#[derive(Clone)]
pub struct EntraEmulatorConfig {
    /// The tenant in the path.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// `expires_in` of issued tokens, in seconds.
    pub expires_in: u64,
    /// The port on 127.0.0.1 when the endpoint runs on its own server; 0 picks a free one.
    pub port: u16,
    /// Offer HTTP/2 by ALPN when on its own server.
    pub http2: bool,
}

impl Default for EntraEmulatorConfig {
    fn default() -> Self {
        Self {
            tenant_id: DEFAULT_TENANT_ID.to_owned(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            expires_in: 3599,
            port: 0,
            http2: true,
        }
    }
}

config_debug!(EntraEmulatorConfig {
    tenant_id,
    client_id,
    client_secret => redacted,
    expires_in,
    port,
    http2,
});

/// The tokens an Entra emulator issued, shared with the DCE emulator that checks them.
#[derive(Debug, Default)]
pub(crate) struct TokenBook {
    valid: Mutex<HashSet<String>>,
    issued: AtomicU64,
}

impl TokenBook {
    pub(crate) fn is_valid(&self, token: &str) -> bool {
        self.valid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(token)
    }

    fn issue(&self) -> String {
        let token = format!(
            "testkit.{}.{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.valid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone());
        self.issued.fetch_add(1, Ordering::Relaxed);
        token
    }

    fn revoke_all(&self) {
        self.valid.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// A running Entra token endpoint emulator: on its own server, or sharing the Sentinel
/// emulator's (see [`SentinelEmulatorConfig::token_server`](crate::SentinelEmulatorConfig::token_server)).
#[derive(Debug)]
pub struct EntraEmulator {
    server: Option<EmulatorServer>,
    authority: siem_core::Endpoint,
    pub(crate) service: Arc<EntraService>,
    ca_pem: String,
}

impl EntraEmulator {
    start_with_own_ca!(
        EntraEmulatorConfig,
        "siem-testkit Entra CA",
        |ca, config| {
            let service = EntraService::new(config);
            let server = EmulatorServer::start(
                ca,
                service.config.port,
                service.config.http2,
                vec![service.clone()],
            )
            .await?;
            Ok(Self {
                authority: server.endpoint().clone(),
                ca_pem: server.ca_pem().to_owned(),
                server: Some(server),
                service,
            })
        }
    );

    /// The handle of an endpoint served by another emulator's server.
    pub(crate) fn hosted(
        service: Arc<EntraService>,
        authority: siem_core::Endpoint,
        ca_pem: String,
    ) -> Self {
        Self {
            server: None,
            authority,
            service,
            ca_pem,
        }
    }

    /// The authority host (`https://127.0.0.1:PORT/`): a Sentinel sink's `authority_host`.
    pub fn authority_host(&self) -> siem_core::Endpoint {
        self.authority.clone()
    }

    /// The token URL, `{authority}{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}{}/oauth2/v2.0/token",
            self.authority.as_str(),
            self.service.config.tenant_id
        )
    }

    /// TLS connections accepted by its own server (0 when hosted by the DCE emulator).
    pub fn connections_accepted(&self) -> u64 {
        self.server.as_ref().map_or(0, EmulatorServer::connections)
    }

    /// Whether the endpoint has a server of its own.
    pub fn has_own_server(&self) -> bool {
        self.server.is_some()
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The configuration (tenant, client id and secret).
    pub fn config(&self) -> &EntraEmulatorConfig {
        &self.service.config
    }

    /// How many tokens were issued.
    pub fn tokens_issued(&self) -> u64 {
        self.service.tokens.issued.load(Ordering::Relaxed)
    }

    /// Makes every token issued so far invalid (the DCE then answers 401 until the client
    /// fetches a new one).
    pub fn revoke_tokens(&self) {
        self.service.tokens.revoke_all();
    }

    /// Issues a valid token directly, as if a client had asked for one.
    pub fn issue_token(&self) -> String {
        self.service.tokens.issue()
    }

    fn core(&self) -> &Core {
        &self.service.core
    }

    control_methods!(core);
}

#[derive(Debug)]
pub(crate) struct EntraService {
    pub(crate) config: EntraEmulatorConfig,
    pub(crate) tokens: Arc<TokenBook>,
    core: Core,
}

const TOKEN_PATH_SUFFIX: &str = "/oauth2/v2.0/token";

fn aad_error(status: u16, error: &str, code: u32, description: &str) -> Reply {
    let trace = uuid::Uuid::new_v4();
    let correlation = uuid::Uuid::new_v4();
    let mut reply = Reply::json(
        status,
        format!(
            r#"{{"error":{},"error_description":{},"error_codes":[{code}],"trace_id":"{trace}","correlation_id":"{correlation}"}}"#,
            json::quote(error),
            json::quote(&format!(
                "AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation}"
            )),
        ),
    );
    reply.detail = Some(format!("{error}: AADSTS{code}"));
    reply
}

fn missing(name: &str) -> Reply {
    aad_error(
        400,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{name}'."),
    )
}

impl EntraService {
    pub(crate) fn new(config: EntraEmulatorConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            tokens: Arc::default(),
            core: Core::new(Recording::CountOnly, 64 * 1024),
        })
    }

    fn token(&self, req: &Req) -> Reply {
        let tenant = req
            .path
            .strip_suffix(TOKEN_PATH_SUFFIX)
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or("");
        if tenant != self.config.tenant_id {
            return aad_error(
                400,
                "invalid_request",
                90002,
                &format!(
                    "Tenant '{}' not found.",
                    tenant.chars().take(64).collect::<String>()
                ),
            );
        }
        if req.method != Method::POST {
            return aad_error(
                400,
                "invalid_request",
                900561,
                "The endpoint only accepts POST requests.",
            );
        }
        let form_type = req.header("content-type").is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
        if !form_type {
            return aad_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            );
        }
        let mut grant_type = None;
        let mut client_id = None;
        let mut client_secret = None;
        let mut scope = None;
        for (key, value) in url::form_urlencoded::parse(&req.body) {
            match &*key {
                "grant_type" => grant_type = Some(value),
                "client_id" => client_id = Some(value),
                "client_secret" => client_secret = Some(value),
                "scope" => scope = Some(value),
                _ => {}
            }
        }
        let Some(grant_type) = grant_type else {
            return missing("grant_type");
        };
        if grant_type != "client_credentials" {
            return aad_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            );
        }
        let Some(client_id) = client_id else {
            return missing("client_id");
        };
        if client_id != self.config.client_id.as_str() {
            return aad_error(
                400,
                "unauthorized_client",
                700016,
                &format!(
                    "Application with identifier '{}' was not found in the directory.",
                    client_id.chars().take(64).collect::<String>()
                ),
            );
        }
        let Some(client_secret) = client_secret else {
            return aad_error(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            );
        };
        if client_secret != self.config.client_secret.as_str() {
            return aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
            );
        }
        let Some(scope) = scope else {
            return missing("scope");
        };
        if scope != MONITOR_SCOPE {
            return aad_error(
                400,
                "invalid_scope",
                1002012,
                "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
            );
        }
        let token = self.tokens.issue();
        Reply::json(
            200,
            format!(
                r#"{{"token_type":"Bearer","expires_in":{e},"ext_expires_in":{e},"access_token":{}}}"#,
                json::quote(&token),
                e = self.config.expires_in
            ),
        )
    }
}

impl Service for EntraService {
    fn core(&self) -> &Core {
        &self.core
    }

    fn claims(&self, path: &str) -> bool {
        path.ends_with(TOKEN_PATH_SUFFIX)
    }

    fn error(&self, status: u16, message: &str) -> Reply {
        let mut reply = match status {
            400 => aad_error(400, "invalid_request", 900144, "The request is not valid."),
            401 => aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided.",
            ),
            404 => aad_error(404, "invalid_request", 90002, "Tenant not found."),
            other => aad_error(
                other,
                "temporarily_unavailable",
                50196,
                "The server is temporarily unavailable.",
            ),
        };
        reply.detail = Some(message.to_owned());
        reply
    }

    fn handle(&self, req: &Req) -> Outcome {
        if !self.claims(&req.path) {
            return aad_error(404, "invalid_request", 90002, "Not found.").into();
        }
        self.token(req).into()
    }
}
