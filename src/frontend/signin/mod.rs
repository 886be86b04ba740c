//! Sign-in: the `/signin` page and its routes, the app's session cookie, and the user every
//! page renders for. The behaviour is documented on [`SignedInUser`].

mod pages;
mod session;
mod settings;
mod user;

pub use user::SignedInUser;

pub(crate) use settings::SignInSettings;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::serve::{AppState, html_response};
use crate::backend::http::ApiError;
use crate::services::auth::{AuthService, AuthenticateOptions, PrincipalKind};
use crate::services::discovery::DiscoveryService;
use pages::{SignInView, complete_page, complete_path, sign_in_page};
pub(crate) use session::same_origin;
use session::{SessionCookie, clear_cookie, forwarded_https, safe_next, set_cookie};
use settings::Flow;

pub(crate) use pages::user_box;

/// What sign-in needs at run time.
pub(crate) struct SignIn {
    pub(crate) settings: SignInSettings,
    pub(crate) auth: Arc<dyn AuthService>,
    pub(crate) discovery: Arc<dyn DiscoveryService>,
    pub(crate) http: reqwest::Client,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// Verifies an identity token: user credentials from a full (not limited) user token.
    async fn verify(
        &self,
        cookie: &SessionCookie,
    ) -> Result<SignedInUser, crate::services::auth::AuthError> {
        let creds = self
            .auth
            .authenticate(&cookie.token, AuthenticateOptions::default())
            .await?;
        match creds.user_entity_ref() {
            Some(user) if creds.kind() == PrincipalKind::User && !creds.is_limited() => {
                let mut signed_in = SignedInUser::new(user, cookie.token.as_str())
                    .with_provider(cookie.provider.clone());
                if let Some(name) = &cookie.display_name {
                    signed_in = signed_in.with_display_name(name.clone());
                }
                Ok(signed_in)
            }
            _ => Err(crate::services::auth::AuthError::Authentication(
                "not a user identity token".to_string(),
            )),
        }
    }

    fn auth_url(&self) -> String {
        self.discovery
            .external_base_url("auth")
            .trim_end_matches('/')
            .to_string()
    }

    fn auth_internal_url(&self) -> String {
        self.discovery
            .base_url("auth")
            .trim_end_matches('/')
            .to_string()
    }

    fn app_url(&self, headers: &HeaderMap) -> String {
        if let Some(base) = &self.settings.app_base_url {
            return base.clone();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let scheme = if forwarded_https(headers) {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}")
    }

    /// The user cookies of `app.signInPage.userCookiePlugins` (`GET`) or their removal
    /// (`DELETE`), from each plugin's `/.backstage/auth/v1/cookie`, to pass on to the browser.
    /// A plugin that is not there or refuses is skipped: its pages still work, only files the
    /// browser loads from it directly do not.
    async fn plugin_cookies(&self, token: &str, method: reqwest::Method) -> Vec<HeaderValue> {
        let mut out = Vec::new();
        for plugin in &self.settings.cookie_plugins {
            let url = format!(
                "{}/.backstage/auth/v1/cookie",
                self.discovery.base_url(plugin).trim_end_matches('/')
            );
            match self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token)
                .send()
                .await
            {
                Ok(res) if res.status().is_success() => {
                    out.extend(res.headers().get_all(header::SET_COOKIE).iter().cloned());
                }
                Ok(res) => {
                    tracing::debug!(plugin = %plugin, status = %res.status(), "no user cookie");
                }
                Err(e) => tracing::debug!(plugin = %plugin, error = %e, "no user cookie"),
            }
        }
        out
    }

    fn secure(&self, headers: &HeaderMap) -> bool {
        self.settings.secure(forwarded_https(headers))
    }
}

/// The session of a page request: the signed-in user, or the redirect to sign in.
pub(crate) async fn resolve(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Option<Arc<SignedInUser>>, Response> {
    // A client that sends a user's identity token itself (a script, a test) needs no
    // session; browsers never send this header on their own, so it cannot be forged across
    // sites. The token is verified like a session's.
    if let (Some(auth), Some(token)) = (&state.auth, crate::services::auth::bearer_token(headers)) {
        let creds = auth
            .authenticate(token, AuthenticateOptions::default())
            .await;
        if let Ok(creds) = creds
            && creds.kind() == PrincipalKind::User
            && !creds.is_limited()
            && let Some(user) = creds.user_entity_ref()
        {
            return Ok(Some(Arc::new(SignedInUser::new(user, token))));
        }
    }
    let Some(signin) = &state.signin else {
        return Ok(None);
    };
    let here = match uri.query() {
        Some(q) => format!("{}?{q}", uri.path()),
        None => uri.path().to_string(),
    };
    let next = safe_next(Some(&here));
    let Some(cookie) = SessionCookie::from_headers(headers) else {
        let mut res = Redirect::to(&signin_path(&next)).into_response();
        if session::cookie_value(headers, session::SESSION_COOKIE).is_some() {
            // Not a session this app wrote: drop it.
            res.headers_mut()
                .insert(header::SET_COOKIE, clear_cookie(signin.secure(headers)));
        }
        return Err(res);
    };
    match signin.verify(&cookie).await {
        Ok(user) => Ok(Some(Arc::new(user))),
        Err(e) => {
            tracing::debug!(error = %e, "session refused");
            let to = match signin.settings.provider(&cookie.provider) {
                Some(p) if p.flow != Flow::Server => complete_path(&p.id, &next),
                _ => signin_path(&next),
            };
            let mut res = Redirect::to(&to).into_response();
            res.headers_mut()
                .insert(header::SET_COOKIE, clear_cookie(signin.secure(headers)));
            Err(res)
        }
    }
}

fn signin_path(next: &str) -> String {
    if next == "/" {
        "/signin".to_string()
    } else {
        format!(
            "/signin?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        )
    }
}

/// The routes of sign-in, to merge into the app's router.
pub(crate) fn router() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/signin", get(signin_page))
        .route("/signin/complete", get(complete))
        .route("/signin/session", post(set_session))
        .route("/signin/{provider}", post(server_signin))
        .route("/signout", post(signout))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    next: Option<String>,
    error: Option<String>,
    #[serde(rename = "signedOut")]
    signed_out: Option<String>,
}

fn not_configured(state: &AppState) -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        state.bare_document(
            "Sign in",
            maud::html! {
                (crate::frontend::ui::header("Sign in", None))
                (crate::frontend::ui::error_state("Sign-in is not configured", "This app has no sign-in providers."))
            },
        ),
    )
}

fn render_signin(
    state: &AppState,
    signin: &SignIn,
    headers: &HeaderMap,
    next: &str,
    error: Option<&str>,
    signed_out: Option<&str>,
    status: StatusCode,
) -> Response {
    let auth_url = signin.auth_url();
    let app_url = signin.app_url(headers);
    let signed_out = signed_out.filter(|p| {
        signin
            .settings
            .provider(p)
            .is_some_and(|p| p.flow != Flow::Server)
    });
    let body = sign_in_page(&SignInView {
        settings: &signin.settings,
        auth_url: &auth_url,
        app_url: &app_url,
        next,
        error,
        signed_out,
    });
    let mut res = html_response(status, state.bare_document("Sign in", body));
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

async fn signin_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let Some(signin) = &state.signin else {
        return not_configured(&state);
    };
    let next = safe_next(q.next.as_deref());
    let error = q.error.as_deref().map(|e| match e {
        "expired" => "Your session has expired. Sign in again.",
        _ => "Sign-in did not complete. Try again.",
    });
    render_signin(
        &state,
        signin,
        &headers,
        &next,
        error,
        q.signed_out.as_deref(),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize)]
struct CompleteQuery {
    provider: Option<String>,
    next: Option<String>,
}

async fn complete(State(state): State<Arc<AppState>>, Query(q): Query<CompleteQuery>) -> Response {
    let Some(signin) = &state.signin else {
        return not_configured(&state);
    };
    let next = safe_next(q.next.as_deref());
    let Some(provider) = q
        .provider
        .as_deref()
        .and_then(|p| signin.settings.provider(p))
        .filter(|p| p.flow != Flow::Server)
    else {
        return Redirect::to(&signin_path(&next)).into_response();
    };
    let refresh = format!(
        "{}/{}/refresh?env={}",
        signin.auth_url(),
        provider.id,
        url::form_urlencoded::byte_serialize(signin.settings.environment.as_bytes())
            .collect::<String>()
    );
    let retry = format!("{}&error=failed", signin_path_with_query(&next));
    let body = complete_page(&refresh, &provider.id, &next, &retry);
    let mut res = html_response(StatusCode::OK, state.bare_document("Signing in", body));
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

fn signin_path_with_query(next: &str) -> String {
    format!(
        "/signin?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    )
}

#[derive(Debug, Deserialize)]
struct NextForm {
    next: Option<String>,
}

/// The sign-in answer of the auth backend (`/{provider}/refresh`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshAnswer {
    #[serde(default)]
    profile: Profile,
    backstage_identity: Identity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Identity {
    token: String,
}

/// `POST /signin/{provider}` for a server-flow provider (`guest`): the app calls the auth
/// backend's refresh itself and sets the session.
async fn server_signin(
    State(state): State<Arc<AppState>>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    Form(form): Form<NextForm>,
) -> Response {
    // A map, not `Path<String>`: a router the app is nested in adds params of its own.
    let provider = params.get("provider").cloned().unwrap_or_default();
    let Some(signin) = &state.signin else {
        return not_configured(&state);
    };
    let next = safe_next(form.next.as_deref());
    if !same_origin(&headers, signin.settings.app_base_url.as_deref()) {
        return render_signin(
            &state,
            signin,
            &headers,
            &next,
            Some("Sign-in must start on this site's sign-in page."),
            None,
            StatusCode::FORBIDDEN,
        );
    }
    let Some(p) = signin
        .settings
        .provider(&provider)
        .filter(|p| p.flow == Flow::Server)
    else {
        return render_signin(
            &state,
            signin,
            &headers,
            &next,
            Some("That sign-in provider is not available."),
            None,
            StatusCode::NOT_FOUND,
        );
    };
    let url = format!(
        "{}/{}/refresh?env={}",
        signin.auth_internal_url(),
        p.id,
        url::form_urlencoded::byte_serialize(signin.settings.environment.as_bytes())
            .collect::<String>()
    );
    let answer = async {
        let res = signin
            .http
            .get(&url)
            .header("X-Requested-With", "XMLHttpRequest")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!(
                "{status}: {}",
                crate::frontend::BackendError::from_body(&body).message
            ));
        }
        serde_json::from_slice::<RefreshAnswer>(&body).map_err(|e| e.to_string())
    }
    .await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(provider = %p.id, error = %e, "sign-in failed at the auth backend");
            return render_signin(
                &state,
                signin,
                &headers,
                &next,
                Some("Sign-in failed: the auth backend refused it."),
                None,
                StatusCode::BAD_GATEWAY,
            );
        }
    };
    let cookie = SessionCookie::new(
        answer.backstage_identity.token,
        p.id.clone(),
        answer.profile.display_name,
    );
    if let Err(e) = signin.verify(&cookie).await {
        tracing::warn!(provider = %p.id, error = %e, "the auth backend's token did not verify");
        return render_signin(
            &state,
            signin,
            &headers,
            &next,
            Some("Sign-in failed: the identity token did not verify."),
            None,
            StatusCode::BAD_GATEWAY,
        );
    }
    let extra = signin
        .plugin_cookies(&cookie.token, reqwest::Method::GET)
        .await;
    session_response(
        Redirect::to(&next).into_response(),
        &cookie,
        extra,
        signin.secure(&headers),
    )
}

fn session_response(
    mut res: Response,
    cookie: &SessionCookie,
    plugin_cookies: Vec<HeaderValue>,
    secure: bool,
) -> Response {
    match set_cookie(cookie, secure) {
        Some(v) => {
            res.headers_mut().insert(header::SET_COOKIE, v);
            for c in plugin_cookies {
                res.headers_mut().append(header::SET_COOKIE, c);
            }
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            res
        }
        None => ApiError::internal("the session cookie could not be written").into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody {
    provider: String,
    token: String,
    display_name: Option<String>,
}

/// `POST /signin/session` (JSON): the landing page hands over a token from a redirect
/// provider; it is verified before it becomes the session.
async fn set_session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(signin) = &state.signin else {
        return ApiError::not_found("sign-in is not configured").into_response();
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return ApiError::unsupported_media_type("the body must be application/json")
            .into_response();
    }
    if !same_origin(&headers, signin.settings.app_base_url.as_deref()) {
        return ApiError::not_allowed("cross-site sign-in is not allowed").into_response();
    }
    let body: SessionBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) => {
            return ApiError::input("expected {provider, token, displayName?}").into_response();
        }
    };
    if signin
        .settings
        .provider(&body.provider)
        .is_none_or(|p| p.flow == Flow::Server)
    {
        return ApiError::input("unknown sign-in provider").into_response();
    }
    let cookie = SessionCookie::new(body.token, body.provider, body.display_name);
    match signin.verify(&cookie).await {
        Ok(user) => {
            let extra = signin
                .plugin_cookies(&cookie.token, reqwest::Method::GET)
                .await;
            session_response(
                Json(serde_json::json!({ "userEntityRef": user.user_entity_ref() }))
                    .into_response(),
                &cookie,
                extra,
                signin.secure(&headers),
            )
        }
        Err(_) => ApiError::authentication("the identity token is not valid").into_response(),
    }
}

/// `POST /signout`: clears the session, tells the provider, and shows the sign-in page (which
/// clears a redirect provider's refresh cookie from the browser).
async fn signout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(signin) = &state.signin else {
        return Redirect::to("/").into_response();
    };
    if !same_origin(&headers, signin.settings.app_base_url.as_deref()) {
        return render_signin(
            &state,
            signin,
            &headers,
            "/",
            Some("Sign-out must start on this site."),
            None,
            StatusCode::FORBIDDEN,
        );
    }
    let cookie = SessionCookie::from_headers(&headers);
    let mut to = "/signin".to_string();
    let mut extra = Vec::new();
    if let Some(cookie) = &cookie
        && let Some(p) = signin.settings.provider(&cookie.provider)
    {
        let url = format!("{}/{}/logout", signin.auth_internal_url(), p.id);
        let sent = signin
            .http
            .post(&url)
            .header("X-Requested-With", "XMLHttpRequest")
            .bearer_auth(&cookie.token)
            .send()
            .await;
        if let Err(e) = sent {
            tracing::debug!(provider = %p.id, error = %e, "provider logout failed");
        }
        extra = signin
            .plugin_cookies(&cookie.token, reqwest::Method::DELETE)
            .await;
        to = format!(
            "/signin?signedOut={}",
            url::form_urlencoded::byte_serialize(p.id.as_bytes()).collect::<String>()
        );
    }
    let mut res = Redirect::to(&to).into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(signin.secure(&headers)));
    for c in extra {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}
