//! What the sign-in page offers, read from config.

use serde::Deserialize;

use crate::services::config::{Config, ConfigError};

/// How a provider signs a person in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// `guest`: one form POST; the app calls the auth backend's refresh itself.
    Server,
    /// OAuth2 / OpenID Connect: the browser runs `/{provider}/start?flow=redirect`, then the
    /// landing page reads `/{provider}/refresh` with the provider's refresh cookie.
    Redirect,
    /// An authenticating proxy (`oauth2Proxy`): no start step, the landing page refreshes.
    Proxy,
}

/// One button of the sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderButton {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) message: String,
    pub(crate) flow: Flow,
}

/// `app.signInPage` and the parts of `auth` the app needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignInSettings {
    pub(crate) providers: Vec<ProviderButton>,
    /// `auth.environment` (default `development`), sent as `env=`.
    pub(crate) environment: String,
    /// `app.baseUrl`, for the OAuth redirect URL and the `Secure` flag.
    pub(crate) app_base_url: Option<String>,
    /// `app.signInPage.userCookiePlugins` (default `[techdocs]`): plugins whose files the
    /// browser loads itself (TechDocs images), so signing in also gets their user cookie.
    pub(crate) cookie_plugins: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ProviderEntry {
    Id(String),
    Full {
        id: String,
        title: Option<String>,
        message: Option<String>,
    },
}

fn known_title(id: &str) -> String {
    match id {
        "guest" => "Guest".to_string(),
        "oidc" => "Single sign-on".to_string(),
        "github" => "GitHub".to_string(),
        "gitlab" => "GitLab".to_string(),
        "microsoft" => "Microsoft".to_string(),
        "google" => "Google".to_string(),
        "okta" => "Okta".to_string(),
        "oauth2Proxy" => "Company proxy".to_string(),
        other => other.to_string(),
    }
}

fn flow_of(id: &str) -> Flow {
    match id {
        "guest" => Flow::Server,
        "oauth2Proxy" => Flow::Proxy,
        _ => Flow::Redirect,
    }
}

/// A provider id is used in paths and query strings: keep it to letters, digits, `-` and `_`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl SignInSettings {
    /// Reads `app.signInPage.providers` (a list of ids or `{id, title, message}`), else every
    /// key of `auth.providers` (alphabetically, `guest` last); `auth.environment`;
    /// `app.baseUrl`.
    pub(crate) fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let entries: Vec<ProviderEntry> =
            match config.opt_get_as::<Vec<ProviderEntry>>("app.signInPage.providers")? {
                Some(list) => list,
                None => {
                    let mut keys = config
                        .opt_config("auth.providers")?
                        .map(|c| c.keys())
                        .unwrap_or_default();
                    keys.sort_by_key(|k| (k == "guest", k.clone()));
                    keys.into_iter().map(ProviderEntry::Id).collect()
                }
            };
        let mut providers = Vec::new();
        for entry in entries {
            let (id, title, message) = match entry {
                ProviderEntry::Id(id) => (id, None, None),
                ProviderEntry::Full { id, title, message } => (id, title, message),
            };
            if !valid_id(&id) {
                return Err(ConfigError::Invalid {
                    path: "app.signInPage.providers".to_string(),
                    message: "a provider id may only hold letters, digits, '-' and '_'".to_string(),
                });
            }
            if providers.iter().any(|p: &ProviderButton| p.id == id) {
                continue;
            }
            let title = title.unwrap_or_else(|| known_title(&id));
            let flow = flow_of(&id);
            let message = message.unwrap_or_else(|| match flow {
                Flow::Server => "Enter as a guest user. For development only.".to_string(),
                _ => format!("Sign in with {title}."),
            });
            providers.push(ProviderButton {
                id,
                title,
                message,
                flow,
            });
        }
        Ok(Self {
            providers,
            environment: config
                .opt_string("auth.environment")?
                .unwrap_or_else(|| "development".to_string()),
            app_base_url: config
                .opt_string("app.baseUrl")?
                .map(|u| u.trim_end_matches('/').to_string()),
            cookie_plugins: match config.opt_string_array("app.signInPage.userCookiePlugins")? {
                Some(list) => {
                    if !list.iter().all(|p| valid_id(p)) {
                        return Err(ConfigError::Invalid {
                            path: "app.signInPage.userCookiePlugins".to_string(),
                            message: "plugin ids may only hold letters, digits, '-' and '_'"
                                .to_string(),
                        });
                    }
                    list
                }
                None => vec!["techdocs".to_string()],
            },
        })
    }

    pub(crate) fn provider(&self, id: &str) -> Option<&ProviderButton> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// Whether the app is served over https (then the cookie is `Secure`).
    pub(crate) fn secure(&self, forwarded_https: bool) -> bool {
        forwarded_https
            || self
                .app_base_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn providers_come_from_auth_providers_or_the_sign_in_page_list() {
        let config = Config::from_value(json!({
            "auth": { "environment": "production", "providers": { "guest": {}, "oidc": { "production": {} }, "github": {} } }
        }));
        let s = SignInSettings::from_config(&config).unwrap();
        let ids: Vec<_> = s.providers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["github", "oidc", "guest"]);
        assert_eq!(s.environment, "production");
        assert_eq!(s.cookie_plugins, ["techdocs"]);
        assert_eq!(s.provider("guest").unwrap().flow, Flow::Server);
        assert_eq!(s.provider("oidc").unwrap().flow, Flow::Redirect);
        assert_eq!(s.provider("oidc").unwrap().title, "Single sign-on");

        let config = Config::from_value(json!({
            "app": { "baseUrl": "https://portal.example.com/", "signInPage": { "userCookiePlugins": [], "providers": [
                { "id": "oidc", "title": "Acme SSO", "message": "Use your Acme account" }, "guest"
            ] } },
            "auth": { "providers": { "guest": {}, "oidc": {}, "github": {} } }
        }));
        let s = SignInSettings::from_config(&config).unwrap();
        let ids: Vec<_> = s.providers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["oidc", "guest"]);
        assert_eq!(s.providers[0].title, "Acme SSO");
        assert_eq!(s.providers[0].message, "Use your Acme account");
        assert_eq!(s.environment, "development");
        assert!(s.secure(false));
        assert!(s.cookie_plugins.is_empty());

        let none = SignInSettings::from_config(&Config::empty()).unwrap();
        assert!(none.providers.is_empty());
        assert!(!none.secure(false));
    }

    #[test]
    fn a_provider_id_that_would_break_urls_is_a_config_error() {
        let config = Config::from_value(json!({
            "app": { "signInPage": { "providers": ["oidc/../x"] } }
        }));
        let err = SignInSettings::from_config(&config).unwrap_err();
        assert!(
            err.to_string().contains("app.signInPage.providers"),
            "{err}"
        );
    }
}
