//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI description.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use crate::app::App;

/// The OpenAPI description of the API.
pub const OPENAPI: &str = include_str!("openapi.json");

pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once the stored configuration is running and while the database answers.
pub(crate) async fn readyz(State(app): State<Arc<App>>) -> impl IntoResponse {
    if !app.is_ready() {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n");
    }
    if !app.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer\n",
        );
    }
    (StatusCode::OK, "ready\n")
}

pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// Counts an ingest request's events.
pub(crate) fn count_ingest(app: &App, org: &str, accepted: u64, rejected: u64) {
    metrics::with_local_recorder(&app.metrics.recorder, || {
        metrics::counter!("siem_ingest_requests_total", "org" => org.to_owned()).increment(1);
        metrics::counter!("siem_ingest_events_accepted_total", "org" => org.to_owned())
            .increment(accepted);
        metrics::counter!("siem_ingest_events_rejected_total", "org" => org.to_owned())
            .increment(rejected);
    });
}

/// Prometheus text: per organization and connector, the dispatcher's counters, queue
/// depth and breaker state, read from a snapshot at scrape time.
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let stats = app.dispatcher.stats();
    metrics::with_local_recorder(&app.metrics.recorder, || {
        for org in &stats.orgs {
            for s in &org.sinks {
                let labels = [
                    ("org", org.org_id.clone()),
                    ("connector", s.name.clone()),
                    ("platform", s.platform.to_owned()),
                ];
                let c = &s.counts;
                for (name, value) in [
                    ("siem_events_delivered_total", c.delivered),
                    ("siem_events_failed_total", c.failed),
                    ("siem_events_dropped_total", c.dropped),
                    ("siem_requests_retried_total", c.retried),
                ] {
                    metrics::counter!(name, &labels).absolute(value);
                }
                metrics::gauge!("siem_events_buffered", &labels).set(c.pending as f64);
                metrics::gauge!("siem_queue_depth", &labels).set(s.queue_depth as f64);
                let open = !matches!(s.breaker.state, siem_dispatch::BreakerState::Closed);
                metrics::gauge!("siem_breaker_open", &labels).set(if open { 1.0 } else { 0.0 });
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.handle.render(),
    )
}
