//! The `auth` config keys the plugin reads.

use std::time::Duration;

use crate::services::config::{Config, ConfigError};

/// Default, smallest and largest `auth.backstageTokenExpiration`, as Backstage.
const TOKEN_EXP_DEFAULT: u64 = 3600;
const TOKEN_EXP_MIN: u64 = 600;
const TOKEN_EXP_MAX: u64 = 86400;

/// The plugin-wide settings.
#[derive(Debug, Clone)]
pub(crate) struct AuthSettings {
    /// `auth.environment` (the env that the guest provider checks).
    pub(crate) environment: Option<String>,
    /// `auth.session.secret`.
    pub(crate) session_secret: Option<String>,
    /// `auth.backstageTokenExpiration`, clamped to 10 minutes .. 24 hours.
    pub(crate) token_expiration: Duration,
    /// `app.baseUrl`.
    pub(crate) app_base_url: String,
}

impl AuthSettings {
    pub(crate) fn read(config: &Config, backend_base: &str) -> Result<Self, ConfigError> {
        let token_expiration = match config.opt_duration("auth.backstageTokenExpiration")? {
            None => TOKEN_EXP_DEFAULT,
            Some(d) => d.as_secs().clamp(TOKEN_EXP_MIN, TOKEN_EXP_MAX),
        };
        let app_base_url = config
            .opt_string("app.baseUrl")?
            .unwrap_or_else(|| backend_base.to_string());
        url::Url::parse(&app_base_url).map_err(|e| ConfigError::Invalid {
            path: "app.baseUrl".into(),
            message: format!("not a URL: {e}"),
        })?;
        Ok(Self {
            environment: config.opt_string("auth.environment")?,
            session_secret: config
                .opt_string("auth.session.secret")?
                .filter(|s| !s.is_empty()),
            token_expiration: Duration::from_secs(token_expiration),
            app_base_url,
        })
    }

    /// The origin (`scheme://host[:port]`) of the app.
    pub(crate) fn app_origin(&self) -> String {
        origin_of(&self.app_base_url).unwrap_or_default()
    }
}

/// `scheme://host[:port]` of `url`.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    match u.origin() {
        url::Origin::Tuple(..) => Some(u.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: serde_json::Value) -> AuthSettings {
        AuthSettings::read(&Config::from_value(v), "http://localhost:7007").unwrap()
    }

    #[test]
    fn token_expiration_defaults_and_is_clamped() {
        assert_eq!(read(serde_json::json!({})).token_expiration.as_secs(), 3600);
        let short = read(serde_json::json!({"auth": {"backstageTokenExpiration": {"minutes": 1}}}));
        assert_eq!(short.token_expiration.as_secs(), 600);
        let long = read(serde_json::json!({"auth": {"backstageTokenExpiration": {"days": 3}}}));
        assert_eq!(long.token_expiration.as_secs(), 86400);
        let mid = read(serde_json::json!({"auth": {"backstageTokenExpiration": {"hours": 2}}}));
        assert_eq!(mid.token_expiration.as_secs(), 7200);
    }

    #[test]
    fn app_origin_comes_from_app_base_url() {
        let s = read(serde_json::json!({"app": {"baseUrl": "https://portal.example.com/x/"}}));
        assert_eq!(s.app_origin(), "https://portal.example.com");
        assert_eq!(
            read(serde_json::json!({})).app_origin(),
            "http://localhost:7007"
        );
        assert!(
            AuthSettings::read(
                &Config::from_value(serde_json::json!({"app": {"baseUrl": "nope"}})),
                "http://localhost:7007"
            )
            .is_err()
        );
    }
}
