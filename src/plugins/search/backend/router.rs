//! The HTTP handlers: `GET /query`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};

use super::params::{QueryLimits, parse_query};
use crate::backend::ApiError;
use crate::plugins::search::common::SearchResultSet;
use crate::plugins::search::node::SearchEngine;

#[derive(Clone)]
struct AppState {
    engine: Arc<dyn SearchEngine>,
    limits: QueryLimits,
}

/// The search router: `GET /query` answering Backstage's `SearchResultSet`.
pub(crate) fn build(engine: Arc<dyn SearchEngine>, limits: QueryLimits) -> Router {
    Router::new()
        .route("/query", get(query))
        .with_state(AppState { engine, limits })
}

async fn query(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchResultSet>, ApiError> {
    let query = parse_query(raw.as_deref().unwrap_or(""), state.limits)?;
    Ok(Json(state.engine.query(&query).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::search::backend::EmbeddedEngine;
    use crate::plugins::search::common::SearchDocument;
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
        let router = build(engine, LIMITS);
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
