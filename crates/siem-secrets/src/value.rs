//! Turning a stored secret string into the credential: the whole string, or one field of
//! a JSON object. Error details name the key, never the content.

use siem_core::{CredentialError, CredentialErrorKind, Secret};
use zeroize::Zeroize;

/// Picks the credential out of a secret string.
///
/// Without `key` the whole string is the credential. With `key` the string must be a JSON
/// object whose `key` field is a string: anything else is
/// [`Malformed`](CredentialErrorKind::Malformed), a missing field is
/// [`MissingKey`](CredentialErrorKind::MissingKey).
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) fn extract(
    reference: &str,
    raw: Secret,
    key: Option<&str>,
) -> Result<Secret, CredentialError> {
    let Some(key) = key else {
        return Ok(raw);
    };
    let error = |kind, detail: String| CredentialError::new(reference, kind, detail);
    // serde_json's error text can quote a fragment of the input, so it is dropped.
    let mut object = match serde_json::from_str::<serde_json::Value>(raw.expose()) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => {
            return Err(error(
                CredentialErrorKind::Malformed,
                format!("the secret is JSON but not an object, so key `{key}` cannot be read"),
            ))
        }
        Err(_) => {
            return Err(error(
                CredentialErrorKind::Malformed,
                format!("the secret is not JSON, so key `{key}` cannot be read"),
            ))
        }
    };
    let picked = match object.remove(key) {
        Some(serde_json::Value::String(value)) => Ok(Secret::new(value)),
        Some(_) => Err(error(
            CredentialErrorKind::Malformed,
            format!("JSON key `{key}` is not a string"),
        )),
        None => Err(error(
            CredentialErrorKind::MissingKey,
            format!("the JSON object has no key `{key}`"),
        )),
    };
    // Best effort: wipe the other fields' copies as well.
    for (_, mut value) in object {
        if let serde_json::Value::String(s) = &mut value {
            s.zeroize();
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(r: Result<Secret, CredentialError>) -> CredentialErrorKind {
        r.map(|_| ()).unwrap_err().kind
    }

    #[test]
    fn plain_string_without_key_is_the_credential() {
        let s = extract("aws:x", Secret::new(r#"{"a":"b"}"#), None).unwrap();
        assert_eq!(s.expose(), r#"{"a":"b"}"#);
    }

    #[test]
    fn key_picks_a_string_field() {
        let raw = Secret::new(r#"{"hec":"tok-1","dd":"tok-2"}"#);
        assert_eq!(
            extract("aws:x#dd", raw, Some("dd")).unwrap().expose(),
            "tok-2"
        );
    }

    #[test]
    fn shape_errors_are_typed_and_do_not_quote_the_value() {
        let cases = [
            ("not json at all tok-9", CredentialErrorKind::Malformed),
            (r#"["tok-9"]"#, CredentialErrorKind::Malformed),
            (r#"{"hec": 9}"#, CredentialErrorKind::Malformed),
            (r#"{"other": "tok-9"}"#, CredentialErrorKind::MissingKey),
        ];
        for (raw, want) in cases {
            let r = extract("aws:x#hec", Secret::new(raw), Some("hec"));
            let text = format!("{r:?}");
            assert_eq!(kind(r), want, "{raw}");
            assert!(!text.contains("tok-9"), "{text}");
            assert!(text.contains("aws:x#hec"), "{text}");
        }
    }
}
