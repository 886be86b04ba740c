//! The auth plugin: Backstage's sign-in. [`node`] holds what other backend code uses (sign-in
//! resolvers and the [`AUTH_RESOLVERS`](node::AUTH_RESOLVERS) extension point), [`backend`] the
//! plugin itself (`/api/auth`: providers, identity tokens, keys). See `docs/auth.md`.

pub mod backend;
pub mod node;

/// Compiles the examples of the guide `docs/auth.md` as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/auth.md")]
pub struct AuthGuide;
