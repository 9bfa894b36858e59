//! Building events and endpoints: identifiers, filters and URLs are validated with typed
//! errors that name what is wrong.

use siem_core::details::{Blocked, Killed, LoopDetected, PiiBlocked};
use siem_core::{
    Endpoint, EndpointError, EventError, EventFilter, EventType, FilterError, Ident, IdentError,
    SecurityEvent, Severity,
};

fn pii() -> PiiBlocked {
    PiiBlocked {
        entities_found: vec![Ident::new("SSN").unwrap()],
        action: Blocked,
        model: Ident::new("gpt-4.1").unwrap(),
    }
}

#[test]
fn builder_validates_each_identifier_and_names_it() {
    let too_long = "p".repeat(129);
    let err = SecurityEvent::builder("org", too_long.as_str(), pii())
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        EventError {
            field: "project_id",
            source: IdentError::TooLong { chars: 129 }
        }
    );
    assert!(err
        .to_string()
        .starts_with("`project_id` is 129 characters"));

    let err = SecurityEvent::builder("org\r\n", "p", pii())
        .build()
        .unwrap_err();
    assert_eq!(err.field, "org_id");
    let err = SecurityEvent::builder("o", "p", pii())
        .request_id("")
        .build()
        .unwrap_err();
    assert_eq!(err.field, "request_id");
    let err = SecurityEvent::builder("o", "p", pii())
        .source("bad\u{1b}[31m")
        .build()
        .unwrap_err();
    assert_eq!(err.field, "source");
}

#[test]
fn builder_fills_defaults_and_keeps_overrides() {
    let a = SecurityEvent::builder("o", "p", pii()).build().unwrap();
    let b = SecurityEvent::builder("o", "p", pii()).build().unwrap();
    assert_ne!(a.event_id(), b.event_id(), "fresh ids");
    assert_eq!(a.severity(), Severity::High);
    assert_eq!(a.source().as_str(), "aisg");
    let loop_event = SecurityEvent::builder(
        "o",
        "p",
        LoopDetected {
            iterations: 3,
            window_seconds: 1,
            estimated_cost_per_hour_usd: None,
            action: Killed,
            model: None,
        },
    )
    .severity(Severity::Critical)
    .source("gateway-eu")
    .build()
    .unwrap();
    assert_eq!(loop_event.severity(), Severity::Critical);
    assert_eq!(loop_event.source().as_str(), "gateway-eu");
    assert_eq!(loop_event.event_type(), &EventType::LoopDetected);
}

#[test]
fn endpoints_must_be_https_without_userinfo() {
    for (url, expected) in [
        (
            "http://splunk.example.com:8088",
            EndpointError::NotHttps {
                scheme: "http".into(),
            },
        ),
        (
            "https://admin:pw@splunk.example.com",
            EndpointError::Userinfo,
        ),
        ("https://user@splunk.example.com", EndpointError::Userinfo),
    ] {
        assert_eq!(Endpoint::parse(url).unwrap_err(), expected, "{url}");
    }
    let err = Endpoint::parse("splunk.example.com").unwrap_err();
    assert!(matches!(err, EndpointError::Unparsable { .. }));
    assert!(err.to_string().contains("not a valid URL"));
    assert!(Endpoint::parse("https://splunk.example.com:8088").is_ok());
    // Serde goes through the same check, so a config file cannot bypass it.
    assert!(serde_json::from_str::<Endpoint>(r#""http://x.example""#).is_err());
}

#[test]
fn filters_reject_unknown_names() {
    let err = EventFilter::parse(["dlp.pii_blocked", "dlp.everything"]).unwrap_err();
    assert!(matches!(err, FilterError::BadEntry { index: 1, .. }));
    assert!(err.to_string().contains("dlp.everything"));
    assert!(EventFilter::parse(["PII_BLOCKED"]).is_err());
    let f = EventFilter::parse(["*"]).unwrap();
    for t in EventType::KNOWN {
        assert!(f.matches(&t));
    }
}
