//! Tokens for clusters whose auth provider runs on the browser side.

/// Gives the signed-in user's token at a client-side auth provider, for clusters that
/// authenticate with it (Backstage's `KubernetesAuthProviders`): `oidc` (with the
/// cluster's `oidcTokenProvider`, e.g. `okta`) or `google`. Install one with
/// [`HttpKubernetesApi::auth_tokens`](super::HttpKubernetesApi::auth_tokens); it is asked
/// while the page renders, so [`SignedInUser::current`](crate::frontend::SignedInUser::current)
/// is the user.
///
/// ```
/// use std::sync::Arc;
/// use backlot::plugins::kubernetes::react::{HttpKubernetesApi, KubernetesAuthTokens};
///
/// /// Every user gets the same Okta token (a test cluster).
/// #[derive(Debug)]
/// struct Fixed(String);
///
/// #[async_trait::async_trait]
/// impl KubernetesAuthTokens for Fixed {
///     async fn token(&self, auth_provider: &str, oidc_provider: Option<&str>) -> Option<String> {
///         (auth_provider == "oidc" && oidc_provider == Some("okta")).then(|| self.0.clone())
///     }
/// }
/// let api = HttpKubernetesApi::new("http://127.0.0.1:7007/api/kubernetes")
///     .auth_tokens(Arc::new(Fixed("id-token".into())));
/// # let _ = api;
/// ```
#[async_trait::async_trait]
pub trait KubernetesAuthTokens: Send + Sync + std::fmt::Debug {
    /// The token for `auth_provider` (`oidc`, `google`); for `oidc`, of the sign-in provider
    /// `oidc_provider`. `None` when the user has none; the cluster then answers with its
    /// own error in the response.
    async fn token(&self, auth_provider: &str, oidc_provider: Option<&str>) -> Option<String>;
}
