//! The built-in sign-in resolvers, the catalog-backed resolver context, and the chain that
//! `signIn.resolvers` configures.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::tokens::TokenIssuer;
use crate::plugins::auth::node::{
    AuthResolverContext, AuthResolversExtension, CatalogUserQuery, SignInError, SignInInfo,
    SignInResolver, SignInResolverFactory, SignInResult,
};
use crate::plugins::catalog::common::{
    CatalogClientError, Entity, EntityFilter, EntityRef, QueryEntitiesRequest, RefDefaults,
};
use crate::plugins::catalog::node::CatalogApi;
use crate::services::auth::{AuthService, Credentials};

/// The message of a sign-in no resolver could resolve.
pub(crate) const USER_NOT_FOUND: &str = "Failed to sign-in, unable to resolve user identity. \
     Please verify that your catalog contains the expected User entities that would match your \
     configured sign-in resolver.";

/// Looks users up in the catalog as the auth plugin's own service principal and issues tokens.
#[derive(Debug)]
pub(crate) struct CatalogResolverContext {
    pub(crate) catalog: Arc<dyn CatalogApi>,
    pub(crate) auth: Arc<dyn AuthService>,
    pub(crate) issuer: Arc<TokenIssuer>,
}

fn catalog_error(e: CatalogClientError) -> SignInError {
    SignInError::Internal(format!("user lookup failed: {e}"))
}

impl CatalogResolverContext {
    fn credentials(&self) -> Credentials {
        self.auth.own_service_credentials()
    }
}

#[async_trait]
impl AuthResolverContext for CatalogResolverContext {
    async fn find_catalog_user(&self, query: &CatalogUserQuery) -> Result<Entity, SignInError> {
        let credentials = self.credentials();
        let mut found = match query {
            CatalogUserQuery::EntityRef(r) => {
                let entity_ref = EntityRef::parse(r, RefDefaults::kind("User"))
                    .map_err(|e| SignInError::Failed(format!("invalid user entity ref: {e}")))?;
                self.catalog
                    .entity_by_ref(&entity_ref, &credentials)
                    .await
                    .map_err(catalog_error)?
                    .into_iter()
                    .collect::<Vec<_>>()
            }
            CatalogUserQuery::Annotations(annotations) => {
                let mut filter = EntityFilter::new().with("kind", "user");
                for (k, v) in annotations {
                    filter = filter.with(format!("metadata.annotations.{k}"), v.clone());
                }
                self.query(filter, &credentials).await?
            }
            CatalogUserQuery::Filter(conditions) => {
                let mut filter = EntityFilter::new();
                if !conditions
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("kind"))
                {
                    filter = filter.with("kind", "user");
                }
                for (k, v) in conditions {
                    filter = filter.with(k.clone(), v.clone());
                }
                self.query(filter, &credentials).await?
            }
        };
        if found.len() > 1 {
            return Err(SignInError::Conflict(
                "User lookup resulted in multiple matches".into(),
            ));
        }
        found
            .pop()
            .ok_or_else(|| SignInError::NotFound("User not found".into()))
    }

    async fn issue_token(&self, sub: &str, ent: &[String]) -> Result<SignInResult, SignInError> {
        let issued = self
            .issuer
            .issue(sub, ent)
            .await
            .map_err(|e| SignInError::Internal(e.0))?;
        Ok(SignInResult {
            token: issued.token,
        })
    }
}

impl CatalogResolverContext {
    async fn query(
        &self,
        filter: EntityFilter,
        credentials: &Credentials,
    ) -> Result<Vec<Entity>, SignInError> {
        let request = QueryEntitiesRequest {
            filter: vec![filter],
            limit: Some(2),
            ..Default::default()
        };
        Ok(self
            .catalog
            .query_entities(&request, credentials)
            .await
            .map_err(catalog_error)?
            .items)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmailOptions {
    #[serde(default)]
    allowed_domains: Option<Vec<String>>,
    #[serde(default)]
    dangerously_allow_sign_in_without_user_in_catalog: bool,
    #[serde(default)]
    annotation: Option<String>,
}

fn options<T: for<'de> Deserialize<'de> + Default>(
    name: &str,
    value: &serde_json::Value,
) -> Result<T, SignInError> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value.clone())
        .map_err(|e| SignInError::Failed(format!("invalid options of resolver '{name}': {e}")))
}

fn email(info: &SignInInfo) -> Result<&str, SignInError> {
    info.profile
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            SignInError::Failed("Login failed, user profile does not contain an email".into())
        })
}

fn check_domain(email: &str, allowed: &Option<Vec<String>>) -> Result<(), SignInError> {
    let domain = email.split_once('@').map(|(_, d)| d).unwrap_or_default();
    match allowed {
        Some(list) if !list.iter().any(|d| d.eq_ignore_ascii_case(domain)) => Err(
            SignInError::NotAllowed("Sign-in user email is not from an allowed domain".into()),
        ),
        _ => Ok(()),
    }
}

/// The built-in resolvers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    EmailMatchingUserEntityProfileEmail,
    EmailLocalPartMatchingUserEntityName,
    EmailMatchingUserEntityAnnotation,
    UsernameMatchingUserEntityName,
}

const BUILTINS: &[(&str, Builtin)] = &[
    (
        "emailMatchingUserEntityProfileEmail",
        Builtin::EmailMatchingUserEntityProfileEmail,
    ),
    (
        "emailLocalPartMatchingUserEntityName",
        Builtin::EmailLocalPartMatchingUserEntityName,
    ),
    (
        "emailMatchingUserEntityAnnotation",
        Builtin::EmailMatchingUserEntityAnnotation,
    ),
    (
        "usernameMatchingUserEntityName",
        Builtin::UsernameMatchingUserEntityName,
    ),
];

#[derive(Debug)]
struct BuiltinFactory(Builtin);

#[derive(Debug)]
struct BuiltinResolver {
    kind: Builtin,
    options: EmailOptions,
}

impl SignInResolverFactory for BuiltinFactory {
    fn create(&self, value: &serde_json::Value) -> Result<Arc<dyn SignInResolver>, SignInError> {
        let name = BUILTINS
            .iter()
            .find(|(_, b)| *b == self.0)
            .map(|(n, _)| *n)
            .unwrap_or_default();
        Ok(Arc::new(BuiltinResolver {
            kind: self.0,
            options: options(name, value)?,
        }))
    }
}

/// Splits `joe+work@acme.com` into `joe@acme.com`, if it has plus addressing.
fn without_plus(email: &str) -> Option<String> {
    let (local, domain) = email.split_once('@')?;
    let (name, _) = local.split_once('+')?;
    Some(format!("{name}@{domain}"))
}

#[async_trait]
impl SignInResolver for BuiltinResolver {
    async fn resolve(
        &self,
        info: &SignInInfo,
        ctx: &dyn AuthResolverContext,
    ) -> Result<SignInResult, SignInError> {
        let dangerous = self
            .options
            .dangerously_allow_sign_in_without_user_in_catalog;
        match self.kind {
            Builtin::EmailMatchingUserEntityProfileEmail => {
                let email = email(info)?;
                check_domain(email, &self.options.allowed_domains)?;
                let query = CatalogUserQuery::filter("spec.profile.email", email);
                match ctx.sign_in_with_catalog_user(&query, None).await {
                    Err(SignInError::NotFound(m)) => match without_plus(email) {
                        Some(plain) => {
                            let query = CatalogUserQuery::filter("spec.profile.email", &plain);
                            let fallback = dangerous.then_some(plain.as_str());
                            ctx.sign_in_with_catalog_user(&query, fallback).await
                        }
                        None if dangerous => {
                            ctx.sign_in_with_catalog_user(&query, Some(email)).await
                        }
                        None => Err(SignInError::NotFound(m)),
                    },
                    other => other,
                }
            }
            Builtin::EmailLocalPartMatchingUserEntityName => {
                let email = email(info)?;
                check_domain(email, &self.options.allowed_domains)?;
                let local = email.split('@').next().unwrap_or_default();
                let query = CatalogUserQuery::entity_ref(local);
                ctx.sign_in_with_catalog_user(&query, dangerous.then_some(local))
                    .await
            }
            Builtin::EmailMatchingUserEntityAnnotation => {
                let email = email(info)?;
                check_domain(email, &self.options.allowed_domains)?;
                let annotation = match (&self.options.annotation, info.provider_id.as_str()) {
                    (Some(a), _) => a.clone(),
                    (None, "google") => "google.com/email".to_string(),
                    (None, "microsoft") => "microsoft.com/email".to_string(),
                    (None, other) => {
                        return Err(SignInError::Failed(format!(
                            "resolver 'emailMatchingUserEntityAnnotation' needs an 'annotation' \
                             option for provider '{other}'"
                        )));
                    }
                };
                let query = CatalogUserQuery::annotation(&annotation, email);
                let fallback = email.split('@').next();
                ctx.sign_in_with_catalog_user(&query, fallback.filter(|_| dangerous))
                    .await
            }
            Builtin::UsernameMatchingUserEntityName => {
                let username = info
                    .username
                    .as_deref()
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| {
                        SignInError::Failed(
                            "Login failed, user profile does not contain a username".into(),
                        )
                    })?;
                let query = CatalogUserQuery::entity_ref(username);
                ctx.sign_in_with_catalog_user(&query, dangerous.then_some(username))
                    .await
            }
        }
    }
}

/// Adds the built-in resolvers to `registry`.
pub(crate) fn add_builtins(registry: &AuthResolversExtension) {
    for (name, kind) in BUILTINS {
        registry.add(name, Arc::new(BuiltinFactory(*kind)));
    }
}

/// The resolvers of one `signIn.resolvers` list, tried in order: a resolver that finds no user
/// passes to the next; any other failure ends the sign-in.
#[derive(Debug, Clone)]
pub(crate) struct ResolverChain(pub(crate) Vec<Arc<dyn SignInResolver>>);

impl ResolverChain {
    /// Reads `resolvers` (the `signIn.resolvers` array) against `registry`.
    pub(crate) fn from_config(
        path: &str,
        resolvers: &[serde_json::Value],
        registry: &AuthResolversExtension,
    ) -> Result<Self, String> {
        let mut chain = Vec::new();
        for (i, entry) in resolvers.iter().enumerate() {
            let name = entry
                .get("resolver")
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("{path}[{i}].resolver is missing"))?;
            let factory = registry
                .get(name)
                .ok_or_else(|| format!("Sign-in resolver '{name}' is not available"))?;
            let mut options = entry.clone();
            if let Some(o) = options.as_object_mut() {
                o.remove("resolver");
            }
            chain.push(factory.create(&options).map_err(|e| e.to_string())?);
        }
        Ok(Self(chain))
    }

    /// Runs the chain.
    pub(crate) async fn resolve(
        &self,
        info: &SignInInfo,
        ctx: &dyn AuthResolverContext,
    ) -> Result<SignInResult, SignInError> {
        for resolver in &self.0 {
            match resolver.resolve(info, ctx).await {
                Err(SignInError::NotFound(_)) => continue,
                other => return other,
            }
        }
        Err(SignInError::Failed(USER_NOT_FOUND.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::auth::node::AuthProfile;
    use std::sync::Mutex;

    /// A context over a fixed list of users that records the tokens it is asked for.
    #[derive(Debug, Default)]
    struct Users {
        users: Vec<Entity>,
        issued: Mutex<Vec<(String, Vec<String>)>>,
    }

    #[async_trait]
    impl AuthResolverContext for Users {
        async fn find_catalog_user(&self, q: &CatalogUserQuery) -> Result<Entity, SignInError> {
            let hits: Vec<&Entity> = self
                .users
                .iter()
                .filter(|u| match q {
                    CatalogUserQuery::EntityRef(r) => {
                        EntityRef::parse(r, RefDefaults::kind("User")).is_ok_and(|r| r.matches(u))
                    }
                    CatalogUserQuery::Annotations(a) => {
                        a.iter().all(|(k, v)| u.metadata.annotation(k) == Some(v))
                    }
                    CatalogUserQuery::Filter(f) => f.iter().all(|(k, v)| {
                        k == "spec.profile.email"
                            && u.spec.as_ref().and_then(|s| s["profile"]["email"].as_str())
                                == Some(v)
                    }),
                })
                .collect();
            match hits.as_slice() {
                [] => Err(SignInError::NotFound("User not found".into())),
                [one] => Ok((*one).clone()),
                _ => Err(SignInError::Conflict("many".into())),
            }
        }
        async fn issue_token(
            &self,
            sub: &str,
            ent: &[String],
        ) -> Result<SignInResult, SignInError> {
            self.issued.lock().unwrap().push((sub.into(), ent.to_vec()));
            Ok(SignInResult { token: sub.into() })
        }
    }

    fn user(name: &str, email: &str) -> Entity {
        Entity::from_value(serde_json::json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "User",
            "metadata": { "name": name, "annotations": { "google.com/email": email } },
            "spec": { "profile": { "email": email }, "memberOf": ["team-a"] }
        }))
        .unwrap()
    }

    fn info(email: Option<&str>, username: Option<&str>) -> SignInInfo {
        SignInInfo {
            provider_id: "google".into(),
            profile: AuthProfile {
                email: email.map(String::from),
                ..Default::default()
            },
            username: username.map(String::from),
            claims: Default::default(),
        }
    }

    fn chain(config: serde_json::Value) -> Result<ResolverChain, String> {
        let registry = AuthResolversExtension::default();
        add_builtins(&registry);
        ResolverChain::from_config("signIn.resolvers", config.as_array().unwrap(), &registry)
    }

    #[tokio::test]
    async fn each_builtin_finds_its_user_and_owns_through_groups() {
        let ctx = Users {
            users: vec![user("jane", "jane@corp.example")],
            ..Default::default()
        };
        for (name, info) in [
            (
                "emailMatchingUserEntityProfileEmail",
                info(Some("jane+x@corp.example"), None),
            ),
            (
                "emailLocalPartMatchingUserEntityName",
                info(Some("jane@corp.example"), None),
            ),
            (
                "emailMatchingUserEntityAnnotation",
                info(Some("jane@corp.example"), None),
            ),
            ("usernameMatchingUserEntityName", info(None, Some("jane"))),
        ] {
            let c = chain(serde_json::json!([{ "resolver": name }])).unwrap();
            let r = c.resolve(&info, &ctx).await.unwrap();
            assert_eq!(r.token, "user:default/jane", "{name}");
        }
        let issued = ctx.issued.lock().unwrap();
        assert_eq!(issued[0].1, ["user:default/jane", "group:default/team-a"]);
    }

    #[tokio::test]
    async fn chain_falls_through_not_found_and_fails_clearly() {
        let ctx = Users {
            users: vec![user("jane", "jane@corp.example")],
            ..Default::default()
        };
        let c = chain(serde_json::json!([
            { "resolver": "emailLocalPartMatchingUserEntityName" },
            { "resolver": "emailMatchingUserEntityProfileEmail" }
        ]))
        .unwrap();
        let r = c
            .resolve(&info(Some("jane@corp.example"), None), &ctx)
            .await;
        assert_eq!(r.unwrap().token, "user:default/jane");
        let r = c.resolve(&info(Some("bob@corp.example"), None), &ctx).await;
        assert_eq!(r.unwrap_err(), SignInError::Failed(USER_NOT_FOUND.into()));
        let dangerous = chain(serde_json::json!([{
            "resolver": "emailLocalPartMatchingUserEntityName",
            "dangerouslyAllowSignInWithoutUserInCatalog": true
        }]))
        .unwrap();
        let r = dangerous
            .resolve(&info(Some("bob@corp.example"), None), &ctx)
            .await;
        assert_eq!(r.unwrap().token, "user:default/bob");
    }

    #[tokio::test]
    async fn domains_options_and_names_are_checked() {
        let ctx = Users::default();
        let c = chain(serde_json::json!([{
            "resolver": "emailLocalPartMatchingUserEntityName", "allowedDomains": ["corp.example"]
        }]))
        .unwrap();
        let r = c
            .resolve(&info(Some("jane@evil.example"), None), &ctx)
            .await;
        assert!(matches!(r, Err(SignInError::NotAllowed(_))));
        let r = c.resolve(&info(None, None), &ctx).await;
        assert!(matches!(r, Err(SignInError::Failed(_))));
        assert!(chain(serde_json::json!([{ "resolver": "nope" }])).is_err());
        assert!(chain(serde_json::json!([{ "resolver": "emailLocalPartMatchingUserEntityName", "allowedDomains": 3 }])).is_err());
    }
}
