//! Pinned HEC bodies: every fixture event with the default options, and the option
//! variants on the whole fixture batch. Review changes with `cargo xtask snapshot`.

mod common;

use std::sync::Arc;

use siem_core::SecurityEvent;
use siem_splunk::{encode, SplunkOptions};

use common::{fixture_events, load_event, opts, render_requests};

fn snap(options: &SplunkOptions, events: &[Arc<SecurityEvent>]) -> String {
    render_requests(options.url().as_str(), &encode(events, options))
}

#[test]
fn snapshot_each_fixture_event_default_options() {
    let options = opts(|_| {});
    insta::glob!("../../../fixtures/events", "*.json", |path| {
        insta::assert_snapshot!(snap(&options, &[load_event(path)]));
    });
}

#[test]
fn snapshot_each_fixture_event_with_index_and_host() {
    let options = opts(|c| {
        c.index = Some("main".into());
        c.host = Some("aisg-gw-1".into());
    });
    insta::glob!("../../../fixtures/events", "*.json", |path| {
        insta::assert_snapshot!(snap(&options, &[load_event(path)]));
    });
}

#[test]
fn snapshot_option_variants_on_all_fixtures() {
    let events = fixture_events();
    let variants = [
        ("no_index_gzip_default", opts(|_| {})),
        ("index_main", opts(|c| c.index = Some("main".into()))),
        (
            "custom_sourcetype_source_host",
            opts(|c| {
                c.sourcetype = "acme:ai:gateway".into();
                c.source = "gateway-eu".into();
                c.host = Some("gw-1.example".into());
            }),
        ),
        ("gzip_off", opts(|c| c.gzip = false)),
        // Small enough that the batch splits into several bodies.
        (
            "split_at_1200_bytes",
            opts(|c| {
                c.index = Some("main".into());
                c.max_body_bytes = 1200;
            }),
        ),
        // Smaller than any envelope: everything is rejected, named by event id.
        ("everything_too_large", opts(|c| c.max_body_bytes = 300)),
    ];
    for (name, options) in variants {
        insta::assert_snapshot!(format!("variant_{name}"), snap(&options, &events));
    }
}

#[test]
fn snapshot_identifiers_needing_json_escapes() {
    let event = siem_core::testing::event_needing_escapes("org \"quoted\"");
    insta::assert_snapshot!(snap(&opts(|c| c.gzip = false), &[event]));
}
