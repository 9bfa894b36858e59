//! What to do about the common delivery failures, in words an operator or an org admin
//! can act on: one place for the `siem` command's tables and the connector service's
//! test verdicts.

/// How the user at hand gives an extra CA: a file (the configuration file) or PEM text
/// (the connector API, which reads no server files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveCa {
    /// `ca_file = "/path/to/ca.pem"`.
    File,
    /// `ca_pem = "-----BEGIN CERTIFICATE-----…"`.
    Pem,
}

/// What to do about a common failure, judged from its text: an untrusted certificate,
/// or credentials the platform refused (which credential depends on the platform).
pub fn hint(platform: &str, cause: &str, give_ca: GiveCa) -> Option<String> {
    if cause.contains("UnknownIssuer") {
        let how = match give_ca {
            GiveCa::File => "its PEM file as ca_file = \"/path/to/ca.pem\" in this sink",
            GiveCa::Pem => "its certificate(s) as PEM text in `ca_pem`",
        };
        return Some(format!(
            "the server's certificate is not signed by a CA this machine trusts; if it \
             comes from an internal CA, give {how}"
        ));
    }
    if cause.contains("rejected by the identity provider") {
        return Some(
            "Entra ID refused the sink's client_secret (or tenant_id/client_id): use the \
             secret's value, not its ID, and check that it has not expired"
                .to_owned(),
        );
    }
    let refused = cause.contains("credentials_rejected") || cause.contains("credentials rejected");
    let status = |code: &str| cause.contains(&format!("HTTP {code}"));
    if status("404") {
        return Some(
            "the endpoint answered 404: check its URL (Sentinel: also dcr_immutable_id and \
             stream)"
                .to_owned(),
        );
    }
    if !refused && !status("401") && !status("403") {
        return None;
    }
    let words = match platform {
        "splunk" => {
            "Splunk refused the HEC token (`token`): check the token's value, that it and \
             HEC are enabled, and that it may write to the sink's index"
        }
        "datadog" => {
            "Datadog refused the API key (`token`): it must be an API key (not an \
             application key) of an organization on the sink's `site`"
        }
        "sentinel" if status("403") => {
            "Sentinel accepted the token but refused access: the app registration \
             (`client_id`) needs the Monitoring Metrics Publisher role on the DCR"
        }
        "sentinel" => {
            "Sentinel refused the bearer token: check `token`, or use tenant_id, client_id \
             and client_secret so that tokens come from Entra ID"
        }
        _ => return None,
    };
    Some(words.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_credential_of_the_platform() {
        let refused = "credentials rejected: HTTP 403: Forbidden";
        let expired = "credentials_rejected HTTP 401 (code InvalidToken): expired";
        let untrusted = "TLS certificate not accepted: invalid peer certificate: UnknownIssuer";
        let not_found = "permanent HTTP 404: no such DCR";
        for (platform, cause, give_ca, named) in [
            ("splunk", refused, GiveCa::File, "HEC token"),
            ("datadog", refused, GiveCa::File, "API key"),
            (
                "sentinel",
                refused,
                GiveCa::File,
                "Monitoring Metrics Publisher",
            ),
            ("sentinel", expired, GiveCa::File, "`token`"),
            ("datadog", untrusted, GiveCa::File, "ca_file"),
            ("datadog", untrusted, GiveCa::Pem, "ca_pem"),
            ("sentinel", not_found, GiveCa::Pem, "dcr_immutable_id"),
        ] {
            let given = hint(platform, cause, give_ca).unwrap_or_default();
            assert!(given.contains(named), "{platform}, {cause}: {given:?}");
        }
        // Failures without a common remedy get no hint.
        assert_eq!(
            hint("splunk", "retryable: HTTP 503: busy", GiveCa::File),
            None
        );
        assert_eq!(hint("splunk", "connection refused", GiveCa::File), None);
    }
}
