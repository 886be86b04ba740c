//! An OpenID Connect relying party: discovery, the authorization code flow with PKCE, ID token
//! verification against the provider's JWKS, refresh and userinfo.

use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::tokens::unix_now;
use crate::services::auth::jwt::{self, Jwk, JwkSet, JwtError};

/// Clock skew allowed on `exp`/`iat` of ID tokens.
const SKEW_SECS: i64 = 60;

/// The config of one environment of an OpenID Connect provider
/// (`auth.providers.<id>.<env>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OidcSettings {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) metadata_url: String,
    pub(crate) callback_url: String,
    pub(crate) scope: Option<String>,
    pub(crate) prompt: Option<String>,
    /// `client_secret_basic` (default) or `client_secret_post`.
    pub(crate) token_endpoint_auth_method: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
}

/// What the token endpoint answers.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TokenSet {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

/// A client of one OpenID Connect provider; metadata and keys are fetched on first use and
/// the keys again when a token names an unknown one.
#[derive(Debug)]
pub(crate) struct OidcClient {
    pub(crate) settings: OidcSettings,
    http: reqwest::Client,
    metadata: RwLock<Option<Metadata>>,
    keys: RwLock<Vec<Jwk>>,
}

async fn json_of<T: for<'de> Deserialize<'de>>(
    what: &str,
    res: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, String> {
    let res = res.map_err(|e| format!("{what} failed: {e}"))?;
    let status = res.status();
    let body = res
        .bytes()
        .await
        .map_err(|e| format!("{what} failed: {e}"))?;
    if !status.is_success() {
        let detail: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let msg = detail["error_description"]
            .as_str()
            .or(detail["error"].as_str())
            .unwrap_or("");
        return Err(format!("{what} answered {status} {msg}")
            .trim_end()
            .to_string());
    }
    serde_json::from_slice(&body).map_err(|e| format!("{what} answered unreadable JSON: {e}"))
}

impl OidcClient {
    /// A client for the provider of `settings`, calling it through `http` (the backend's
    /// client settings, with redirects off).
    pub(crate) fn new(settings: OidcSettings, http: reqwest::Client) -> Self {
        Self {
            settings,
            http,
            metadata: RwLock::new(None),
            keys: RwLock::new(Vec::new()),
        }
    }

    async fn metadata(&self) -> Result<Metadata, String> {
        if let Some(m) = self.metadata.read().await.as_ref() {
            return Ok(m.clone());
        }
        let m: Metadata = json_of(
            "OpenID Connect discovery",
            self.http.get(&self.settings.metadata_url).send().await,
        )
        .await?;
        *self.metadata.write().await = Some(m.clone());
        Ok(m)
    }

    /// Where to send the browser: the authorization request with `state`, the ID token
    /// `nonce` and the S256 PKCE `challenge`.
    pub(crate) async fn authorization_url(
        &self,
        state: &str,
        scope: &str,
        nonce: &str,
        challenge: &str,
    ) -> Result<String, String> {
        let m = self.metadata().await?;
        let mut url = url::Url::parse(&m.authorization_endpoint)
            .map_err(|e| format!("bad authorization_endpoint: {e}"))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("redirect_uri", &self.settings.callback_url)
                .append_pair("scope", scope)
                .append_pair("state", state)
                .append_pair("nonce", nonce)
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
            // Backstage's default prompt is `none`; `auto` sends none at all.
            match self.settings.prompt.as_deref().unwrap_or("none") {
                "auto" => {}
                p => {
                    q.append_pair("prompt", p);
                }
            }
        }
        Ok(url.to_string())
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenSet, String> {
        let m = self.metadata().await?;
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(&m.token_endpoint);
        if self.settings.token_endpoint_auth_method == "client_secret_post" {
            form.push(("client_id", &self.settings.client_id));
            form.push(("client_secret", &self.settings.client_secret));
        } else {
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            req = req.basic_auth(
                enc(&self.settings.client_id),
                Some(enc(&self.settings.client_secret)),
            );
        }
        json_of("token request", req.form(&form).send().await).await
    }

    /// Exchanges an authorization `code` with its PKCE `verifier`.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
    ) -> Result<TokenSet, String> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.settings.callback_url),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// New tokens for a refresh token.
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, String> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn fetch_keys(&self, uri: &str) -> Result<Vec<Jwk>, String> {
        let set: JwkSet = json_of("JWKS request", self.http.get(uri).send().await).await?;
        *self.keys.write().await = set.keys.clone();
        Ok(set.keys)
    }

    /// The claims of an ID token whose signature, issuer, audience and expiry hold, and whose
    /// `nonce` is `expected_nonce` when one is given.
    pub(crate) async fn verify_id_token(
        &self,
        id_token: &str,
        expected_nonce: Option<&str>,
    ) -> Result<Map<String, Value>, String> {
        let m = self.metadata().await?;
        let t = jwt::decode_unverified(id_token).map_err(|e| format!("ID token: {e}"))?;
        let cached = self.keys.read().await.clone();
        let verified = match t.verify(&cached) {
            Err(JwtError::UnknownKey) => {
                let fresh = self.fetch_keys(&m.jwks_uri).await?;
                t.verify(&fresh)
            }
            other => other,
        };
        verified.map_err(|e| format!("ID token: {e}"))?;
        let claims = t.claims.as_object().cloned().unwrap_or_default();
        if claims.get("iss").and_then(Value::as_str) != Some(m.issuer.as_str()) {
            return Err("ID token: unexpected issuer".into());
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.settings.client_id,
            Some(Value::Array(a)) => a
                .iter()
                .any(|v| v.as_str() == Some(&self.settings.client_id)),
            _ => false,
        };
        if !aud_ok {
            return Err("ID token: unexpected audience".into());
        }
        let now = unix_now();
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|exp| exp + SKEW_SECS < now)
        {
            return Err("ID token has expired".into());
        }
        if let Some(expected) = expected_nonce
            && claims.get("nonce").and_then(Value::as_str) != Some(expected)
        {
            return Err("ID token nonce does not match".into());
        }
        Ok(claims)
    }

    /// The userinfo endpoint's claims for `access_token`, or none when the provider has no
    /// such endpoint.
    pub(crate) async fn userinfo(&self, access_token: &str) -> Result<Map<String, Value>, String> {
        let m = self.metadata().await?;
        let Some(uri) = m.userinfo_endpoint else {
            return Ok(Map::new());
        };
        json_of(
            "userinfo request",
            self.http.get(uri).bearer_auth(access_token).send().await,
        )
        .await
    }
}
