//! The HTTP handlers under `/api/kubernetes`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures::TryStreamExt as _;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::{KubernetesConfig, ServiceLocator};
use super::fetch::{FetchPlan, Fetcher};
use super::objects::{ListTarget, is_path_segment};
use crate::backend::{ApiError, ApiErrorKind};
use crate::plugins::catalog::common::{EntityRef, RefDefaults};
use crate::plugins::catalog::node::CatalogApi;
use crate::plugins::kubernetes::common::permissions::{
    KUBERNETES_CLUSTERS_READ, KUBERNETES_PROXY, KUBERNETES_RESOURCES_READ,
};
use crate::plugins::kubernetes::common::{
    CLUSTER_AUTHORIZATION_HEADER, CLUSTER_HEADER, ClusterSummary, ClustersResponse,
    CustomResourceMatcher, CustomResourcesByEntityRequest, KUBERNETES_ID_ANNOTATION,
    KUBERNETES_LABEL_SELECTOR_ANNOTATION, KUBERNETES_NAMESPACE_ANNOTATION, KubernetesRequestAuth,
    KubernetesRequestBody, ObjectsByEntityResponse, WorkloadsByEntityRequest,
};
use crate::plugins::kubernetes::node::{
    ANNOTATION_OIDC_TOKEN_PROVIDER, AuthenticationStrategy, ClusterDetails,
    KubernetesClustersSupplier, KubernetesCredential,
};
use crate::services::auth::Credentials;
use crate::services::logger::{LoggerService, LoggerServiceExt};
use crate::services::permissions::{
    AuthorizePermissionRequest, AuthorizeResult, Permission, PermissionsService,
};

pub(crate) struct AppState {
    pub(crate) config: KubernetesConfig,
    pub(crate) supplier: Arc<dyn KubernetesClustersSupplier>,
    pub(crate) strategies: BTreeMap<String, Arc<dyn AuthenticationStrategy>>,
    pub(crate) fetcher: Fetcher,
    pub(crate) catalog: Arc<dyn CatalogApi>,
    pub(crate) permissions: Arc<dyn PermissionsService>,
    pub(crate) logger: Arc<dyn LoggerService>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

type Shared = State<Arc<AppState>>;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let limit = DefaultBodyLimit::max(state.config.max_request_bytes);
    Router::new()
        .route("/clusters", get(clusters))
        .route("/services/{entity_name}", post(services).layer(limit))
        .route("/resources/workloads/query", post(workloads).layer(limit))
        .route("/resources/custom/query", post(custom).layer(limit))
        .route("/proxy/{*path}", any(proxy))
        .with_state(state)
}

impl AppState {
    async fn require(&self, caller: &Credentials, permission: &Permission) -> Result<(), ApiError> {
        let request = AuthorizePermissionRequest {
            permission: permission.clone(),
            resource_ref: None,
        };
        let allowed = self
            .permissions
            .authorize(std::slice::from_ref(&request), caller)
            .await
            .map_err(ApiError::from)?
            .first()
            .is_some_and(|d| d.result == AuthorizeResult::Allow);
        if allowed {
            Ok(())
        } else {
            Err(ApiError::not_allowed(format!(
                "you are not allowed to do this ({})",
                permission.name
            )))
        }
    }

    async fn clusters(&self, caller: &Credentials) -> Result<Vec<ClusterDetails>, ApiError> {
        self.supplier.get_clusters(caller).await.map_err(|e| {
            self.logger.error(&format!("kubernetes: {e}"));
            ApiError::service_unavailable(format!("the clusters could not be listed: {e}"))
        })
    }
}

fn body_json<T: DeserializeOwned>(state: &AppState, bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.len() > state.config.max_request_bytes {
        return Err(ApiError::new(
            ApiErrorKind::PayloadTooLarge,
            "request body larger than kubernetes.limits.maxRequestBytes",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::input(format!("invalid request body: {e}")))
}

fn json<T: serde::Serialize>(body: &T) -> Response {
    axum::Json(body).into_response()
}

/// `GET /clusters`.
async fn clusters(
    State(state): Shared,
    Extension(caller): Extension<Credentials>,
) -> Result<Response, ApiError> {
    state.require(&caller, &KUBERNETES_CLUSTERS_READ).await?;
    let items = state
        .clusters(&caller)
        .await?
        .into_iter()
        .map(|c| {
            let presented = state
                .strategies
                .get(c.auth_provider())
                .map(|s| s.present_auth_metadata(&c.auth_metadata))
                .unwrap_or_default();
            ClusterSummary {
                auth_provider: c.auth_provider().to_owned(),
                oidc_token_provider: presented.get(ANNOTATION_OIDC_TOKEN_PROVIDER).cloned(),
                name: c.name,
                title: c.title,
                dashboard_url: c.dashboard_url,
            }
        })
        .collect();
    Ok(json(&ClustersResponse { items }))
}

/// `POST /services/{entityName}`: the entity comes in the body.
async fn services(
    State(state): Shared,
    Extension(caller): Extension<Credentials>,
    Path(_entity_name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: KubernetesRequestBody = body_json(&state, &body)?;
    if !body.entity.is_object() {
        return Err(ApiError::input("entity is required in the request body"));
    }
    state.require(&caller, &KUBERNETES_RESOURCES_READ).await?;
    let auth = body.auth.unwrap_or_default();
    let res = objects_for_entity(&state, &caller, &body.entity, &auth, None).await?;
    Ok(json(&res))
}

/// The entity `entity_ref` names, read from the catalog as the caller.
async fn entity_from_catalog(
    state: &AppState,
    caller: &Credentials,
    entity_ref: &str,
) -> Result<Value, ApiError> {
    let parsed = EntityRef::parse(entity_ref, RefDefaults::default())
        .map_err(|e| ApiError::input(format!("invalid entityRef: {e}")))?;
    match state.catalog.entity_by_ref(&parsed, caller).await {
        Ok(Some(entity)) => serde_json::to_value(entity).map_err(ApiError::internal),
        Ok(None) => Err(ApiError::not_found(format!(
            "Entity ref missing, {entity_ref}"
        ))),
        Err(e) => Err(ApiError::internal(format!(
            "catalog lookup of {entity_ref} failed: {e}"
        ))),
    }
}

/// `POST /resources/workloads/query`.
async fn workloads(
    State(state): Shared,
    Extension(caller): Extension<Credentials>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: WorkloadsByEntityRequest = body_json(&state, &body)?;
    state.require(&caller, &KUBERNETES_RESOURCES_READ).await?;
    let entity = entity_from_catalog(&state, &caller, &body.entity_ref).await?;
    let res = objects_for_entity(&state, &caller, &entity, &body.auth, None).await?;
    Ok(json(&res))
}

/// `POST /resources/custom/query`.
async fn custom(
    State(state): Shared,
    Extension(caller): Extension<Credentials>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: CustomResourcesByEntityRequest = body_json(&state, &body)?;
    if body.custom_resources.is_empty() {
        return Err(ApiError::input("customResources must not be empty"));
    }
    for c in &body.custom_resources {
        if ![&c.group, &c.api_version, &c.plural]
            .iter()
            .all(|s| is_path_segment(s))
        {
            return Err(ApiError::input(
                "customResources: group, apiVersion and plural must be plain path segments",
            ));
        }
    }
    state.require(&caller, &KUBERNETES_RESOURCES_READ).await?;
    let entity = entity_from_catalog(&state, &caller, &body.entity_ref).await?;
    let res = objects_for_entity(
        &state,
        &caller,
        &entity,
        &body.auth,
        Some(&body.custom_resources),
    )
    .await?;
    Ok(json(&res))
}

fn annotation<'a>(entity: &'a Value, key: &str) -> Option<&'a str> {
    entity["metadata"]["annotations"][key]
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Whether `entity` has a `dependsOn` relation to the cluster Resource `name`.
fn depends_on_cluster(entity: &Value, name: &str) -> bool {
    entity["relations"].as_array().is_some_and(|rels| {
        rels.iter().any(|r| {
            r["type"] == "dependsOn"
                && r["targetRef"].as_str().is_some_and(|t| {
                    t.to_ascii_lowercase().starts_with("resource:")
                        && t.rsplit('/')
                            .next()
                            .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
        })
    })
}

async fn objects_for_entity(
    state: &AppState,
    caller: &Credentials,
    entity: &Value,
    auth: &KubernetesRequestAuth,
    custom_only: Option<&[CustomResourceMatcher]>,
) -> Result<ObjectsByEntityResponse, ApiError> {
    let id = annotation(entity, KUBERNETES_ID_ANNOTATION)
        .or_else(|| {
            entity["metadata"]["name"]
                .as_str()
                .filter(|s| !s.is_empty())
        })
        .ok_or_else(|| ApiError::input("the entity has no metadata.name"))?;
    let label_selector = match annotation(entity, KUBERNETES_LABEL_SELECTOR_ANNOTATION) {
        Some(s) => s.to_owned(),
        None => format!("{KUBERNETES_ID_ANNOTATION}={id}"),
    };
    let namespace = annotation(entity, KUBERNETES_NAMESPACE_ANNOTATION);
    if namespace.is_some_and(|ns| !is_path_segment(ns)) {
        return Err(ApiError::input(format!(
            "invalid {KUBERNETES_NAMESPACE_ANNOTATION} annotation"
        )));
    }
    let mut clusters = state.clusters(caller).await?;
    if state.config.service_locator == ServiceLocator::CatalogRelation {
        clusters.retain(|c| depends_on_cluster(entity, &c.name));
    }
    if clusters.len() > state.config.max_clusters {
        state.logger.warn(&format!(
            "kubernetes: {} clusters located, querying the first {} (kubernetes.limits.maxClusters)",
            clusters.len(),
            state.config.max_clusters
        ));
        clusters.truncate(state.config.max_clusters);
    }
    let items = futures::future::join_all(clusters.iter().map(|cluster| {
        let targets: Vec<ListTarget> = match custom_only {
            Some(custom) => custom.iter().map(ListTarget::custom).collect(),
            None => state
                .config
                .object_types
                .iter()
                .map(ListTarget::builtin)
                .chain(
                    cluster
                        .custom_resources
                        .as_ref()
                        .unwrap_or(&state.config.custom_resources)
                        .iter()
                        .map(ListTarget::custom),
                )
                .collect(),
        };
        let plan = FetchPlan {
            targets,
            label_selector: label_selector.clone(),
            namespace: namespace.map(str::to_owned),
        };
        async move {
            let credential = credential(state, cluster, auth).await;
            state
                .fetcher
                .fetch_cluster(cluster, credential, &plan)
                .await
        }
    }))
    .await;
    Ok(ObjectsByEntityResponse {
        items: items
            .into_iter()
            .filter(|c| !c.errors.is_empty() || c.resources.iter().any(|r| !r.resources.is_empty()))
            .collect(),
    })
}

async fn credential(
    state: &AppState,
    cluster: &ClusterDetails,
    auth: &KubernetesRequestAuth,
) -> Result<KubernetesCredential, String> {
    let Some(strategy) = state.strategies.get(cluster.auth_provider()) else {
        return Err(format!(
            "no auth strategy '{}' for cluster '{}'",
            cluster.auth_provider(),
            cluster.name
        ));
    };
    strategy
        .get_credential(cluster, auth)
        .await
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// The proxy
// ---------------------------------------------------------------------------------------------

/// Request headers never sent to a cluster: hop-by-hop ones, the caller's own credentials and
/// the plugin's headers.
const DROPPED_REQUEST_HEADERS: [&str; 11] = [
    "host",
    "authorization",
    "cookie",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Response headers never passed back.
const DROPPED_RESPONSE_HEADERS: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "set-cookie",
];

/// `ANY /proxy/{*path}`: the request, streamed to the cluster named in
/// `Backstage-Kubernetes-Cluster`, and its answer streamed back.
async fn proxy(
    State(state): Shared,
    Extension(caller): Extension<Credentials>,
    request: Request,
) -> Result<Response, ApiError> {
    state.require(&caller, &KUBERNETES_PROXY).await?;
    let (parts, body) = request.into_parts();
    let cluster_name = parts
        .headers
        .get(CLUSTER_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::input(format!("Missing '{CLUSTER_HEADER}' header.")))?
        .to_owned();
    let full = parts.uri.path();
    let rest = full
        .find("/proxy/")
        .map(|i| &full[i + "/proxy".len()..])
        .ok_or_else(|| ApiError::input("invalid proxy path"))?;
    if rest.split('/').any(|seg| {
        let lower = seg.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".."
    }) {
        return Err(ApiError::input(
            "the proxy path must not contain '.' or '..' segments",
        ));
    }
    let cluster = state
        .clusters(&caller)
        .await?
        .into_iter()
        .find(|c| c.name == cluster_name)
        .ok_or_else(|| ApiError::not_found(format!("Cluster '{cluster_name}' not found")))?;
    let forwarded_auth = parts.headers.get(CLUSTER_AUTHORIZATION_HEADER).cloned();
    let credential = match &forwarded_auth {
        Some(_) => KubernetesCredential::Anonymous,
        None => credential(&state, &cluster, &KubernetesRequestAuth::new())
            .await
            .map_err(ApiError::authentication)?,
    };
    let client = state
        .fetcher
        .clients
        .client(&cluster, &credential)
        .map_err(|e| ApiError::service_unavailable(format!("cluster '{cluster_name}': {e}")))?;
    let mut url = format!("{}{}", cluster.url, rest);
    if let Some(q) = parts.uri.query() {
        url.push('?');
        url.push_str(q);
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        let n = name.as_str();
        if DROPPED_REQUEST_HEADERS.contains(&n) || n.starts_with("backstage-kubernetes-") {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    match (forwarded_auth, &credential) {
        (Some(v), _) => {
            headers.insert(header::AUTHORIZATION, v);
        }
        (None, KubernetesCredential::BearerToken(token)) => {
            let v = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| ApiError::internal("invalid token characters"))?;
            headers.insert(header::AUTHORIZATION, v);
        }
        _ => {}
    }
    let upstream = client
        .request(parts.method.clone(), url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await
        .map_err(|e| {
            state.logger.warn(&format!(
                "kubernetes proxy to cluster '{cluster_name}' failed: {e}"
            ));
            if e.is_timeout() {
                ApiError::new(
                    ApiErrorKind::GatewayTimeout,
                    format!("cluster '{cluster_name}' did not answer in time (backend.httpClient)"),
                )
            } else {
                ApiError::new(
                    ApiErrorKind::BadGateway,
                    format!("cluster '{cluster_name}' could not be reached"),
                )
            }
        })?;
    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out_headers = HeaderMap::new();
    for (name, value) in upstream.headers() {
        if DROPPED_RESPONSE_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if let Ok(n) = HeaderName::from_bytes(name.as_str().as_bytes()) {
            out_headers.append(n, value.clone());
        }
    }
    let stream = upstream.bytes_stream().map_err(std::io::Error::other);
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    *response.headers_mut() = out_headers;
    Ok(response)
}
