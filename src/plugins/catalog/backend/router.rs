//! The catalog's HTTP routes (Backstage's catalog REST API); logic lives in the service.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::backend::ApiError;
use crate::plugins::catalog::common::EntityRef;

use super::error::CatalogError;
use super::index::Position;
use super::permissions::Caller;
use super::predicate::Predicate;
use super::query::{
    Cursor, FullText, Order, decode_after, encode_after, parse_fields, parse_filters, parse_order,
    parse_order_fields,
};
use super::service::{CatalogService, EntitiesRequest, QueryRequest};

type ApiResult = Result<Response, ApiError>;

/// The routes, to be mounted at `/api/catalog`.
pub(crate) fn router(service: CatalogService) -> Router {
    Router::new()
        .route("/entities", get(get_entities))
        .route(
            "/entities/by-query",
            get(query_entities).post(query_entities_by_predicate),
        )
        .route("/entities/by-refs", post(entities_by_refs))
        .route(
            "/entities/by-uid/{uid}",
            get(entity_by_uid).delete(delete_entity_by_uid),
        )
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}",
            get(entity_by_name),
        )
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}/ancestry",
            get(entity_ancestry),
        )
        .route(
            "/entity-facets",
            get(entity_facets).post(entity_facets_by_predicate),
        )
        .route("/locations", get(list_locations).post(add_location))
        .route("/locations/by-query", post(query_locations))
        .route(
            "/locations/{id}",
            get(get_location)
                .put(update_location)
                .delete(delete_location),
        )
        .route(
            "/locations/by-entity/{kind}/{namespace}/{name}",
            get(location_by_entity),
        )
        .route("/refresh", post(refresh))
        .route("/validate-entity", post(validate_entity))
        .route("/analyze-location", post(analyze_location))
        .route("/status", get(status))
        .with_state(service)
}

/// `GET /status` (backlot's own, not Backstage's): where ingestion stands and how this
/// process's index keeps up with the shared database —
/// `{entities, ingestion: {known, processed, stitched, pending}, index: {generation,
/// incremental, full, rowsRead, lastRowsRead}, changeLog: {generation, horizon}}`. Any
/// signed-in caller may read it; it holds counts only. The ingestion counts are at most
/// [`STATUS_MAX_AGE`](super::progress::STATUS_MAX_AGE) old: counting scans a table, and
/// callers asking in a loop must not make the database do it on every request.
async fn status(State(s): State<CatalogService>, _caller: Caller) -> ApiResult {
    let db = &s.engine.db;
    let ingestion = s.progress.get(db, super::progress::STATUS_MAX_AGE).await?;
    let generation = super::store::read_generation(db).await?;
    let horizon = super::store::read_horizon(db).await?;
    Ok(json_value(
        StatusCode::OK,
        &json!({
            "entities": s.engine.index.len(),
            "ingestion": ingestion,
            "index": s.engine.index.sync_stats(),
            "changeLog": { "generation": generation, "horizon": horizon },
        }),
    ))
}

/// Query params in order, repeated keys kept.
struct Params(Vec<(String, String)>);

impl Params {
    fn new(raw: Option<String>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, key: &str, min: u64) -> Result<Option<u64>, CatalogError> {
        match self.one(key) {
            None => Ok(None),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n >= min => Ok(Some(n)),
                _ => Err(CatalogError::input(
                    key,
                    format!("{v} is not an integer of at least {min}"),
                )),
            },
        }
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

fn json_value(status: StatusCode, value: &Value) -> Response {
    json_response(status, value.to_string())
}

fn body_json<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::input(format!("invalid request body: {e}")))
}

fn name_ref(kind: &str, namespace: &str, name: &str) -> String {
    EntityRef::new(kind, namespace, name).to_string()
}

async fn get_entities(
    State(s): State<CatalogService>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let p = Params::new(raw);
    let mut request = EntitiesRequest {
        filter: parse_filters(&p.all("filter"))?,
        fields: parse_fields(&p.all("fields")),
        order: parse_order(&p.all("order"))?,
        offset: p.number("offset", 0)?.unwrap_or(0),
        limit: p.number("limit", 1)?,
    };
    if let Some(after) = p.one("after") {
        if after.is_empty() {
            return Err(CatalogError::input("after", "cursor must not be empty").into());
        }
        request.offset = decode_after(after)?;
    }
    let scope = s.read_scope(&caller).await?;
    let (items, more) = s.entities(&request, &scope).await?;
    let mut body =
        String::with_capacity(items.iter().map(String::len).sum::<usize>() + items.len() + 2);
    body.push('[');
    body.push_str(&items.join(","));
    body.push(']');
    let mut res = json_response(StatusCode::OK, body);
    if more {
        let next = request.offset + items.len() as u64;
        let mut query: Vec<(String, String)> =
            p.0.iter()
                .filter(|(k, _)| k != "after" && k != "offset")
                .cloned()
                .collect();
        query.push(("after".into(), encode_after(next)));
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        if let Ok(v) = HeaderValue::from_str(&format!("</entities?{qs}>; rel=\"next\"")) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(res)
}

async fn query_entities(
    State(s): State<CatalogService>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let p = Params::new(raw);
    let fields = parse_fields(&p.all("fields"));
    let limit = p.number("limit", 0)?;
    let request = if let Some(cursor) = p.one("cursor") {
        QueryRequest::from_cursor(Cursor::decode(cursor)?, fields, limit)
    } else {
        let term = p.one("fullTextFilterTerm").map(str::to_owned);
        let offset = p.number("offset", 0)?.unwrap_or(0);
        QueryRequest {
            query: Predicate::from_filter(&parse_filters(&p.all("filter"))?),
            fields,
            order: parse_order_fields(&p.all("orderField"))?,
            full_text: term.map(|term| FullText {
                term,
                fields: parse_fields(&p.all("fullTextFilterFields")),
            }),
            position: if offset > 0 {
                Position::Offset(offset)
            } else {
                Position::Start
            },
            limit,
        }
    };
    let scope = s.read_scope(&caller).await?;
    Ok(json_response(
        StatusCode::OK,
        s.query(&request, &scope).await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderByBody {
    field: String,
    #[serde(default)]
    order: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FullTextBody {
    term: String,
    #[serde(default)]
    fields: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct QueryBody {
    #[serde(default)]
    query: Option<Value>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default, alias = "orderFields")]
    order_by: Option<Vec<OrderByBody>>,
    #[serde(default)]
    full_text_filter: Option<FullTextBody>,
    #[serde(default)]
    fields: Option<Vec<String>>,
}

/// `POST /entities/by-query`: the same query with a predicate body.
async fn query_entities_by_predicate(
    State(s): State<CatalogService>,
    caller: Caller,
    body: Bytes,
) -> ApiResult {
    let body: QueryBody = body_json(&body)?;
    let fields = body.fields.unwrap_or_default();
    let request = if let Some(cursor) = body.cursor.as_deref() {
        QueryRequest::from_cursor(Cursor::decode(cursor)?, fields, body.limit)
    } else {
        let query = match &body.query {
            Some(q) => Predicate::parse(q, "query")?,
            None => Predicate::everything(),
        };
        let mut order = Vec::new();
        for o in body.order_by.unwrap_or_default() {
            let desc = match o.order.as_deref().unwrap_or("asc") {
                "asc" => false,
                "desc" => true,
                other => {
                    return Err(CatalogError::input(
                        "orderBy",
                        format!("order {other} of {} is not asc or desc", o.field),
                    )
                    .into());
                }
            };
            if o.field.trim().is_empty() {
                return Err(CatalogError::input("orderBy", "field must not be empty").into());
            }
            order.push(Order {
                field: o.field.trim().to_lowercase(),
                desc,
            });
        }
        let offset = body.offset.unwrap_or(0);
        QueryRequest {
            query,
            fields,
            order,
            full_text: body.full_text_filter.map(|t| FullText {
                term: t.term,
                fields: t.fields.unwrap_or_default(),
            }),
            position: if offset > 0 {
                Position::Offset(offset)
            } else {
                Position::Start
            },
            limit: body.limit,
        }
    };
    let scope = s.read_scope(&caller).await?;
    Ok(json_response(
        StatusCode::OK,
        s.query(&request, &scope).await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByRefsBody {
    entity_refs: Vec<String>,
    #[serde(default)]
    fields: Option<Vec<String>>,
}

async fn entities_by_refs(
    State(s): State<CatalogService>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(raw);
    let body: ByRefsBody = body_json(&body)?;
    let filter = Predicate::from_filter(&parse_filters(&p.all("filter"))?);
    let fields = body.fields.unwrap_or_default();
    let scope = s.read_scope(&caller).await?;
    Ok(json_value(
        StatusCode::OK,
        &s.by_refs(&body.entity_refs, &fields, &filter, &scope)
            .await?,
    ))
}

async fn entity_by_uid(
    State(s): State<CatalogService>,
    caller: Caller,
    Path(uid): Path<String>,
) -> ApiResult {
    let scope = s.read_scope(&caller).await?;
    match s.entity_by_uid(&uid, &scope).await? {
        Some(text) => Ok(json_response(StatusCode::OK, text)),
        None => Err(CatalogError::not_found("entity with uid", uid).into()),
    }
}

async fn delete_entity_by_uid(
    State(s): State<CatalogService>,
    caller: Caller,
    Path(uid): Path<String>,
) -> ApiResult {
    s.delete_by_uid(&uid, &caller).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn entity_by_name(
    State(s): State<CatalogService>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> ApiResult {
    let r = name_ref(&kind, &namespace, &name);
    let scope = s.read_scope(&caller).await?;
    match s.entity_by_name(&kind, &namespace, &name, &scope).await? {
        Some(text) => Ok(json_response(StatusCode::OK, text)),
        None => Err(CatalogError::not_found("entity", r).into()),
    }
}

async fn entity_ancestry(
    State(s): State<CatalogService>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> ApiResult {
    let r = name_ref(&kind, &namespace, &name);
    let scope = s.read_scope(&caller).await?;
    Ok(json_value(StatusCode::OK, &s.ancestry(&r, &scope).await?))
}

async fn entity_facets(
    State(s): State<CatalogService>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let p = Params::new(raw);
    let facets = p.all("facet");
    if facets.is_empty() {
        return Err(CatalogError::input("facet", "at least one facet is required").into());
    }
    let filter = Predicate::from_filter(&parse_filters(&p.all("filter"))?);
    let scope = s.read_scope(&caller).await?;
    Ok(json_value(
        StatusCode::OK,
        &s.facets(&facets, &filter, &scope).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FacetsBody {
    facets: Vec<String>,
    #[serde(default)]
    query: Option<Value>,
}

/// `POST /entity-facets`: facets over the entities a predicate matches.
async fn entity_facets_by_predicate(
    State(s): State<CatalogService>,
    caller: Caller,
    body: Bytes,
) -> ApiResult {
    let body: FacetsBody = body_json(&body)?;
    if body.facets.is_empty() {
        return Err(CatalogError::input("facets", "at least one facet is required").into());
    }
    let query = match &body.query {
        Some(q) => Predicate::parse(q, "query")?,
        None => Predicate::everything(),
    };
    let scope = s.read_scope(&caller).await?;
    Ok(json_value(
        StatusCode::OK,
        &s.facets(&body.facets, &query, &scope).await?,
    ))
}

async fn list_locations(State(s): State<CatalogService>, caller: Caller) -> ApiResult {
    let rows = s.locations(&caller).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "data": r.to_json() }))
        .collect();
    Ok(json_value(StatusCode::OK, &Value::Array(items)))
}

async fn get_location(
    State(s): State<CatalogService>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(json_value(
        StatusCode::OK,
        &s.location(&id, &caller).await?.to_json(),
    ))
}

#[derive(Deserialize)]
struct LocationBody {
    #[serde(rename = "type")]
    location_type: String,
    target: String,
}

async fn add_location(
    State(s): State<CatalogService>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(raw);
    let dry_run = match p.one("dryRun") {
        None => false,
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(
                CatalogError::input("dryRun", format!("{other} is not true or false")).into(),
            );
        }
    };
    let body: LocationBody = body_json(&body)?;
    let (location, entities, exists) = s
        .add_location(&body.location_type, &body.target, dry_run, &caller)
        .await?;
    let mut out = json!({ "location": location, "entities": entities });
    if dry_run {
        out["exists"] = Value::Bool(exists);
    }
    Ok(json_value(StatusCode::CREATED, &out))
}

async fn query_locations(
    State(s): State<CatalogService>,
    caller: Caller,
    body: Bytes,
) -> ApiResult {
    // An empty body is an empty query, as Backstage's JSON body parser has it.
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        body_json(&body)?
    };
    Ok(json_value(
        StatusCode::OK,
        &s.query_locations(&body, &caller).await?,
    ))
}

async fn update_location(
    State(s): State<CatalogService>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body: LocationBody = body_json(&body)?;
    let row = s
        .update_location(&id, &body.location_type, &body.target, &caller)
        .await?;
    Ok(json_value(StatusCode::OK, &row.to_json()))
}

async fn delete_location(
    State(s): State<CatalogService>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    s.delete_location(&id, &caller).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn location_by_entity(
    State(s): State<CatalogService>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> ApiResult {
    let row = s
        .location_by_entity(&name_ref(&kind, &namespace, &name), &caller)
        .await?;
    Ok(json_value(StatusCode::OK, &row.to_json()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    entity_ref: String,
}

async fn refresh(State(s): State<CatalogService>, caller: Caller, body: Bytes) -> ApiResult {
    let body: RefreshBody = body_json(&body)?;
    s.refresh(&body.entity_ref, &caller).await?;
    Ok(StatusCode::OK.into_response())
}

#[derive(Deserialize)]
struct ValidateBody {
    entity: Value,
    location: String,
}

async fn validate_entity(
    State(s): State<CatalogService>,
    caller: Caller,
    body: Bytes,
) -> ApiResult {
    let body: ValidateBody = body_json(&body)?;
    if !body.entity.is_object() {
        return Err(ApiError::input(
            "invalid request body: entity must be an object",
        ));
    }
    let errors = s.validate(&body.entity, &body.location, &caller).await?;
    if errors.is_empty() {
        return Ok(StatusCode::OK.into_response());
    }
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|m| json!({ "name": "InputError", "message": m }))
        .collect();
    Ok(json_value(
        StatusCode::BAD_REQUEST,
        &json!({ "errors": errors }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyzeBody {
    location: LocationBody,
    #[serde(default)]
    catalog_file_name: Option<String>,
}

async fn analyze_location(
    State(s): State<CatalogService>,
    caller: Caller,
    body: Bytes,
) -> ApiResult {
    let body: AnalyzeBody = body_json(&body)?;
    let out = s
        .analyze(
            &body.location.location_type,
            &body.location.target,
            body.catalog_file_name.as_deref(),
            &caller,
        )
        .await?;
    Ok(json_value(StatusCode::OK, &out))
}
