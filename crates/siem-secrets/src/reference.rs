//! Secret references as written in configuration.
//!
//! ```toml
//! token = { env = "SPLUNK_HEC_TOKEN" }
//! token = { aws_secret = "prod/siem", key = "hec_token" }   # key optional
//! token = { static = "demo-token" }                        # tests and demos only
//! ```
//!
//! Deserialising never echoes a value into an error message: a plain string where a
//! reference was expected (`token = "abc…"`, a common mistake that would put the secret
//! itself in the config) is refused without quoting it.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use siem_core::Secret;

/// What a configuration error says a secret reference should look like. `{ static = … }`
/// is left out on purpose: it is for tests and demos, and a resolver refuses it unless
/// told otherwise, so suggesting it to someone who pasted a secret would only lead to the
/// next error.
pub const EXPECTED_FORMS: &str = "a secret reference: `{ env = \"VAR\" }`, \
     `{ aws_secret = \"name-or-arn\" }` or `{ aws_secret = \"name-or-arn\", key = \"json-key\" }`";

/// Where a credential comes from.
///
/// `Display` names the reference (`env:VAR`, `aws:name`, `aws:name#key`, `static`), never a
/// value; `Debug` of a static reference prints `Secret([REDACTED])`.
///
/// ```
/// use siem_secrets::SecretRef;
/// #[derive(serde::Deserialize)]
/// struct Sink { token: SecretRef }
/// let sink: Sink = toml::from_str(r#"token = { aws_secret = "prod/siem", key = "hec" }"#)?;
/// assert_eq!(sink.token.to_string(), "aws:prod/siem#hec");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SecretRef {
    /// `{ env = "VAR" }`: the value of an environment variable, read on every `get`.
    Env {
        /// The variable name.
        var: String,
    },
    /// `{ aws_secret = "name-or-arn", key = "json-key" }`: an AWS Secrets Manager secret.
    Aws {
        /// The secret name or ARN.
        secret_id: String,
        /// If set, the secret value is a JSON object and this field holds the credential.
        key: Option<String>,
    },
    /// `{ static = "..." }`: a literal value. Parsed always, but a
    /// [`SecretResolver`](crate::SecretResolver) refuses it unless built with
    /// [`allow_static`](crate::SecretResolverBuilder::allow_static) (tests and demos).
    Static(Secret),
}

impl SecretRef {
    /// `{ env = "VAR" }`.
    pub fn env(var: impl Into<String>) -> Self {
        SecretRef::Env { var: var.into() }
    }

    /// `{ aws_secret = "...", key = "..." }` (`key` optional).
    pub fn aws(secret_id: impl Into<String>, key: Option<&str>) -> Self {
        SecretRef::Aws {
            secret_id: secret_id.into(),
            key: key.map(str::to_owned),
        }
    }

    /// `{ static = "..." }`.
    pub fn static_value(secret: Secret) -> Self {
        SecretRef::Static(secret)
    }

    /// Whether this is a literal value in the configuration (only for tests and demos).
    pub fn is_static(&self) -> bool {
        matches!(self, SecretRef::Static(_))
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env { var } => write!(f, "env:{var}"),
            SecretRef::Aws {
                secret_id,
                key: None,
            } => write!(f, "aws:{secret_id}"),
            SecretRef::Aws {
                secret_id,
                key: Some(key),
            } => write!(f, "aws:{secret_id}#{key}"),
            SecretRef::Static(_) => f.write_str("static"),
        }
    }
}

impl PartialEq for SecretRef {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SecretRef::Env { var: a }, SecretRef::Env { var: b }) => a == b,
            (
                SecretRef::Aws {
                    secret_id: a,
                    key: ka,
                },
                SecretRef::Aws {
                    secret_id: b,
                    key: kb,
                },
            ) => a == b && ka == kb,
            (SecretRef::Static(a), SecretRef::Static(b)) => a.same_value(b),
            _ => false,
        }
    }
}

impl Eq for SecretRef {}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RefVisitor)
    }
}

struct RefVisitor;

fn not_a_reference<E: de::Error>(what: &str) -> E {
    E::custom(format_args!("found {what}, expected {EXPECTED_FORMS}"))
}

// Every `visit_*` for a non-map input is overridden so that serde's default
// "invalid type: string \"...\"" message, which quotes the input, never appears.
impl<'de> Visitor<'de> for RefVisitor {
    type Value = SecretRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED_FORMS)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
        Err(not_a_reference(
            "a plain string (put secrets in the environment or a secret store, not in the config)",
        ))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretRef, E> {
        Err(not_a_reference("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretRef, E> {
        Err(not_a_reference("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretRef, E> {
        Err(not_a_reference("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretRef, E> {
        Err(not_a_reference("a number"))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<SecretRef, E> {
        Err(not_a_reference("bytes"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<SecretRef, E> {
        Err(not_a_reference("nothing"))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<SecretRef, A::Error> {
        Err(not_a_reference("a list"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
        let mut env = None;
        let mut aws = None;
        let mut key = None;
        let mut literal = None;
        while let Some(field) = map.next_key::<String>()? {
            let slot = match field.as_str() {
                "env" => &mut env,
                "aws_secret" => &mut aws,
                "key" => &mut key,
                "static" => &mut literal,
                other => {
                    return Err(de::Error::custom(format_args!(
                        "unknown field `{other}` in secret reference; expected {EXPECTED_FORMS}"
                    )))
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom(format_args!(
                    "duplicate field `{field}` in secret reference"
                )));
            }
            let value = map.next_value::<QuietString>()?.0;
            if value.is_empty() {
                return Err(de::Error::custom(format_args!(
                    "`{field}` in a secret reference must not be empty"
                )));
            }
            *slot = Some(value);
        }
        match (env, aws, key, literal) {
            (Some(var), None, None, None) => Ok(SecretRef::Env { var }),
            (None, Some(secret_id), key, None) => Ok(SecretRef::Aws { secret_id, key }),
            (None, None, None, Some(value)) => Ok(SecretRef::Static(Secret::new(value))),
            (None, None, Some(_), None) => Err(de::Error::custom(format_args!(
                "`key` needs `aws_secret`; expected {EXPECTED_FORMS}"
            ))),
            (None, None, None, None) => Err(not_a_reference("an empty table")),
            _ => Err(de::Error::custom(format_args!(
                "a secret reference has exactly one source; expected {EXPECTED_FORMS}"
            ))),
        }
    }
}

/// A string field whose deserialisation errors never quote the input.
struct QuietString(String);

impl<'de> Deserialize<'de> for QuietString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = QuietString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<QuietString, E> {
                Ok(QuietString(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<QuietString, E> {
                Ok(QuietString(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<QuietString, E> {
                Err(E::custom("expected a string, found a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<QuietString, E> {
                Err(E::custom("expected a string, found a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<QuietString, E> {
                Err(E::custom("expected a string, found a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<QuietString, E> {
                Err(E::custom("expected a string, found a number"))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<QuietString, E> {
                Err(E::custom("expected a string, found bytes"))
            }
        }
        deserializer.deserialize_string(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sink {
        token: SecretRef,
    }

    fn parse(toml_text: &str) -> Result<SecretRef, String> {
        toml::from_str::<Sink>(toml_text)
            .map(|s| s.token)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_every_form_and_displays_the_reference() {
        let cases = [
            (
                r#"token = { env = "HEC" }"#,
                SecretRef::env("HEC"),
                "env:HEC",
            ),
            (
                r#"token = { aws_secret = "prod/siem" }"#,
                SecretRef::aws("prod/siem", None),
                "aws:prod/siem",
            ),
            (
                r#"token = { aws_secret = "arn:aws:secretsmanager:us-east-1:1:secret:x", key = "k" }"#,
                SecretRef::aws("arn:aws:secretsmanager:us-east-1:1:secret:x", Some("k")),
                "aws:arn:aws:secretsmanager:us-east-1:1:secret:x#k",
            ),
        ];
        for (text, want, shown) in cases {
            let got = parse(text).unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), shown);
            assert!(!got.is_static());
        }
    }

    #[test]
    fn static_reference_parses_but_never_shows_its_value() {
        let got = parse(r#"token = { static = "demo-value-42" }"#).unwrap();
        assert!(got.is_static());
        assert_eq!(got, SecretRef::static_value(Secret::new("demo-value-42")));
        let shown = format!("{got} {got:?} {got:#?}");
        assert!(!shown.contains("demo-value-42"), "{shown}");
        assert!(shown.contains("static"), "{shown}");
    }

    #[test]
    fn wrong_shapes_name_the_expected_forms_and_never_quote_values() {
        let cases = [
            (r#"token = "hec-plain-value""#, "plain string"),
            (r#"token = 123456789"#, "number"),
            (r#"token = ["x"]"#, "list"),
            (r#"token = {}"#, "empty table"),
            (
                r#"token = { vault = "hec-plain-value" }"#,
                "unknown field `vault`",
            ),
            (r#"token = { key = "k" }"#, "`key` needs `aws_secret`"),
            (
                r#"token = { env = "A", aws_secret = "b" }"#,
                "exactly one source",
            ),
            (r#"token = { env = "A", key = "k" }"#, "exactly one source"),
            (r#"token = { static = 123456789 }"#, "expected a string"),
            (r#"token = { env = "" }"#, "must not be empty"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
            let message = err.lines().last().unwrap_or_default();
            assert!(!message.contains("hec-plain-value"), "{text}: {err}");
            assert!(!message.contains("123456789"), "{text}: {err}");
            if !want.contains("expected a string") && !want.contains("empty") {
                assert!(
                    err.contains("aws_secret = \"name-or-arn\""),
                    "{text}: {err}"
                );
            }
        }
    }
}
