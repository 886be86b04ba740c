//! Search results filtered by what the reader may see, as Backstage's
//! `AuthorizedSearchEngine`.
//!
//! Each document type may name a visibility permission ([`DocumentCollator::visibility_permission`];
//! the catalog and TechDocs collators name `catalog.entity.read`). Per query:
//!
//! 1. One decision per permission of the requested types. Types whose decision is `DENY` are
//!    left out of the engine query; when every requested type is `ALLOW`ed (always so with
//!    permissions off), the engine answers alone: no per-result work, exact counts.
//! 2. With a conditional decision for some type, results are checked one by one against
//!    `authorization.resourceRef`, with one batched `authorize` call per engine page. Pages are
//!    over-fetched: the engine is read page after page from the start, keeping allowed
//!    results, until the requested page (and one more result) is filled, the engine runs out,
//!    or the latency budget (`search.permissions.queryLatencyBudgetMs`, default 1000 ms) is
//!    spent. Cursors count pages of *allowed* results, ranks are renumbered and
//!    `numberOfResults` is left out, so nothing reveals how many results were hidden.
//!
//! [`DocumentCollator::visibility_permission`]: crate::plugins::search::node::DocumentCollator::visibility_permission

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::plugins::search::common::{PageCursor, SearchQuery, SearchResult, SearchResultSet};
use crate::plugins::search::node::{SearchEngine, SearchError};
use crate::services::auth::Credentials;
use crate::services::permissions::{
    AuthorizePermissionRequest, AuthorizeResult, Permission, PermissionError, PermissionsService,
    PolicyDecision, QueryPermissionRequest,
};

/// The default of `search.permissions.queryLatencyBudgetMs`.
pub(crate) const DEFAULT_LATENCY_BUDGET: Duration = Duration::from_millis(1000);

/// A decision about one document type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeDecision {
    Allow,
    Deny,
    /// Per document, by its resource ref.
    PerDocument,
}

/// The engine behind the reader's permissions.
#[derive(Clone)]
pub(crate) struct AuthorizedSearch {
    pub(crate) engine: Arc<dyn SearchEngine>,
    pub(crate) permissions: Arc<dyn PermissionsService>,
    /// Document type → the permission a reader needs.
    pub(crate) visibility: Arc<HashMap<String, Permission>>,
    /// Every registered document type.
    pub(crate) types: Arc<[String]>,
    /// Engine page size while over-fetching.
    pub(crate) batch_size: usize,
    pub(crate) latency_budget: Duration,
}

fn permission_error(e: PermissionError) -> SearchError {
    SearchError::engine("permissions", "the permission check failed", e)
}

impl AuthorizedSearch {
    async fn decisions(
        &self,
        types: &[String],
        credentials: &Credentials,
    ) -> Result<HashMap<String, TypeDecision>, SearchError> {
        let mut by_permission: HashMap<&str, (&Permission, Vec<&String>)> = HashMap::new();
        let mut out = HashMap::new();
        for t in types {
            match self.visibility.get(t) {
                Some(p) => by_permission
                    .entry(p.name.as_str())
                    .or_insert_with(|| (p, Vec::new()))
                    .1
                    .push(t),
                None => {
                    out.insert(t.clone(), TypeDecision::Allow);
                }
            }
        }
        let (resource, basic): (Vec<_>, Vec<_>) = by_permission
            .into_values()
            .partition(|(p, _)| p.is_resource());
        if !resource.is_empty() {
            let requests: Vec<QueryPermissionRequest> = resource
                .iter()
                .map(|(p, _)| QueryPermissionRequest {
                    permission: Permission::clone(p),
                })
                .collect();
            let decisions = self
                .permissions
                .authorize_conditional(&requests, credentials)
                .await
                .map_err(permission_error)?;
            for ((_, types), d) in resource.iter().zip(decisions) {
                let d = match d {
                    PolicyDecision::Allow => TypeDecision::Allow,
                    PolicyDecision::Deny => TypeDecision::Deny,
                    PolicyDecision::Conditional { .. } => TypeDecision::PerDocument,
                };
                for t in types {
                    out.insert((*t).clone(), d);
                }
            }
        }
        if !basic.is_empty() {
            let requests: Vec<AuthorizePermissionRequest> = basic
                .iter()
                .map(|(p, _)| AuthorizePermissionRequest {
                    permission: Permission::clone(p),
                    resource_ref: None,
                })
                .collect();
            let decisions = self
                .permissions
                .authorize(&requests, credentials)
                .await
                .map_err(permission_error)?;
            for ((_, types), d) in basic.iter().zip(decisions) {
                let d = if d.result == AuthorizeResult::Allow {
                    TypeDecision::Allow
                } else {
                    TypeDecision::Deny
                };
                for t in types {
                    out.insert((*t).clone(), d);
                }
            }
        }
        Ok(out)
    }

    /// The page of `query` the reader may see.
    pub(crate) async fn query(
        &self,
        query: &SearchQuery,
        credentials: &Credentials,
    ) -> Result<SearchResultSet, SearchError> {
        let started = Instant::now();
        let requested: Vec<String> = if query.types.is_empty() {
            self.types.to_vec()
        } else {
            query.types.clone()
        };
        let decisions = self.decisions(&requested, credentials).await?;
        let allowed: Vec<String> = requested
            .iter()
            .filter(|t| decisions.get(*t) != Some(&TypeDecision::Deny))
            .cloned()
            .collect();
        if allowed.is_empty() && !requested.is_empty() {
            // Every requested type is denied.
            return Ok(SearchResultSet {
                number_of_results: Some(0),
                ..SearchResultSet::default()
            });
        }
        let denied_some = allowed.len() < requested.len();
        let per_document = allowed
            .iter()
            .any(|t| decisions.get(t) == Some(&TypeDecision::PerDocument));
        let mut engine_query = query.clone();
        if denied_some {
            engine_query.types = allowed;
        }
        if !per_document {
            return self.engine.query(&engine_query).await;
        }

        let page = match &query.page_cursor {
            None => 0,
            Some(c) => {
                PageCursor::decode(c)
                    .ok_or_else(|| SearchError::invalid_query("invalid page cursor"))?
                    .page
            }
        };
        let page_size = query.page_limit.unwrap_or(25).max(1);
        let target = page.saturating_add(1).saturating_mul(page_size);
        let mut kept: Vec<SearchResult> = Vec::new();
        engine_query.page_cursor = None;
        engine_query.page_limit = Some(self.batch_size.max(page_size));
        let mut engine_more;
        let mut out_of_time;
        loop {
            let set = self.engine.query(&engine_query).await?;
            kept.extend(self.filter(set.results, &decisions, credentials).await?);
            engine_more = set.next_page_cursor.is_some();
            engine_query.page_cursor = set.next_page_cursor;
            out_of_time = started.elapsed() > self.latency_budget;
            if !engine_more || kept.len() > target || out_of_time {
                break;
            }
        }
        let total_kept = kept.len();
        let start = page.saturating_mul(page_size).min(total_kept);
        let end = target.min(total_kept);
        let results = kept
            .drain(start..end)
            .enumerate()
            .map(|(i, mut r)| {
                r.rank = Some(start + i + 1);
                r
            })
            .collect();
        let more = (engine_more || total_kept > end) && !out_of_time;
        Ok(SearchResultSet {
            results,
            next_page_cursor: more.then(|| PageCursor { page: page + 1 }.encode()),
            previous_page_cursor: (page > 0).then(|| PageCursor { page: page - 1 }.encode()),
            number_of_results: None,
        })
    }

    /// The results the reader may see, in order: one `authorize` call for the page.
    async fn filter(
        &self,
        results: Vec<SearchResult>,
        decisions: &HashMap<String, TypeDecision>,
        credentials: &Credentials,
    ) -> Result<Vec<SearchResult>, SearchError> {
        let mut checks: Vec<(usize, AuthorizePermissionRequest)> = Vec::new();
        for (i, r) in results.iter().enumerate() {
            if decisions.get(&r.doc_type) != Some(&TypeDecision::PerDocument) {
                continue;
            }
            let (Some(permission), Some(auth)) =
                (self.visibility.get(&r.doc_type), &r.document.authorization)
            else {
                continue;
            };
            checks.push((
                i,
                AuthorizePermissionRequest {
                    permission: permission.clone(),
                    resource_ref: Some(auth.resource_ref.clone()),
                },
            ));
        }
        let mut keep = vec![true; results.len()];
        if !checks.is_empty() {
            let requests: Vec<AuthorizePermissionRequest> =
                checks.iter().map(|(_, r)| r.clone()).collect();
            let answers = self
                .permissions
                .authorize(&requests, credentials)
                .await
                .map_err(permission_error)?;
            for ((i, _), a) in checks.iter().zip(answers.iter().chain(std::iter::repeat(
                &crate::services::permissions::AuthorizeDecision {
                    result: AuthorizeResult::Deny,
                },
            ))) {
                keep[*i] = a.result == AuthorizeResult::Allow;
            }
        }
        Ok(results
            .into_iter()
            .zip(keep)
            .filter_map(|(r, k)| k.then_some(r))
            .collect())
    }
}
