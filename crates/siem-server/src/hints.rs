//! A delivery error in words an org admin can act on: the platform's own words, and
//! what to change for the common failures (the hints the `siem` command gives, with the
//! CA given as PEM text).

use siem_config::hints::{hint, GiveCa};
use siem_core::DeliveryError;

/// The error, followed by a hint when one applies.
pub(crate) fn explain(platform: &str, error: &DeliveryError) -> String {
    let text = error.to_string();
    match hint(platform, &text, GiveCa::Pem) {
        Some(hint) => format!("{text} — {hint}"),
        None => text,
    }
}
