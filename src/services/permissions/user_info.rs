//! The user behind credentials, read cheaply for in-process policy evaluation.
//!
//! `USER_INFO` decodes the token's claims on every call; the permission evaluator asks it once
//! per token and keeps the answer, keyed by the token's last segment (the signature, unique
//! per verified token) and checked against the whole token on a hit, so a catalog read with
//! permissions on costs a hash lookup rather than a JWT decode.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::PermissionError;
use crate::services::auth::{BackstageUserInfo, Credentials, UserInfoService};

const CACHE_CAPACITY: usize = 4096;

/// The whole token and its user info, by the token's last segment.
type Entries = HashMap<Box<str>, (Box<str>, Arc<BackstageUserInfo>)>;

/// Ownership refs by token.
#[derive(Debug, Default)]
pub(crate) struct UserInfoCache {
    entries: Mutex<Entries>,
}

impl UserInfoCache {
    /// The user info of user credentials; `None` for other principals.
    pub(crate) async fn user_info(
        &self,
        credentials: &Credentials,
        service: &dyn UserInfoService,
    ) -> Result<Option<Arc<BackstageUserInfo>>, PermissionError> {
        let Some(user) = credentials.user_entity_ref() else {
            return Ok(None);
        };
        let Some(token) = credentials.token() else {
            return Ok(Some(Arc::new(BackstageUserInfo {
                user_entity_ref: user.to_string(),
                ownership_entity_refs: vec![user.to_string()],
            })));
        };
        let key = token.rsplit('.').next().unwrap_or(token);
        if let Some((full, info)) = self.entries.lock().get(key) {
            if &**full == token && info.user_entity_ref == user {
                return Ok(Some(info.clone()));
            }
        }
        let info = Arc::new(
            service
                .user_info(credentials)
                .await
                .map_err(|e| PermissionError::Authentication(e.to_string()))?,
        );
        let mut entries = self.entries.lock();
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(key.into(), (token.into(), info.clone()));
        Ok(Some(info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::auth::AuthError;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl UserInfoService for Counting {
        async fn user_info(&self, c: &Credentials) -> Result<BackstageUserInfo, AuthError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(BackstageUserInfo {
                user_entity_ref: c.user_entity_ref().unwrap_or_default().to_string(),
                ownership_entity_refs: vec!["group:default/a".into()],
            })
        }
    }

    #[tokio::test]
    async fn asks_once_per_token() {
        let cache = UserInfoCache::default();
        let service = Counting::default();
        let a = Credentials::user("user:default/jane").with_token("h.p.sig-a");
        let b = Credentials::user("user:default/jane").with_token("h.q.sig-a");
        let first = cache.user_info(&a, &service).await.unwrap().unwrap();
        let again = cache.user_info(&a, &service).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(service.0.load(Ordering::SeqCst), 1);
        // Same last segment, another token: not taken from the cache.
        cache.user_info(&b, &service).await.unwrap().unwrap();
        assert_eq!(service.0.load(Ordering::SeqCst), 2);
        assert!(
            cache
                .user_info(&Credentials::service("plugin:x"), &service)
                .await
                .unwrap()
                .is_none()
        );
        let bare = cache
            .user_info(&Credentials::user("user:default/joe"), &service)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(bare.ownership_entity_refs, ["user:default/joe"]);
    }
}
