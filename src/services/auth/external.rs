//! External access: `backend.auth.externalAccess` (`static`, `legacy`, `jwks`) and the legacy
//! shared secrets of `backend.auth.keys`.

use serde::Deserialize;

use super::AccessRestriction;
use crate::services::config::{Config, ConfigError};

/// One `string | string[]` config value.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRestriction {
    plugin: String,
    #[serde(default)]
    permission: Option<OneOrMany>,
    #[serde(default)]
    permission_attribute: Option<RawAttribute>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribute {
    #[serde(default)]
    action: Option<OneOrMany>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    options: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    access_restrictions: Option<Vec<RawRestriction>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StaticOptions {
    token: String,
    subject: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyOptions {
    secret: String,
    subject: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JwksOptions {
    url: String,
    #[serde(default)]
    issuer: Option<OneOrMany>,
    #[serde(default)]
    algorithm: Option<OneOrMany>,
    #[serde(default)]
    audience: Option<OneOrMany>,
    #[serde(default)]
    subject_prefix: Option<String>,
}

/// How an external caller proves itself.
#[derive(Debug, Clone)]
pub(crate) enum ExternalKind {
    /// The token, sent verbatim.
    Static { token: String },
    /// An HS256 secret (decoded from base64).
    Legacy { secret: Vec<u8> },
    /// An outside identity provider's JWKS.
    Jwks {
        url: String,
        issuers: Vec<String>,
        algorithms: Vec<String>,
        audiences: Vec<String>,
        subject_prefix: String,
    },
}

/// One configured external caller.
#[derive(Debug, Clone)]
pub(crate) struct ExternalAccess {
    pub(crate) kind: ExternalKind,
    /// `external:<subject>` for static and legacy; the prefix for jwks.
    pub(crate) subject: String,
    pub(crate) restrictions: Option<Vec<AccessRestriction>>,
}

fn invalid(path: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path,
        message: message.into(),
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    path: &str,
    options: serde_json::Map<String, serde_json::Value>,
) -> Result<T, ConfigError> {
    serde_json::from_value(serde_json::Value::Object(options)).map_err(|e| ConfigError::Invalid {
        path: format!("{path}.options"),
        // The message names fields, never values (the token is a secret).
        message: match e.classify() {
            serde_json::error::Category::Data => {
                let m = e.to_string();
                m.split(" at line")
                    .next()
                    .unwrap_or("invalid options")
                    .to_string()
            }
            _ => "invalid options".to_string(),
        },
    })
}

const ACTIONS: [&str; 4] = ["create", "read", "update", "delete"];

/// Reads `backend.auth.externalAccess`; a bad entry fails naming its key.
pub(crate) fn read_external_access(config: &Config) -> Result<Vec<ExternalAccess>, ConfigError> {
    let entries: Vec<RawEntry> = config
        .opt_get_as("backend.auth.externalAccess")?
        .unwrap_or_default();
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let path = format!("backend.auth.externalAccess[{i}]");
        let restrictions = match entry.access_restrictions {
            None => None,
            Some(list) if list.is_empty() => {
                return Err(invalid(
                    format!("{path}.accessRestrictions"),
                    "must not be empty (leave it out for no restrictions)",
                ));
            }
            Some(list) => {
                let mut rs = Vec::new();
                for (j, r) in list.into_iter().enumerate() {
                    let actions = r
                        .permission_attribute
                        .and_then(|a| a.action)
                        .map(OneOrMany::into_vec);
                    if let Some(bad) = actions
                        .iter()
                        .flatten()
                        .find(|a| !ACTIONS.contains(&a.as_str()))
                    {
                        return Err(invalid(
                            format!("{path}.accessRestrictions[{j}].permissionAttribute.action"),
                            format!("unknown action '{bad}' (create, read, update or delete)"),
                        ));
                    }
                    rs.push(AccessRestriction {
                        plugin: r.plugin,
                        permission_names: r.permission.map(OneOrMany::into_vec),
                        actions,
                    });
                }
                Some(rs)
            }
        };
        let (kind, subject) = match entry.kind.as_str() {
            "static" => {
                let o: StaticOptions = decode(&path, entry.options)?;
                if o.token.len() < 8 || o.token.chars().any(char::is_whitespace) {
                    return Err(invalid(
                        format!("{path}.options.token"),
                        "must be at least 8 characters without whitespace",
                    ));
                }
                (ExternalKind::Static { token: o.token }, o.subject)
            }
            "legacy" => {
                let o: LegacyOptions = decode(&path, entry.options)?;
                let secret = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    o.secret.trim(),
                )
                .map_err(|_| invalid(format!("{path}.options.secret"), "must be base64"))?;
                if secret.len() < 8 {
                    return Err(invalid(
                        format!("{path}.options.secret"),
                        "must decode to at least 8 bytes",
                    ));
                }
                (ExternalKind::Legacy { secret }, o.subject)
            }
            "jwks" => {
                let o: JwksOptions = decode(&path, entry.options)?;
                let url = url::Url::parse(&o.url)
                    .map_err(|_| invalid(format!("{path}.options.url"), "not a URL"))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(invalid(format!("{path}.options.url"), "must be http(s)"));
                }
                let algorithms = o
                    .algorithm
                    .map(OneOrMany::into_vec)
                    .unwrap_or_else(|| vec!["RS256".to_string(), "ES256".to_string()]);
                if let Some(bad) = algorithms
                    .iter()
                    .find(|a| !matches!(a.as_str(), "RS256" | "ES256"))
                {
                    return Err(invalid(
                        format!("{path}.options.algorithm"),
                        format!("unsupported algorithm '{bad}' (RS256 or ES256)"),
                    ));
                }
                let prefix = o.subject_prefix.unwrap_or_default();
                (
                    ExternalKind::Jwks {
                        url: o.url,
                        issuers: o.issuer.map(OneOrMany::into_vec).unwrap_or_default(),
                        algorithms,
                        audiences: o.audience.map(OneOrMany::into_vec).unwrap_or_default(),
                        subject_prefix: prefix.clone(),
                    },
                    prefix,
                )
            }
            other => {
                return Err(invalid(
                    format!("{path}.type"),
                    format!("unknown type '{other}' (static, legacy or jwks)"),
                ));
            }
        };
        out.push(ExternalAccess {
            kind,
            subject,
            restrictions,
        });
    }
    // `backend.auth.keys[].secret`: legacy shared secrets, unrestricted.
    let keys: Vec<Config> = config
        .opt_config_array("backend.auth.keys")?
        .unwrap_or_default();
    for (i, key) in keys.iter().enumerate() {
        let secret = key.string("secret")?;
        if secret.len() < 8 {
            return Err(invalid(
                format!("backend.auth.keys[{i}].secret"),
                "must be at least 8 characters",
            ));
        }
        out.push(ExternalAccess {
            kind: ExternalKind::Legacy {
                secret: secret.into_bytes(),
            },
            subject: "backstage-server".to_string(),
            restrictions: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: serde_json::Value) -> Result<Vec<ExternalAccess>, ConfigError> {
        read_external_access(&Config::from_value(json!({"backend": {"auth": v}})))
    }

    #[test]
    fn reads_the_three_types() {
        let e = read(json!({"externalAccess": [
            {"type": "static", "options": {"token": "abcdefgh1", "subject": "ci"},
             "accessRestrictions": [{"plugin": "catalog", "permission": "catalog.entity.read",
                                     "permissionAttribute": {"action": ["read"]}}]},
            {"type": "legacy", "options": {"secret": "c2VjcmV0c2VjcmV0", "subject": "old"}},
            {"type": "jwks", "options": {"url": "https://idp.example/jwks", "issuer": "https://idp.example"}}
        ]}))
        .expect("valid");
        assert_eq!(e.len(), 3);
        let r = e[0].restrictions.as_ref().expect("restricted");
        assert_eq!(
            r[0].permission_names,
            Some(vec!["catalog.entity.read".to_string()])
        );
        assert!(
            matches!(e[1].kind, ExternalKind::Legacy { ref secret } if secret == b"secretsecret")
        );
    }

    #[test]
    fn bad_entries_name_their_key_and_never_the_token() {
        let err = read(json!({"externalAccess": [{"type": "static", "options": {"token": "short", "subject": "x"}}]}))
            .expect_err("short token");
        assert!(
            err.to_string().contains("externalAccess[0].options.token"),
            "{err}"
        );
        assert!(!err.to_string().contains("short"), "{err}");
        let err =
            read(json!({"externalAccess": [{"type": "magic", "options": {}}]})).expect_err("type");
        assert!(err.to_string().contains("externalAccess[0].type"), "{err}");
        let err = read(json!({"externalAccess": [{"type": "static", "options": {"token": "abcdefghij", "subject": "x"},
            "accessRestrictions": [{"plugin": "catalog", "permissionAttribute": {"action": "destroy"}}]}]}))
            .expect_err("action");
        assert!(
            err.to_string().contains("permissionAttribute.action"),
            "{err}"
        );
    }
}
