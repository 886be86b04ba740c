//! The signed-in user of the page being rendered, and the task-local that carries it to every
//! plugin call of that render.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static CURRENT_USER: Arc<SignedInUser>;
}

/// The person a page is rendered for: their Backstage identity token, entity ref and display
/// name, resolved from the app's session cookie for each page request.
///
/// # Sign-in
///
/// Sign-in is on when the app has an [`AuthService`](crate::services::auth::AuthService) to
/// verify identity tokens with (the `app` backend plugin passes its own `AUTH` service; an app
/// served another way sets one with
/// [`AppBuilder::auth_service`](crate::frontend::AppBuilder::auth_service)) and at least one
/// sign-in provider is configured: `app.signInPage.providers` (ids, or `{id, title, message}`),
/// else every key of `auth.providers`, alphabetically with `guest` last. Then:
///
/// - Every page request reads the `backlot-session` cookie and verifies the identity token in
///   it with the auth service (the cookie is never trusted as is). Without a valid session the
///   page answers `303` to `/signin?next=<path>`; the cookie of a refused session is cleared.
///   An expired session of a redirect provider (OIDC) goes through the provider's landing page
///   first, which renews it silently from the provider's refresh cookie.
/// - A request carrying `Authorization: Bearer <user identity token>` itself (a script, a
///   test client) is rendered for that user without a session, also when sign-in is off;
///   browsers never send that header on their own, so other sites cannot forge it.
/// - `/signin` shows one button per provider. `guest` signs in with one form POST to
///   `/signin/guest`, no JavaScript: the app calls the auth backend's
///   `GET /api/auth/guest/refresh?env=<auth.environment>` itself. Other providers run
///   Backstage's redirect flow: `/api/auth/<id>/start?env=…&flow=redirect&redirectUrl=…` ends
///   on `/signin/complete?provider=<id>`, whose script reads `/api/auth/<id>/refresh` (the
///   refresh cookie is scoped to the auth plugin, so only the browser can) and posts the token
///   as JSON to `/signin/session`.
/// - The session cookie holds the identity token, the provider and the display name:
///   `HttpOnly; SameSite=Lax; Path=/`, `Secure` when `app.baseUrl` is https or a proxy sends
///   `X-Forwarded-Proto: https`, no `Max-Age` (the token expires on its own).
/// - The session-setting routes and `POST /signout` accept only requests from the app's own
///   pages (`Origin` equal to `app.baseUrl`'s or the `Host`, else `Sec-Fetch-Site`
///   `same-origin`); `/signin/session` only `application/json` bodies. `next` must be a path
///   of the app; anything else becomes `/`.
/// - The sidebar shows the display name (`profile.displayName`, else the entity ref) and a
///   sign-out button: `POST /signout` clears the cookie, calls the provider's
///   `POST /api/auth/<id>/logout`, and the sign-in page it lands on clears a redirect
///   provider's refresh cookie from the browser.
/// - Signing in also passes on the user cookie (`backstage-auth`, a limited token) of each
///   plugin in `app.signInPage.userCookiePlugins` (default `[techdocs]`), fetched from its
///   `/.backstage/auth/v1/cookie`, so files the browser loads straight from that plugin
///   (TechDocs images) are allowed; signing out removes it.
/// - Pages rendered for a user are sent with `Cache-Control: private, no-store`.
///   `/signin`, `/signin/*` and `/signout` are reserved paths.
///
/// # Plugin calls carry the user's token
///
/// While a page renders, the app runs it inside [`SignedInUser::scope`], so every plugin call
/// of that render — [`FetchApi`](crate::frontend::FetchApi) and the API clients built on it or
/// on the catalog client, such as
/// [`HttpCatalogApi`](crate::plugins::catalog::react::HttpCatalogApi) — reads
/// [`SignedInUser::current_token`] and sends `Authorization: Bearer <token>`. The API clients
/// are app singletons; the token is never stored in them, only in the render's task, so two
/// people's renders never share it. A page that spawns a task (`tokio::spawn`) must wrap the
/// task's future in [`SignedInUser::scope`] itself; futures awaited in the page's own task
/// (`join!`, `select!`) see the user.
///
/// ```
/// use std::sync::Arc;
/// use backlot::frontend::SignedInUser;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let jane = Arc::new(SignedInUser::new("user:default/jane", "eyJ...").with_display_name("Jane Doe"));
/// assert!(SignedInUser::current_token().is_none());
/// let seen = SignedInUser::scope(jane, async {
///     let user = SignedInUser::current().unwrap();
///     (user.display_name().to_string(), SignedInUser::current_token().unwrap().to_string())
/// })
/// .await;
/// assert_eq!(seen, ("Jane Doe".to_string(), "eyJ...".to_string()));
/// assert!(SignedInUser::current().is_none());
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SignedInUser {
    token: Arc<str>,
    user_entity_ref: String,
    display_name: Option<String>,
    provider: String,
}

impl fmt::Debug for SignedInUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedInUser")
            .field("user_entity_ref", &self.user_entity_ref)
            .field("display_name", &self.display_name)
            .field("provider", &self.provider)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl SignedInUser {
    /// A user with a verified Backstage identity token.
    pub fn new(user_entity_ref: impl Into<String>, token: impl Into<Arc<str>>) -> Self {
        Self {
            token: token.into(),
            user_entity_ref: user_entity_ref.into(),
            display_name: None,
            provider: String::new(),
        }
    }

    /// Sets the display name (`profile.displayName` of the sign-in answer).
    #[must_use]
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.display_name = (!name.trim().is_empty()).then_some(name);
        self
    }

    /// Sets the auth provider the user signed in with (`guest`, `oidc`, ...).
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = provider.into();
        self
    }

    /// The Backstage identity token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The user's entity ref, such as `user:default/jane`.
    pub fn user_entity_ref(&self) -> &str {
        &self.user_entity_ref
    }

    /// The name to show: the profile's display name, else the entity ref.
    pub fn display_name(&self) -> &str {
        self.display_name
            .as_deref()
            .unwrap_or(&self.user_entity_ref)
    }

    /// The auth provider the user signed in with (empty when unknown).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The user whose page is being rendered in this task, if any.
    pub fn current() -> Option<Arc<SignedInUser>> {
        CURRENT_USER.try_with(Arc::clone).ok()
    }

    /// The identity token of [`current`](Self::current), for `Authorization: Bearer`.
    pub fn current_token() -> Option<Arc<str>> {
        CURRENT_USER.try_with(|u| u.token.clone()).ok()
    }

    /// Runs `future` with `user` as the [`current`](Self::current) user.
    pub async fn scope<F: Future>(user: Arc<SignedInUser>, future: F) -> F::Output {
        CURRENT_USER.scope(user, future).await
    }
}
