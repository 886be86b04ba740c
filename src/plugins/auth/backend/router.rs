//! The auth plugin's routes, as Backstage's `plugin-auth-backend`.
//!
//! | route | what |
//! |---|---|
//! | `GET /{provider}/start` | begins a sign-in |
//! | `GET /{provider}/handler/frame` | the provider's callback; ends in the app |
//! | `GET, POST /{provider}/refresh` | a fresh identity from the refresh cookie |
//! | `POST /{provider}/logout` | clears the refresh cookie |
//! | `GET /.well-known/openid-configuration`, `GET /.well-known/jwks.json` | discovery and keys |
//! | `GET /v1/userinfo` | what was recorded for the caller's user token |

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::config::{AuthSettings, origin_of};
use super::flow::{OAuthState, web_message_response};
use super::providers::{GuestProvider, OidcEnv, Provider};
use super::resolvers::CatalogResolverContext;
use super::session::{CookieScope, SessionKeys, cookie, pkce_challenge, random_token};
use super::tokens::{TokenIssuer, unix_now};
use crate::backend::http::ApiError;
use crate::plugins::auth::node::{AuthProfile, SignInError, SignInInfo, SignInResult};
use crate::services::auth::{Credentials, bearer_token, jwt};

/// The refresh cookie lives this long without `sessionDuration`: 1000 days, as Backstage.
const DEFAULT_SESSION_SECS: u64 = 1000 * 24 * 3600;
/// The nonce cookie lives 10 minutes.
const NONCE_SECS: u64 = 600;

/// Everything the routes share.
#[derive(Debug)]
pub(crate) struct AuthState {
    pub(crate) settings: AuthSettings,
    pub(crate) auth_base_url: String,
    pub(crate) issuer: Arc<TokenIssuer>,
    pub(crate) context: Arc<CatalogResolverContext>,
    pub(crate) providers: std::collections::BTreeMap<String, Provider>,
    pub(crate) cookies: CookieScope,
    pub(crate) session: Option<Arc<SessionKeys>>,
}

type Shared = State<Arc<AuthState>>;
type Params = Query<HashMap<String, String>>;

pub(crate) fn router(state: Arc<AuthState>) -> Router {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/userinfo", get(userinfo))
        .route("/{provider}/start", get(start))
        .route("/{provider}/handler/frame", get(frame_handler))
        .route("/{provider}/refresh", get(refresh).post(refresh))
        .route("/{provider}/logout", axum::routing::post(logout))
        .with_state(state)
}

/// The paths Backstage leaves open to callers without a token.
pub(crate) const UNAUTHENTICATED_PATHS: &[&str] = &[
    "/{provider}/start",
    "/{provider}/handler/frame",
    "/{provider}/refresh",
    "/{provider}/logout",
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
];

/// The paths that also take the user cookie (a limited token), as Backstage's userinfo.
pub(crate) const USER_COOKIE_PATHS: &[&str] = &["/v1/userinfo"];

impl AuthState {
    fn provider(&self, id: &str) -> Result<&Provider, ApiError> {
        self.providers
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("Unknown auth provider '{id}'")))
    }

    fn oidc_env<'a>(
        &self,
        envs: &'a std::collections::BTreeMap<String, Arc<OidcEnv>>,
        env: Option<&str>,
    ) -> Result<&'a Arc<OidcEnv>, ApiError> {
        let env =
            env.ok_or_else(|| ApiError::input("Must specify 'env' query to select environment"))?;
        envs.get(env).ok_or_else(|| {
            ApiError::not_found(format!(
                "No configuration available for the '{env}' environment of this provider."
            ))
        })
    }

    fn session(&self) -> Result<&SessionKeys, ApiError> {
        self.session
            .as_deref()
            .ok_or_else(|| ApiError::internal("auth.session.secret is not configured"))
    }

    /// `url` if it is on the app's origin.
    fn app_url(&self, url: &str) -> Result<String, ApiError> {
        match origin_of(url) {
            Some(o) if o == self.settings.app_origin() => Ok(url.to_string()),
            _ => Err(ApiError::not_allowed(format!(
                "Redirect URL '{url}' is not on the app's origin"
            ))),
        }
    }

    fn check_origin(&self, origin: Option<&String>) -> Result<(), ApiError> {
        match origin {
            Some(o) if origin_of(o) != Some(self.settings.app_origin()) => Err(
                ApiError::not_allowed(format!("Origin '{o}' is not allowed")),
            ),
            _ => Ok(()),
        }
    }

    fn refresh_cookie_name(provider: &str) -> String {
        format!("{provider}-refresh-token")
    }

    /// Backstage's `BackstageIdentityResponse` for an issued token.
    fn identity_response(result: &SignInResult) -> Value {
        let claims = jwt::decode_unverified(&result.token)
            .map(|t| t.claims)
            .unwrap_or(Value::Null);
        let exp = claims["exp"].as_i64().map(|e| (e - unix_now()).max(0));
        json!({
            "token": result.token,
            "expiresInSeconds": exp,
            "identity": {
                "type": "user",
                "userEntityRef": claims["sub"],
                "ownershipEntityRefs": claims.get("ent").cloned().unwrap_or(json!([])),
            }
        })
    }

    async fn guest_sign_in(
        &self,
        guest: &GuestProvider,
    ) -> Result<(AuthProfile, SignInResult), ApiError> {
        if !guest.allowed {
            return Err(SignInError::NotImplemented(
                "The guest provider is NOT recommended for use outside of a development \
                 environment. If you want to enable this, set \
                 `auth.providers.guest.dangerouslyAllowOutsideDevelopment: true` in your app config."
                    .into(),
            )
            .into());
        }
        use crate::plugins::auth::node::{AuthResolverContext, CatalogUserQuery};
        let query = CatalogUserQuery::entity_ref(&guest.user_entity_ref);
        let result = match self.context.sign_in_with_catalog_user(&query, None).await {
            Ok(r) => r,
            // The guest need not be in the catalog: it then owns what config says.
            Err(_) => {
                let ent = guest
                    .ownership_entity_refs
                    .clone()
                    .unwrap_or_else(|| vec![guest.user_entity_ref.clone()]);
                self.context
                    .issue_token(&guest.user_entity_ref, &ent)
                    .await?
            }
        };
        let profile = AuthProfile {
            display_name: Some("Guest".into()),
            ..Default::default()
        };
        Ok((profile, result))
    }

    /// Signs in with fresh provider tokens: verifies the ID token, reads the profile and runs
    /// the resolvers.
    async fn oidc_sign_in(
        &self,
        provider: &str,
        env: &OidcEnv,
        tokens: &super::oidc::TokenSet,
        expected_nonce: Option<&str>,
    ) -> Result<(AuthProfile, Value, SignInResult), SignInError> {
        let mut claims = match (&tokens.id_token, expected_nonce) {
            (Some(id), nonce) => env
                .client
                .verify_id_token(id, nonce)
                .await
                .map_err(SignInError::Failed)?,
            (None, Some(_)) => {
                return Err(SignInError::Failed(
                    "the provider returned no ID token".into(),
                ));
            }
            (None, None) => serde_json::Map::new(),
        };
        let userinfo = env
            .client
            .userinfo(&tokens.access_token)
            .await
            .map_err(SignInError::Failed)?;
        if let (Some(a), Some(b)) = (claims.get("sub"), userinfo.get("sub"))
            && a != b
        {
            return Err(SignInError::Failed(
                "userinfo is for another subject".into(),
            ));
        }
        claims.extend(userinfo);
        let text = |k: &str| claims.get(k).and_then(Value::as_str).map(String::from);
        let profile = AuthProfile {
            email: text("email"),
            display_name: text("name"),
            picture: text("picture"),
        };
        let info = SignInInfo {
            provider_id: provider.to_string(),
            profile: profile.clone(),
            username: text("preferred_username"),
            claims: claims.clone(),
        };
        let result = env.resolvers.resolve(&info, self.context.as_ref()).await?;
        let provider_info = json!({
            "idToken": tokens.id_token,
            "accessToken": tokens.access_token,
            "scope": tokens.scope.clone().unwrap_or_default(),
            "expiresInSeconds": tokens.expires_in,
        });
        Ok((profile, provider_info, result))
    }

    fn refresh_cookie(
        &self,
        provider: &str,
        env: &str,
        oidc: &OidcEnv,
        refresh_token: &str,
    ) -> Result<String, ApiError> {
        let sealed = self
            .session()?
            .seal(
                &format!("refresh:{provider}:{env}"),
                refresh_token.as_bytes(),
            )
            .ok_or_else(|| ApiError::internal("cannot seal the refresh token"))?;
        Ok(self.cookies.set_cookie(
            provider,
            "",
            &Self::refresh_cookie_name(provider),
            &sealed,
            oidc.session_duration.unwrap_or(DEFAULT_SESSION_SECS),
        ))
    }
}

/// A `302 Found` to `location`, as Express's `res.redirect`.
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => ApiError::internal("invalid redirect location").into_response(),
    }
}

fn with_cookies(mut res: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

fn require_xhr(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
    {
        Some("XMLHttpRequest") => Ok(()),
        _ => Err(ApiError::authentication("Invalid X-Requested-With header")),
    }
}

async fn start(
    State(s): Shared,
    Path(provider): Path<String>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let envs = match s.provider(&provider)? {
        Provider::Guest(_) => return Ok(found("handler/frame")),
        Provider::Oidc(envs) => envs,
    };
    let env_name = q
        .get("env")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::input("No env provided in request query parameters"))?;
    let env = s.oidc_env(envs, Some(env_name))?;
    s.check_origin(q.get("origin"))?;
    let redirect_url = q.get("redirectUrl").map(|u| s.app_url(u)).transpose()?;
    let flow = q.get("flow").cloned();
    if flow.as_deref() == Some("redirect") && redirect_url.is_none() {
        return Err(ApiError::input(
            "No redirectUrl provided in request query parameters",
        ));
    }
    let session = s.session()?;
    let nonce = random_token(16);
    let state = OAuthState {
        nonce: nonce.clone(),
        env: env_name.clone(),
        origin: q.get("origin").cloned(),
        scope: q.get("scope").cloned(),
        redirect_url,
        flow,
    };
    let scope = q
        .get("scope")
        .cloned()
        .or_else(|| env.client.settings.scope.clone())
        .unwrap_or_else(|| "openid profile email".into());
    let verifier = session.derive("pkce", &nonce);
    let id_nonce = session.derive("id-token-nonce", &nonce);
    let url = env
        .client
        .authorization_url(
            &state.encode(),
            &scope,
            &id_nonce,
            &pkce_challenge(&verifier),
        )
        .await
        .map_err(ApiError::service_unavailable)?;
    let nonce_cookie = s.cookies.set_cookie(
        &provider,
        "/handler",
        &format!("{provider}-nonce"),
        &nonce,
        NONCE_SECS,
    );
    Ok(with_cookies(found(&url), &[nonce_cookie]))
}

async fn frame_handler(
    State(s): Shared,
    Path(provider): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let app_origin = s.settings.app_origin();
    let envs = match s.provider(&provider)? {
        Provider::Guest(g) => {
            let (profile, result) = s.guest_sign_in(g).await?;
            let response = json!({
                "profile": profile,
                "providerInfo": { "name": "Guest" },
                "backstageIdentity": AuthState::identity_response(&result),
            });
            return Ok(web_message_response(
                &app_origin,
                &json!({ "type": "authorization_response", "response": response }),
            ));
        }
        Provider::Oidc(envs) => envs,
    };
    let state = q.get("state").and_then(|st| OAuthState::decode(st));
    let clear_nonce =
        s.cookies
            .set_cookie(&provider, "/handler", &format!("{provider}-nonce"), "", 0);
    let outcome = oidc_callback(&s, &provider, envs, state.as_ref(), &q, &headers).await;
    let redirect_target = state
        .as_ref()
        .filter(|st| st.flow.as_deref() == Some("redirect"))
        .and_then(|st| st.redirect_url.as_deref())
        .and_then(|u| s.app_url(u).ok());
    match outcome {
        Ok((response, refresh_cookie)) => {
            let mut cookies = vec![clear_nonce];
            cookies.extend(refresh_cookie);
            let res = match redirect_target {
                Some(target) => found(&target),
                None => web_message_response(
                    &app_origin,
                    &json!({ "type": "authorization_response", "response": response }),
                ),
            };
            Ok(with_cookies(res, &cookies))
        }
        Err(e) => {
            let res = match redirect_target.and_then(|t| url::Url::parse(&t).ok()) {
                Some(mut target) => {
                    target.query_pairs_mut().append_pair("error", e.message());
                    found(target.as_str())
                }
                None => web_message_response(
                    &app_origin,
                    &json!({
                        "type": "authorization_response",
                        "error": { "name": e.kind().name(), "message": e.message() }
                    }),
                ),
            };
            Ok(with_cookies(res, &[clear_nonce]))
        }
    }
}

async fn oidc_callback(
    s: &AuthState,
    provider: &str,
    envs: &std::collections::BTreeMap<String, Arc<OidcEnv>>,
    state: Option<&OAuthState>,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(Value, Option<String>), ApiError> {
    let state = state.ok_or_else(|| ApiError::not_allowed("OAuth state is invalid"))?;
    s.check_origin(state.origin.as_ref())?;
    // The same nonce is passed through cookie and state, and they must match.
    let cookie_nonce = cookie(headers, &format!("{provider}-nonce"))
        .ok_or_else(|| ApiError::not_allowed("Auth response is missing cookie nonce"))?;
    if cookie_nonce != state.nonce {
        return Err(ApiError::not_allowed("Invalid nonce"));
    }
    if let Some(err) = q.get("error") {
        let desc = q
            .get("error_description")
            .map(String::as_str)
            .unwrap_or(err);
        return Err(ApiError::authentication(format!(
            "Authentication failed, {desc}"
        )));
    }
    let env = s.oidc_env(envs, Some(&state.env))?;
    let code = q
        .get("code")
        .ok_or_else(|| ApiError::input("Missing authorization code"))?;
    let session = s.session()?;
    let tokens = env
        .client
        .exchange_code(code, &session.derive("pkce", &state.nonce))
        .await
        .map_err(|m| ApiError::authentication(format!("Authentication failed, {m}")))?;
    let expected = session.derive("id-token-nonce", &state.nonce);
    let (profile, provider_info, result) = s
        .oidc_sign_in(provider, env, &tokens, Some(&expected))
        .await
        .map_err(ApiError::from)?;
    let refresh = tokens
        .refresh_token
        .as_deref()
        .map(|rt| s.refresh_cookie(provider, &state.env, env, rt))
        .transpose()?;
    let response = json!({
        "profile": profile,
        "providerInfo": provider_info,
        "backstageIdentity": AuthState::identity_response(&result),
    });
    Ok((response, refresh))
}

async fn refresh(
    State(s): Shared,
    Path(provider): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_xhr(&headers)?;
    let envs = match s.provider(&provider)? {
        Provider::Guest(g) => {
            let (profile, result) = s.guest_sign_in(g).await?;
            return Ok(Json(json!({
                "profile": profile,
                "providerInfo": {},
                "backstageIdentity": AuthState::identity_response(&result),
            }))
            .into_response());
        }
        Provider::Oidc(envs) => envs,
    };
    let env_name = q.get("env").map(String::as_str);
    let env = s.oidc_env(envs, env_name)?;
    let env_name = env_name.unwrap_or_default();
    let failed = |m: String| ApiError::authentication(format!("Refresh failed, {m}"));
    let sealed = cookie(&headers, &AuthState::refresh_cookie_name(&provider))
        .ok_or_else(|| failed("Missing session cookie".into()))?;
    let refresh_token = s
        .session()?
        .open(&format!("refresh:{provider}:{env_name}"), &sealed)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| failed("Invalid session cookie".into()))?;
    let tokens = env.client.refresh(&refresh_token).await.map_err(failed)?;
    let (profile, provider_info, result) = s
        .oidc_sign_in(&provider, env, &tokens, None)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let mut cookies = Vec::new();
    if let Some(new_rt) = tokens
        .refresh_token
        .as_deref()
        .filter(|rt| *rt != refresh_token)
    {
        cookies.push(s.refresh_cookie(&provider, env_name, env, new_rt)?);
    }
    let body = json!({
        "profile": profile,
        "providerInfo": provider_info,
        "backstageIdentity": AuthState::identity_response(&result),
    });
    Ok(with_cookies(Json(body).into_response(), &cookies))
}

async fn logout(
    State(s): Shared,
    Path(provider): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_xhr(&headers)?;
    match s.provider(&provider)? {
        Provider::Guest(_) => Ok(StatusCode::OK.into_response()),
        Provider::Oidc(_) => {
            let clear = s.cookies.set_cookie(
                &provider,
                "",
                &AuthState::refresh_cookie_name(&provider),
                "",
                0,
            );
            Ok(with_cookies(StatusCode::OK.into_response(), &[clear]))
        }
    }
}

async fn openid_configuration(State(s): Shared) -> Json<Value> {
    let base = &s.auth_base_url;
    Json(json!({
        "issuer": s.issuer.issuer(),
        "token_endpoint": format!("{base}/v1/token"),
        "userinfo_endpoint": format!("{base}/v1/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid"],
        "token_endpoint_auth_methods_supported": [],
        "claims_supported": ["sub", "ent"],
        "grant_types_supported": [],
    }))
}

async fn jwks(State(s): Shared) -> Result<Json<jwt::JwkSet>, ApiError> {
    s.issuer
        .public_keys()
        .await
        .map(Json)
        .map_err(|e| ApiError::internal(e.0))
}

/// `GET /v1/userinfo`: for a user token or a limited one (in the `Authorization` header, or
/// the user cookie the default-deny layer verified).
async fn userinfo(
    State(s): Shared,
    credentials: Option<Extension<Credentials>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let sub = match bearer_token(&headers) {
        Some(token) => {
            let claims = s.issuer.verify(token).await.map_err(|e| {
                ApiError::input(format!(
                    "Userinfo endpoint must be called with a token that represents a user \
                     principal ({e})"
                ))
            })?;
            claims["sub"].as_str().unwrap_or_default().to_string()
        }
        None => credentials
            .and_then(|Extension(c)| c.user_entity_ref().map(String::from))
            .ok_or_else(|| ApiError::authentication("No token provided"))?,
    };
    match s
        .issuer
        .user_info(&sub)
        .await
        .map_err(|e| ApiError::internal(e.0))?
    {
        Some(info) => Ok(Json(info)),
        None => Err(ApiError::not_found("User info not found")),
    }
}
