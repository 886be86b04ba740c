//! The HTTP handlers: `GET /query`.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Extension, Json, Router};

use super::authorized::AuthorizedSearch;
use super::params::{QueryLimits, parse_query};
use crate::backend::ApiError;
use crate::plugins::search::common::SearchResultSet;
use crate::services::auth::Credentials;

#[derive(Clone)]
struct AppState {
    search: AuthorizedSearch,
    limits: QueryLimits,
}

/// The search router: `GET /query` answering Backstage's `SearchResultSet`, with the results
/// the caller may see.
pub(crate) fn build(search: AuthorizedSearch, limits: QueryLimits) -> Router {
    Router::new()
        .route("/query", get(query))
        .with_state(AppState { search, limits })
}

async fn query(
    State(state): State<AppState>,
    credentials: Option<Extension<Credentials>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchResultSet>, ApiError> {
    let query = parse_query(raw.as_deref().unwrap_or(""), state.limits)?;
    let credentials = credentials.map_or_else(Credentials::none, |Extension(c)| c);
    Ok(Json(state.search.query(&query, &credentials).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::search::backend::EmbeddedEngine;
    use crate::services::permissions::{
        AuthorizeDecision, AuthorizePermissionRequest, AuthorizeResult, PermissionError,
        PermissionsService, PolicyDecision, QueryPermissionRequest,
    };
    use std::sync::Arc;

    /// Permissions off: everything allowed.
    #[derive(Debug)]
    struct AllowAll;

    #[async_trait::async_trait]
    impl PermissionsService for AllowAll {
        async fn authorize(
            &self,
            requests: &[AuthorizePermissionRequest],
            _: &Credentials,
        ) -> Result<Vec<AuthorizeDecision>, PermissionError> {
            Ok(requests
                .iter()
                .map(|_| AuthorizeDecision {
                    result: AuthorizeResult::Allow,
                })
                .collect())
        }

        async fn authorize_conditional(
            &self,
            requests: &[QueryPermissionRequest],
            _: &Credentials,
        ) -> Result<Vec<PolicyDecision>, PermissionError> {
            Ok(requests.iter().map(|_| PolicyDecision::Allow).collect())
        }
    }
    use crate::plugins::search::common::SearchDocument;
    use crate::plugins::search::node::SearchEngine;
    use axum::body::Body;
    use http::Request;
    use tower::ServiceExt;

    const LIMITS: QueryLimits = QueryLimits {
        default_page_limit: 25,
        max_page_limit: 100,
        max_term_length: 100,
    };

    async fn call(router: Router, uri: &str) -> (u16, serde_json::Value) {
        let res = router
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn answers_result_sets_and_input_errors() {
        let engine = Arc::new(EmbeddedEngine::in_memory().unwrap());
        engine
            .index(
                "software-catalog",
                vec![
                    SearchDocument::new("petstore", "pets", "/catalog/default/component/petstore")
                        .with_field("kind", "Component"),
                ],
            )
            .await
            .unwrap();
        let search = AuthorizedSearch {
            engine,
            permissions: Arc::new(AllowAll),
            visibility: Arc::default(),
            types: Arc::from(Vec::new()),
            batch_size: 100,
            latency_budget: super::super::authorized::DEFAULT_LATENCY_BUDGET,
        };
        let router = build(search, LIMITS);
        let (status, body) = call(
            router.clone(),
            "/query?term=pet&filters%5Bkind%5D=Component",
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["results"][0]["type"], "software-catalog");
        assert_eq!(
            body["results"][0]["document"]["location"],
            "/catalog/default/component/petstore"
        );
        assert_eq!(body["results"][0]["rank"], 1);
        assert_eq!(body["numberOfResults"], 1);
        assert!(body.get("nextPageCursor").is_none());
        let (status, body) = call(router, "/query?pageLimit=1000").await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["name"], "InputError");
        assert_eq!(body["response"]["statusCode"], 400);
    }
}
