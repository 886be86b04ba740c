//! Secrets between the pages of a form: kept in the app's memory under a random draft id,
//! so that they are never written back into a page.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// How long the secrets of an unfinished form are kept.
pub(crate) const DRAFT_TTL: Duration = Duration::from_secs(30 * 60);
/// How many unfinished forms may hold secrets at once (the oldest go first).
pub(crate) const MAX_DRAFTS: usize = 10_000;

#[derive(Debug)]
struct Draft {
    user: String,
    secrets: Map<String, Value>,
    expires: Instant,
}

/// The secrets of unfinished forms, per draft id, bound to the person who entered them.
#[derive(Debug, Default)]
pub(crate) struct Drafts {
    map: Mutex<HashMap<String, Draft>>,
}

impl Drafts {
    /// Adds `secrets` to the draft `id` of `user` (a new draft when `id` is not theirs);
    /// the draft id to carry on.
    pub(crate) fn put(&self, id: Option<&str>, user: &str, secrets: Map<String, Value>) -> String {
        let now = Instant::now();
        let Ok(mut map) = self.map.lock() else {
            return String::new();
        };
        map.retain(|_, d| d.expires > now);
        let id = match id.filter(|id| map.get(*id).is_some_and(|d| d.user == user)) {
            Some(id) => id.to_string(),
            None => uuid::Uuid::new_v4().simple().to_string(),
        };
        if !map.contains_key(&id) && map.len() >= MAX_DRAFTS {
            let oldest = map
                .iter()
                .min_by_key(|(_, d)| d.expires)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        let draft = map.entry(id.clone()).or_insert_with(|| Draft {
            user: user.to_string(),
            secrets: Map::new(),
            expires: now + DRAFT_TTL,
        });
        draft.secrets.extend(secrets);
        draft.expires = now + DRAFT_TTL;
        id
    }

    /// The secrets of draft `id` if it is `user`'s and not expired.
    pub(crate) fn get(&self, id: &str, user: &str) -> Map<String, Value> {
        let Ok(map) = self.map.lock() else {
            return Map::new();
        };
        map.get(id)
            .filter(|d| d.user == user && d.expires > Instant::now())
            .map(|d| d.secrets.clone())
            .unwrap_or_default()
    }

    /// Forgets draft `id` (the task was created).
    pub(crate) fn remove(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_stay_with_their_owner() {
        let drafts = Drafts::default();
        let mut s = Map::new();
        s.insert("token".into(), json!("t"));
        let id = drafts.put(None, "user:default/jane", s);
        assert_eq!(drafts.get(&id, "user:default/jane")["token"], "t");
        assert!(drafts.get(&id, "user:default/joe").is_empty());
        let other = drafts.put(Some(&id), "user:default/joe", Map::new());
        assert_ne!(other, id);
        drafts.remove(&id);
        assert!(drafts.get(&id, "user:default/jane").is_empty());
    }
}
