//! What other backend code uses of the `auth` plugin (Backstage's `plugin-auth-node`): sign-in
//! resolvers, the context they run in, and the [`AUTH_RESOLVERS`] extension point through which
//! modules add resolvers that `auth.providers.<id>.<env>.signIn.resolvers` can name.
//!
//! A resolver turns what a provider learned about a person ([`SignInInfo`]) into a Backstage
//! identity token, usually by finding the person's `User` entity in the catalog:
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use backlot::backend::Feature;
//! use backlot::plugins::auth::node::{
//!     AUTH_RESOLVERS, AuthResolverContext, CatalogUserQuery, SignInError, SignInInfo,
//!     SignInResolver, SignInResolverFactory, SignInResult,
//! };
//!
//! /// Signs in `jane@corp.example` as the User entity whose
//! /// `corp.example/login` annotation is `jane`.
//! #[derive(Debug)]
//! struct LoginAnnotation;
//!
//! #[async_trait]
//! impl SignInResolver for LoginAnnotation {
//!     async fn resolve(
//!         &self,
//!         info: &SignInInfo,
//!         ctx: &dyn AuthResolverContext,
//!     ) -> Result<SignInResult, SignInError> {
//!         let email = info.profile.email.as_deref().ok_or_else(|| {
//!             SignInError::Failed("Login failed, user profile does not contain an email".into())
//!         })?;
//!         let login = email.split('@').next().unwrap_or_default();
//!         let query = CatalogUserQuery::annotation("corp.example/login", login);
//!         ctx.sign_in_with_catalog_user(&query, None).await
//!     }
//! }
//!
//! /// Makes the resolver; it takes no options.
//! #[derive(Debug)]
//! struct LoginAnnotationFactory;
//!
//! impl SignInResolverFactory for LoginAnnotationFactory {
//!     fn create(&self, _options: &serde_json::Value) -> Result<Arc<dyn SignInResolver>, SignInError> {
//!         Ok(Arc::new(LoginAnnotation))
//!     }
//! }
//!
//! // `signIn: { resolvers: [{ resolver: loginAnnotation }] }` now names it.
//! let module = Feature::module_fn("auth", "login-annotation-resolver", |reg| {
//!     reg.init(&AUTH_RESOLVERS, |resolvers| async move {
//!         resolvers.get()?.add("loginAnnotation", Arc::new(LoginAnnotationFactory));
//!         Ok(())
//!     })
//! });
//! # let _ = module;
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backend::ExtensionPoint;
use crate::backend::http::ApiError;
use crate::plugins::catalog::common::{Entity, EntityRef, RELATION_MEMBER_OF};

/// What a provider tells about the person signing in, as Backstage's `ProfileInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthProfile {
    /// The email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The name to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A picture URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
}

/// The input of a sign-in resolver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignInInfo {
    /// The provider id (`oidc`, `guest`, ...).
    pub provider_id: String,
    /// The profile the provider made.
    pub profile: AuthProfile,
    /// The provider's user name for the person (`preferred_username` for OpenID Connect).
    pub username: Option<String>,
    /// Everything the provider returned about the person (the ID token's and the userinfo
    /// endpoint's claims for OpenID Connect).
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// A signed-in identity: the Backstage token a resolver issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInResult {
    /// The Backstage identity token.
    pub token: String,
}

/// How to find a user in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogUserQuery {
    /// By entity ref; kind defaults to `User`, namespace to `default`.
    EntityRef(String),
    /// The one `User` entity with all these annotations.
    Annotations(BTreeMap<String, String>),
    /// The one `User` entity matching all these `key=value` filters.
    Filter(Vec<(String, String)>),
}

impl CatalogUserQuery {
    /// By entity ref (`jane`, `user:default/jane`).
    pub fn entity_ref(entity_ref: &str) -> Self {
        Self::EntityRef(entity_ref.to_string())
    }

    /// By one annotation.
    pub fn annotation(key: &str, value: &str) -> Self {
        Self::Annotations(BTreeMap::from([(key.to_string(), value.to_string())]))
    }

    /// By one filter, such as `spec.profile.email`.
    pub fn filter(key: &str, value: &str) -> Self {
        Self::Filter(vec![(key.to_string(), value.to_string())])
    }
}

/// Why a sign-in failed. [`SignInError::NotFound`] lets the next configured resolver try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// No matching user (`NotFoundError`).
    #[error("{0}")]
    NotFound(String),
    /// Several users match (`ConflictError`).
    #[error("{0}")]
    Conflict(String),
    /// The person may not sign in (`NotAllowedError`).
    #[error("{0}")]
    NotAllowed(String),
    /// The provider is not available here (`NotImplementedError`).
    #[error("{0}")]
    NotImplemented(String),
    /// Sign-in failed for another reason (`AuthenticationError`).
    #[error("{0}")]
    Failed(String),
    /// Something broke (500).
    #[error("{0}")]
    Internal(String),
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::NotFound(m) => ApiError::not_found(m),
            SignInError::Conflict(m) => ApiError::conflict(m),
            SignInError::NotAllowed(m) => ApiError::not_allowed(m),
            SignInError::NotImplemented(m) => ApiError::not_implemented(m),
            SignInError::Failed(m) => ApiError::authentication(m),
            SignInError::Internal(m) => ApiError::internal(m),
        }
    }
}

/// What a resolver may do: look users up in the catalog (as the `auth` plugin's own service
/// principal) and issue tokens, as Backstage's `AuthResolverContext`.
#[async_trait]
pub trait AuthResolverContext: Send + Sync + std::fmt::Debug {
    /// The one user `query` finds: [`SignInError::NotFound`] for none,
    /// [`SignInError::Conflict`] for several.
    async fn find_catalog_user(&self, query: &CatalogUserQuery) -> Result<Entity, SignInError>;

    /// Issues a token for `sub` with ownership refs `ent`.
    async fn issue_token(&self, sub: &str, ent: &[String]) -> Result<SignInResult, SignInError>;

    /// The ownership refs of a user entity: the user and the groups it is a member of.
    fn ownership_entity_refs(&self, entity: &Entity) -> Vec<String> {
        default_ownership_entity_refs(entity)
    }

    /// Finds the user and issues a token with its ownership refs. When no user matches and
    /// `fallback_name` is given (`dangerouslyAllowSignInWithoutUserInCatalog`), issues a token
    /// for `user:default/<fallback_name>` owning only itself.
    async fn sign_in_with_catalog_user(
        &self,
        query: &CatalogUserQuery,
        fallback_name: Option<&str>,
    ) -> Result<SignInResult, SignInError> {
        match self.find_catalog_user(query).await {
            Ok(entity) => {
                let ent = self.ownership_entity_refs(&entity);
                self.issue_token(&EntityRef::from_entity(&entity).to_string(), &ent)
                    .await
            }
            Err(SignInError::NotFound(_)) if fallback_name.is_some() => {
                let name = fallback_name.unwrap_or_default();
                let sub = EntityRef::new("User", "default", name).to_string();
                self.issue_token(&sub, std::slice::from_ref(&sub)).await
            }
            Err(e) => Err(e),
        }
    }
}

/// The user's own ref and the targets of its `memberOf` relations to groups (falling back to
/// `spec.memberOf` when the entity has no relations yet), as Backstage's
/// `DefaultAuthOwnershipResolver`.
///
/// ```
/// use backlot::plugins::auth::node::default_ownership_entity_refs;
/// use backlot::plugins::catalog::common::Entity;
///
/// let user = Entity::from_value(serde_json::json!({
///     "apiVersion": "backstage.io/v1alpha1", "kind": "User",
///     "metadata": { "name": "jane" },
///     "spec": { "memberOf": ["team-a"] },
///     "relations": [{ "type": "memberOf", "targetRef": "group:default/team-a" }]
/// })).unwrap();
/// assert_eq!(default_ownership_entity_refs(&user), ["user:default/jane", "group:default/team-a"]);
/// ```
pub fn default_ownership_entity_refs(entity: &Entity) -> Vec<String> {
    let mut refs = vec![EntityRef::from_entity(entity).to_string()];
    let mut push = |r: String| {
        if !refs.contains(&r) {
            refs.push(r);
        }
    };
    match &entity.relations {
        Some(relations) if !relations.is_empty() => {
            for r in relations {
                if r.relation_type == RELATION_MEMBER_OF && r.target_ref.starts_with("group:") {
                    push(r.target_ref.clone());
                }
            }
        }
        _ => {
            let namespace = entity.metadata.namespace();
            let groups = entity
                .spec
                .as_ref()
                .and_then(|s| s.get("memberOf"))
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default();
            for g in groups.iter().filter_map(|v| v.as_str()) {
                let defaults = crate::plugins::catalog::common::RefDefaults::kind("Group")
                    .with_namespace(namespace);
                if let Ok(r) = EntityRef::parse(g, defaults) {
                    push(r.to_string());
                }
            }
        }
    }
    refs
}

/// Turns sign-in info into an identity.
#[async_trait]
pub trait SignInResolver: Send + Sync + std::fmt::Debug {
    /// Resolves `info` to a token through `ctx`.
    async fn resolve(
        &self,
        info: &SignInInfo,
        ctx: &dyn AuthResolverContext,
    ) -> Result<SignInResult, SignInError>;
}

/// Makes a resolver from the options of one `signIn.resolvers[]` entry (the entry without its
/// `resolver` key).
pub trait SignInResolverFactory: Send + Sync + std::fmt::Debug {
    /// A resolver for `options` (a JSON object, possibly empty); bad options are
    /// [`SignInError::Failed`] with a message naming them.
    fn create(&self, options: &serde_json::Value) -> Result<Arc<dyn SignInResolver>, SignInError>;
}

/// The resolvers the `auth` plugin knows by name: the built-in ones and those modules add.
///
/// ```
/// use backlot::plugins::auth::node::AuthResolversExtension;
///
/// let resolvers = AuthResolversExtension::default();
/// assert!(resolvers.names().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct AuthResolversExtension {
    factories: Mutex<BTreeMap<String, Arc<dyn SignInResolverFactory>>>,
}

impl AuthResolversExtension {
    /// Adds (or replaces) the resolver called `name`.
    pub fn add(&self, name: &str, factory: Arc<dyn SignInResolverFactory>) {
        if let Ok(mut f) = self.factories.lock() {
            f.insert(name.to_string(), factory);
        }
    }

    /// The resolver called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn SignInResolverFactory>> {
        self.factories.lock().ok()?.get(name).cloned()
    }

    /// The names added so far.
    pub fn names(&self) -> Vec<String> {
        self.factories
            .lock()
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// Lets modules of the `auth` plugin add sign-in resolvers by name.
pub static AUTH_RESOLVERS: ExtensionPoint<AuthResolversExtension> =
    ExtensionPoint::new("auth.signInResolvers");
