//! Server-side render time of the catalog index page for a catalog of 10,000 entities, from a
//! prepared by-query page and facets (the catalog query itself is not measured), and the bytes
//! a browser downloads for it: the page, the stylesheet and the script.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use backlot::frontend::{ApiBlueprint, ApiFactory, App};
use backlot::plugins::catalog::common::{Entity, EntityRef};
use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
use backlot::plugins::catalog::react::{
    CATALOG_API, CatalogApi, CatalogApiError, EntityFilter, FacetValue, PageInfo,
    QueryEntitiesRequest, QueryEntitiesResponse,
};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use serde_json::json;
use tower::ServiceExt;

const TOTAL: usize = 10_000;

/// A catalog API answering from prepared data.
#[derive(Debug)]
struct Prepared {
    page: QueryEntitiesResponse,
    facets: BTreeMap<String, Vec<FacetValue>>,
}

#[async_trait::async_trait]
impl CatalogApi for Prepared {
    async fn query_entities(
        &self,
        _: &QueryEntitiesRequest,
    ) -> Result<QueryEntitiesResponse, CatalogApiError> {
        Ok(self.page.clone())
    }
    async fn get_entity_by_ref(&self, _: &EntityRef) -> Result<Option<Entity>, CatalogApiError> {
        Ok(None)
    }
    async fn get_entities_by_refs(
        &self,
        refs: &[String],
    ) -> Result<Vec<Option<Entity>>, CatalogApiError> {
        Ok(refs.iter().map(|_| None).collect())
    }
    async fn get_entity_facets(
        &self,
        facets: &[String],
        _: &[EntityFilter],
    ) -> Result<BTreeMap<String, Vec<FacetValue>>, CatalogApiError> {
        Ok(facets
            .iter()
            .filter_map(|f| self.facets.get(f).map(|v| (f.clone(), v.clone())))
            .collect())
    }
}

fn component(i: usize) -> Entity {
    let team = format!("team-{}", i % 120);
    let system = format!("system-{}", i % 300);
    serde_json::from_value(json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": format!("component-{i:05}"),
            "namespace": "default",
            "description": format!("Service {i} of the <fleet>: ingests events, keeps state and answers queries from the portal."),
            "tags": ["rust", format!("tag-{}", i % 60)],
            "uid": format!("00000000-0000-0000-0000-{i:012}"),
            "etag": "abc",
        },
        "spec": { "type": "service", "lifecycle": "production", "owner": team, "system": system },
        "relations": [
            { "type": "ownedBy", "targetRef": format!("group:default/{team}") },
            { "type": "partOf", "targetRef": format!("system:default/{system}") },
        ],
    }))
    .unwrap_or_else(|e| panic!("bench entity: {e}"))
}

fn facet(values: impl IntoIterator<Item = (String, usize)>) -> Vec<FacetValue> {
    values
        .into_iter()
        .map(|(value, count)| FacetValue { value, count })
        .collect()
}

fn prepared() -> Prepared {
    let mut facets = BTreeMap::new();
    let kinds = [
        ("Component", 6000),
        ("API", 1500),
        ("Resource", 800),
        ("User", 900),
        ("Group", 150),
        ("System", 300),
        ("Domain", 20),
        ("Location", 320),
        ("Template", 10),
    ];
    facets.insert(
        "kind".to_string(),
        facet(kinds.iter().map(|(k, c)| (k.to_string(), *c))),
    );
    facets.insert(
        "spec.type".to_string(),
        facet(
            ["service", "website", "library", "mobile-app", "job", "tool"]
                .iter()
                .enumerate()
                .map(|(i, t)| (t.to_string(), 3000 / (i + 1))),
        ),
    );
    facets.insert(
        "relations.ownedBy".to_string(),
        facet((0..120).map(|i| (format!("group:default/team-{i}"), 50))),
    );
    facets.insert(
        "spec.lifecycle".to_string(),
        facet([
            ("production".to_string(), 5000),
            ("experimental".to_string(), 700),
            ("deprecated".to_string(), 300),
        ]),
    );
    facets.insert(
        "metadata.tags".to_string(),
        facet((0..60).map(|i| (format!("tag-{i}"), 100))),
    );
    Prepared {
        page: QueryEntitiesResponse {
            items: (0..20).map(component).collect(),
            total_items: TOTAL,
            page_info: PageInfo {
                next_cursor: Some("eyJmIjpbXSwibyI6W10sIm4iOjIwfQ".to_string()),
                prev_cursor: None,
            },
        },
        facets,
    }
}

async fn get(app: &axum::Router, path: &str) -> Vec<u8> {
    let res = app
        .clone()
        .oneshot(
            Request::get(path)
                .body(Body::empty())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(res.status(), 200, "{path}");
    axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn bench(c: &mut Criterion) {
    let api: Arc<dyn CatalogApi> = Arc::new(prepared());
    let app = App::builder()
        .feature(catalog_frontend_plugin())
        .extension(ApiBlueprint::make(ApiFactory::instance(&CATALOG_API, api)))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let router = app.router();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));

    let (page, css, js) = rt.block_on(async {
        (
            get(&router, "/catalog").await,
            get(&router, app.stylesheet_path()).await,
            get(&router, app.script_path()).await,
        )
    });
    eprintln!(
        "catalog page bytes: page {} + css {} + js {} = {} bytes",
        page.len(),
        css.len(),
        js.len(),
        page.len() + css.len() + js.len()
    );

    c.bench_function("catalog_index_first_page_10k_entities", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(get(&router, "/catalog").await.len()) });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
