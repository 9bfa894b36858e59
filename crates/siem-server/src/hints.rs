//! A delivery error in words an org admin can act on: the platform's own words, and what
//! to change for the common failures.

use siem_core::DeliveryError;

/// The error, followed by a hint when one applies.
pub(crate) fn explain(platform: &str, error: &DeliveryError) -> String {
    let text = error.to_string();
    let credential = match platform {
        "splunk" => "the HEC token (`token`)",
        "datadog" => "the API key (`token`) and that `site` is the account's site",
        _ => "`tenant_id`, `client_id` and `client_secret` (or the bearer `token`), and the DCR's role assignment",
    };
    let hint = match error.status() {
        Some(401 | 403) => Some(format!(
            "the SIEM refused the credential: check {credential}"
        )),
        Some(404) => Some(
            "the endpoint answered 404: check the URL (and for Sentinel the DCR id and stream)"
                .to_owned(),
        ),
        _ if text.contains("UnknownIssuer") || text.contains("certificate") => Some(
            "the SIEM's TLS certificate is not trusted: give its CA certificate as `ca_pem`"
                .to_owned(),
        ),
        _ => None,
    };
    match hint {
        Some(hint) => format!("{text} — {hint}"),
        None => text,
    }
}
