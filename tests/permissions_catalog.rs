#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! Permissions in the catalog, over HTTP against a real backend: a policy's conditional
//! `catalog.entity.read` decision filters lists, `totalItems`, facets, `by-refs` and cursor
//! pages to the allowed entities; hidden entities answer 404 exactly like missing ones; writes
//! need their permission. The policy is a `PERMISSIONS` service answering decisions the test
//! sets.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use backlot::backend::{Feature, ServiceFactory};
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::common::permissions::conditions::{
    decision, is_entity_kind, is_entity_owner,
};
use backlot::services::auth::Credentials;
use backlot::services::permissions::{
    AuthorizeDecision, AuthorizePermissionRequest, AuthorizeResult, PERMISSIONS,
    PermissionCriteria, PermissionError, PermissionsService, PolicyDecision,
    QueryPermissionRequest,
};
use backlot::testing::{TestBackend, TestResponse};
use serde_json::{Value, json};

/// What the test policy answers: a decision per permission name (ALLOW when unset), and for
/// resource requests an optional set of the refs that are allowed.
#[derive(Debug, Default)]
struct Answers {
    decisions: HashMap<String, PolicyDecision>,
    resources: HashMap<String, BTreeSet<String>>,
    asked: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct TestPolicy(Arc<Mutex<Answers>>);

impl TestPolicy {
    fn set(&self, permission: &str, d: PolicyDecision) {
        self.0
            .lock()
            .unwrap()
            .decisions
            .insert(permission.into(), d);
    }

    fn allow_resources(&self, permission: &str, refs: &[&str]) {
        self.0.lock().unwrap().resources.insert(
            permission.into(),
            refs.iter().map(|r| (*r).to_owned()).collect(),
        );
    }

    fn asked(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap().asked)
    }

    fn factory(&self) -> ServiceFactory {
        let policy = self.clone();
        ServiceFactory::plugin(&PERMISSIONS).build(move |_ctx, ()| {
            let policy = policy.clone();
            async move { Ok(Arc::new(policy) as Arc<dyn PermissionsService>) }
        })
    }
}

#[async_trait]
impl PermissionsService for TestPolicy {
    async fn authorize(
        &self,
        requests: &[AuthorizePermissionRequest],
        _credentials: &Credentials,
    ) -> Result<Vec<AuthorizeDecision>, PermissionError> {
        let mut answers = self.0.lock().unwrap();
        let mut out = Vec::new();
        for r in requests {
            answers.asked.push(r.permission.name.clone());
            let result = match (
                answers.decisions.get(&r.permission.name),
                &r.resource_ref,
                answers.resources.get(&r.permission.name),
            ) {
                (_, Some(resource), Some(allowed)) if allowed.contains(resource) => {
                    AuthorizeResult::Allow
                }
                (_, Some(_), Some(_)) => AuthorizeResult::Deny,
                (None | Some(PolicyDecision::Allow), _, _) => AuthorizeResult::Allow,
                _ => AuthorizeResult::Deny,
            };
            out.push(AuthorizeDecision { result });
        }
        Ok(out)
    }

    async fn authorize_conditional(
        &self,
        requests: &[QueryPermissionRequest],
        _credentials: &Credentials,
    ) -> Result<Vec<PolicyDecision>, PermissionError> {
        let mut answers = self.0.lock().unwrap();
        let mut out = Vec::new();
        for r in requests {
            answers.asked.push(r.permission.name.clone());
            out.push(
                answers
                    .decisions
                    .get(&r.permission.name)
                    .cloned()
                    .unwrap_or(PolicyDecision::Allow),
            );
        }
        Ok(out)
    }
}

const READ: &str = "catalog.entity.read";
const TEAMS: [&str; 3] = ["team-a", "team-b", "team-c"];
const COMPONENTS: usize = 30;
const APIS: usize = 7;

/// The fixture: components owned by the three teams in turn, APIs owned by team-c, the groups.
fn catalog_text() -> String {
    let mut text = String::new();
    for team in TEAMS {
        text.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {team}\nspec:\n  type: team\n  children: []\n"
        ));
    }
    for i in 0..COMPONENTS {
        let t = if i % 2 == 0 { "service" } else { "website" };
        text.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: c-{i:02}\nspec:\n  type: {t}\n  lifecycle: production\n  owner: {}\n",
            TEAMS[i % 3]
        ));
    }
    for i in 0..APIS {
        text.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: api-{i}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-c\n  definition: x\n"
        ));
    }
    text
}

/// Refs of the components of `team` (from the same rule as the fixture).
fn components_of(team: &str) -> BTreeSet<String> {
    (0..COMPONENTS)
        .filter(|i| TEAMS[i % 3] == team)
        .map(|i| format!("component:default/c-{i:02}"))
        .collect()
}

fn apis() -> BTreeSet<String> {
    (0..APIS).map(|i| format!("api:default/api-{i}")).collect()
}

/// Owned by team-a, or an API.
fn owner_or_api() -> PolicyDecision {
    decision(PermissionCriteria::AnyOf {
        any_of: vec![
            is_entity_owner(["group:default/team-a"]),
            is_entity_kind(["API"]),
        ],
    })
}

async fn start(dir: &Path, policy: &TestPolicy) -> TestBackend {
    let file = dir.join("catalog.yaml");
    std::fs::write(&file, catalog_text()).unwrap();
    TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ minutes: 60 }}\n  rules:\n    - allow: [Component, API, Location, Group]\n  locations:\n    - type: file\n      target: {}\n",
            file.display()
        ))
        .feature(Feature::plugin(CatalogPlugin::new()))
        .service(policy.factory())
        .start()
        .await
        .expect("backend starts")
}

async fn get(b: &TestBackend, path: &str) -> TestResponse {
    b.client()
        .get(&format!("/api/catalog{path}"))
        .await
        .unwrap()
}

async fn post(b: &TestBackend, path: &str, body: &Value) -> TestResponse {
    b.client()
        .post_json(&format!("/api/catalog{path}"), body)
        .await
        .unwrap()
}

fn entity_ref(e: &Value) -> String {
    format!(
        "{}:{}/{}",
        e["kind"].as_str().unwrap().to_lowercase(),
        e["metadata"]["namespace"].as_str().unwrap_or("default"),
        e["metadata"]["name"].as_str().unwrap()
    )
}

fn refs(items: &Value) -> BTreeSet<String> {
    items.as_array().unwrap().iter().map(entity_ref).collect()
}

/// Follows `nextCursor` from `first` (a by-query body) to the end.
async fn all_pages(b: &TestBackend, first: Value) -> (Vec<String>, Vec<u64>) {
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    let mut body = first;
    loop {
        let res = post(b, "/entities/by-query", &body).await;
        assert_eq!(res.status(), 200, "{}", res.text());
        let page: Value = res.json().unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(entity_ref));
        totals.push(page["totalItems"].as_u64().unwrap());
        match page["pageInfo"]["nextCursor"].as_str() {
            Some(c) => body = json!({ "cursor": c, "limit": 4 }),
            None => return (seen, totals),
        }
    }
}

#[tokio::test]
async fn a_conditional_read_decision_filters_every_read() {
    let dir = tempfile::tempdir().unwrap();
    let policy = TestPolicy::default();
    let b = start(dir.path(), &policy).await;

    // Allowed by default: everything (3 groups, the components, the APIs, the Location).
    let all: Value = post(&b, "/entities/by-query", &json!({ "limit": 1 }))
        .await
        .json()
        .unwrap();
    let everything = all["totalItems"].as_u64().unwrap();
    assert_eq!(everything as usize, 3 + COMPONENTS + APIS + 1);

    policy.set(READ, owner_or_api());
    let mut allowed = components_of("team-a");
    allowed.extend(apis());

    // by-query: items and totalItems are the allowed set.
    let page: Value = post(
        &b,
        "/entities/by-query",
        &json!({ "limit": 100, "query": { "kind": { "$in": ["component", "api", "group"] } } }),
    )
    .await
    .json()
    .unwrap();
    assert_eq!(refs(&page["items"]), allowed);
    assert_eq!(page["totalItems"], allowed.len());
    let page: Value = get(&b, "/entities/by-query?filter=kind=component&limit=100")
        .await
        .json()
        .unwrap();
    assert_eq!(refs(&page["items"]), components_of("team-a"));
    assert_eq!(page["totalItems"], components_of("team-a").len());
    let list: Value = get(&b, "/entities").await.json().unwrap();
    assert_eq!(refs(&list), allowed);

    // Cursor paging through the filter returns exactly the allowed set, each once, with the
    // same totalItems on every page.
    let (seen, totals) = all_pages(
        &b,
        json!({ "limit": 4, "orderBy": [{ "field": "metadata.name" }] }),
    )
    .await;
    assert_eq!(seen.len(), allowed.len(), "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), allowed);
    assert!(
        totals.iter().all(|t| *t as usize == allowed.len()),
        "{totals:?}"
    );

    // Facets count the allowed entities only.
    let facets: Value = get(&b, "/entity-facets?facet=kind").await.json().unwrap();
    let mut counts: Vec<(String, u64)> = facets["facets"]["kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["value"].as_str().unwrap().to_owned(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![
            ("API".to_owned(), APIS as u64),
            ("Component".to_owned(), components_of("team-a").len() as u64)
        ]
    );
    let facets: Value = post(
        &b,
        "/entity-facets",
        &json!({ "facets": ["spec.owner"], "query": { "kind": "component" } }),
    )
    .await
    .json()
    .unwrap();
    assert_eq!(
        facets["facets"]["spec.owner"],
        json!([{ "value": "team-a", "count": components_of("team-a").len() }])
    );

    // A hidden entity is 404 with the body of a missing one; by-refs gives null.
    let hidden = components_of("team-b").into_iter().next().unwrap();
    let hidden_name = hidden.rsplit('/').next().unwrap().to_owned();
    let res = get(
        &b,
        &format!("/entities/by-name/component/default/{hidden_name}"),
    )
    .await;
    assert_eq!(res.status(), 404);
    let missing = get(&b, "/entities/by-name/component/default/c-99").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(res.text().replace(&hidden_name, "c-99"), missing.text());
    let visible = components_of("team-a").into_iter().next().unwrap();
    let by_refs: Value = post(
        &b,
        "/entities/by-refs",
        &json!({ "entityRefs": [hidden, visible, "api:default/api-0", "component:default/c-99"] }),
    )
    .await
    .json()
    .unwrap();
    let items = by_refs["items"].as_array().unwrap();
    assert!(items[0].is_null() && items[3].is_null(), "{by_refs}");
    assert_eq!(entity_ref(&items[1]), visible);
    assert_eq!(entity_ref(&items[2]), "api:default/api-0");

    // by-uid and ancestry of a hidden entity are 404 as well.
    policy.set(READ, PolicyDecision::Allow);
    let hidden_entity: Value = get(
        &b,
        &format!("/entities/by-name/component/default/{hidden_name}"),
    )
    .await
    .json()
    .unwrap();
    let uid = hidden_entity["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        get(&b, &format!("/entities/by-uid/{uid}")).await.status(),
        200
    );
    policy.set(READ, owner_or_api());
    assert_eq!(
        get(&b, &format!("/entities/by-uid/{uid}")).await.status(),
        404
    );
    let ancestry = get(
        &b,
        &format!("/entities/by-name/component/default/{hidden_name}/ancestry"),
    )
    .await;
    assert_eq!(ancestry.status(), 404);
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_cursor_cannot_escape_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let policy = TestPolicy::default();
    let b = start(dir.path(), &policy).await;
    policy.set(READ, owner_or_api());
    let first: Value = post(&b, "/entities/by-query", &json!({ "limit": 2 }))
        .await
        .json()
        .unwrap();
    let cursor = first["pageInfo"]["nextCursor"].as_str().unwrap();
    // The cursor carries the request's query only, never the permission filter.
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .unwrap();
    let text = String::from_utf8(decoded).unwrap();
    assert!(!text.contains("ownedby"), "{text}");
    // The policy changes between pages: the next page follows the new decision.
    policy.set(READ, decision(is_entity_kind(["API"])));
    let (seen, totals) = all_pages(&b, json!({ "cursor": cursor, "limit": 4 })).await;
    assert!(seen.iter().all(|r| r.starts_with("api:")), "{seen:?}");
    assert!(totals.iter().all(|t| *t as usize == APIS), "{totals:?}");
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_denied_read_shows_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let policy = TestPolicy::default();
    let b = start(dir.path(), &policy).await;
    policy.set(READ, PolicyDecision::Deny);
    let page: Value = post(&b, "/entities/by-query", &json!({}))
        .await
        .json()
        .unwrap();
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["totalItems"], 0);
    assert_eq!(get(&b, "/entities").await.text(), "[]");
    let facets: Value = get(&b, "/entity-facets?facet=kind").await.json().unwrap();
    assert_eq!(facets["facets"]["kind"], json!([]));
    assert_eq!(
        get(&b, "/entities/by-name/api/default/api-0")
            .await
            .status(),
        404
    );
    assert_eq!(policy.asked().last().map(String::as_str), Some(READ));
    b.stop().await.unwrap();
}

#[tokio::test]
async fn locations_need_their_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let policy = TestPolicy::default();
    let b = start(dir.path(), &policy).await;
    // Reading locations: denied means none, and 404 for one.
    let listed: Value = get(&b, "/locations").await.json().unwrap();
    assert!(
        listed.as_array().unwrap().is_empty(),
        "no registered locations yet"
    );
    policy.set("catalog.location.read", PolicyDecision::Deny);
    assert_eq!(get(&b, "/locations").await.text(), "[]");
    assert_eq!(
        get(&b, "/locations/00000000-0000-0000-0000-000000000000")
            .await
            .status(),
        404
    );
    let page: Value = post(&b, "/locations/by-query", &json!({}))
        .await
        .json()
        .unwrap();
    assert_eq!(page["totalItems"], 0);
    // Validation and analysis are basic permissions: 403 when denied.
    policy.set("catalog.entity.validate", PolicyDecision::Deny);
    let res = post(
        &b,
        "/validate-entity",
        &json!({ "entity": { "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "x" } }, "location": "url:https://example.com/x.yaml" }),
    )
    .await;
    assert_eq!(res.status(), 403, "{}", res.text());
    let error: Value = res.json().unwrap();
    assert_eq!(error["error"]["name"], "NotAllowedError");
    policy.set("catalog.location.analyze", PolicyDecision::Deny);
    let res = post(
        &b,
        "/analyze-location",
        &json!({ "location": { "type": "url", "target": "https://example.com/repo" } }),
    )
    .await;
    assert_eq!(res.status(), 403, "{}", res.text());
    b.stop().await.unwrap();
}

async fn uid_of(b: &TestBackend, policy: &TestPolicy, kind: &str, name: &str) -> String {
    let before = policy.0.lock().unwrap().decisions.get(READ).cloned();
    policy.set(READ, PolicyDecision::Allow);
    let e: Value = get(b, &format!("/entities/by-name/{kind}/default/{name}"))
        .await
        .json()
        .unwrap();
    if let Some(d) = before {
        policy.set(READ, d);
    }
    e["metadata"]["uid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn writes_about_one_entity_hide_it_first_then_need_their_permission() {
    let dir = tempfile::tempdir().unwrap();
    let policy = TestPolicy::default();
    let b = start(dir.path(), &policy).await;
    policy.set(READ, owner_or_api());
    let mine: Vec<String> = components_of("team-a").into_iter().collect();
    let theirs = components_of("team-b").into_iter().next().unwrap();
    policy.allow_resources("catalog.entity.delete", &[&mine[0]]);
    policy.allow_resources("catalog.entity.refresh", &[&mine[0]]);

    // Hidden: 404 with the body a missing uid gets.
    let hidden_uid = uid_of(&b, &policy, "component", theirs.rsplit('/').next().unwrap()).await;
    let res = b
        .client()
        .delete(&format!("/api/catalog/entities/by-uid/{hidden_uid}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let missing = b
        .client()
        .delete("/api/catalog/entities/by-uid/no-such-uid")
        .await
        .unwrap();
    assert_eq!(
        res.text().replace(&hidden_uid, "no-such-uid"),
        missing.text()
    );
    // The policy was not even asked about deleting a hidden entity.
    assert!(!policy.asked().iter().any(|p| p == "catalog.entity.delete"));

    // Visible but not deletable: 403.
    let api_uid = uid_of(&b, &policy, "api", "api-0").await;
    let res = b
        .client()
        .delete(&format!("/api/catalog/entities/by-uid/{api_uid}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "{}", res.text());
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["name"],
        "NotAllowedError"
    );
    assert_eq!(
        get(&b, "/entities/by-name/api/default/api-0")
            .await
            .status(),
        200
    );

    // Refresh: the same two answers.
    let res = post(&b, "/refresh", &json!({ "entityRef": theirs })).await;
    assert_eq!(res.status(), 404);
    let res = post(&b, "/refresh", &json!({ "entityRef": "api:default/api-0" })).await;
    assert_eq!(res.status(), 403);
    let res = post(&b, "/refresh", &json!({ "entityRef": mine[0] })).await;
    assert_eq!(res.status(), 200, "{}", res.text());

    // Allowed: deleted.
    let my_name = mine[0].rsplit('/').next().unwrap();
    let my_uid = uid_of(&b, &policy, "component", my_name).await;
    let res = b
        .client()
        .delete(&format!("/api/catalog/entities/by-uid/{my_uid}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "{}", res.text());
    assert_eq!(
        get(
            &b,
            &format!("/entities/by-name/component/default/{my_name}")
        )
        .await
        .status(),
        404
    );
    b.stop().await.unwrap();
}

#[tokio::test]
async fn registering_locations_needs_the_create_permission() {
    let dir = tempfile::tempdir().unwrap();
    let policy = TestPolicy::default();
    let b = start(dir.path(), &policy).await;
    let extra = dir.path().join("extra.yaml");
    std::fs::write(
        &extra,
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: extra\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
    )
    .unwrap();
    let body = json!({ "type": "file", "target": extra.display().to_string() });
    policy.set("catalog.location.create", PolicyDecision::Deny);
    let res = post(&b, "/locations", &body).await;
    assert_eq!(res.status(), 403, "{}", res.text());
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["name"],
        "NotAllowedError"
    );
    let res = post(&b, "/locations?dryRun=true", &body).await;
    assert_eq!(res.status(), 403, "{}", res.text());
    // Without credentials the default-deny layer answers first.
    let res = b
        .client()
        .unauthenticated()
        .post_json("/api/catalog/locations", &body)
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Allowed: registered; deleting it needs catalog.location.delete.
    policy.set("catalog.location.create", PolicyDecision::Allow);
    let res = post(&b, "/locations", &body).await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let id = res.json::<Value>().unwrap()["location"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    policy.set("catalog.location.delete", PolicyDecision::Deny);
    let res = b
        .client()
        .delete(&format!("/api/catalog/locations/{id}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    policy.set("catalog.location.delete", PolicyDecision::Allow);
    let res = b
        .client()
        .delete(&format!("/api/catalog/locations/{id}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "{}", res.text());
    b.stop().await.unwrap();
}

/// The permission framework itself: the `permission` plugin with the declarative policy of
/// config, users deciding by their ownership refs, conditions about one entity resolved
/// through the catalog's own rules.
#[tokio::test]
async fn the_declarative_policy_filters_by_ownership() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, catalog_text()).unwrap();
    let b = TestBackend::builder()
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ minutes: 60 }}\n  rules:\n    - allow: [Component, API, Location, Group]\n  locations:\n    - type: file\n      target: {}\n",
            file.display()
        ))
        .config_yaml(
            r#"
permission:
  enabled: true
  policy:
    roles:
      - name: everyone
        members: ['*']
        permissions:
          - name: catalog.entity.read
            decision: conditional
            conditions:
              anyOf:
                - rule: IS_ENTITY_OWNER
                  params: { claims: $ownershipEntityRefs }
                - rule: IS_ENTITY_KIND
                  params: { kinds: [API] }
          - name: catalog.entity.delete
            decision: conditional
            conditions:
              rule: IS_ENTITY_OWNER
              params: { claims: $ownershipEntityRefs }
"#,
        )
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(backlot::plugins::permission::backend::plugin()))
        .start()
        .await
        .expect("backend starts");
    let jane = b
        .client()
        .as_user_owning("user:default/jane", &["group:default/team-a"]);
    let mut allowed = components_of("team-a");
    allowed.extend(apis());
    let page: Value = jane
        .post_json("/api/catalog/entities/by-query", &json!({ "limit": 200 }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(refs(&page["items"]), allowed);
    assert_eq!(page["totalItems"], allowed.len());

    // A service sees everything.
    let service = b.client().as_service("plugin:search");
    let page: Value = service
        .post_json("/api/catalog/entities/by-query", &json!({ "limit": 1 }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(page["totalItems"], 3 + COMPONENTS + APIS + 1);
    let uid_of = |name: &'static str, kind: &'static str| {
        let service = service.clone();
        async move {
            let e: Value = service
                .get(&format!(
                    "/api/catalog/entities/by-name/{kind}/default/{name}"
                ))
                .await
                .unwrap()
                .json()
                .unwrap();
            e["metadata"]["uid"].as_str().unwrap().to_owned()
        }
    };
    // Hidden from jane: 404. Visible (an API of team-c) but not hers: 403. Hers: deleted.
    let theirs = uid_of("c-01", "component").await;
    let res = jane
        .delete(&format!("/api/catalog/entities/by-uid/{theirs}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "{}", res.text());
    let api = uid_of("api-0", "api").await;
    let res = jane
        .delete(&format!("/api/catalog/entities/by-uid/{api}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "{}", res.text());
    let mine = uid_of("c-00", "component").await;
    let res = jane
        .delete(&format!("/api/catalog/entities/by-uid/{mine}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "{}", res.text());
    // Registering locations is not granted: the default decision denies it.
    let res = jane
        .post_json(
            "/api/catalog/locations",
            &json!({ "type": "url", "target": "https://example.com/catalog-info.yaml" }),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "{}", res.text());
    // The catalog's metadata lists its permissions and rules.
    let metadata: Value = service
        .get("/api/catalog/.well-known/backstage/permissions/metadata")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(metadata["permissions"].as_array().unwrap().len(), 9);
    let mut rules: Vec<&str> = metadata["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    rules.sort_unstable();
    assert_eq!(
        rules,
        [
            "HAS_ANNOTATION",
            "HAS_LABEL",
            "HAS_METADATA",
            "HAS_SPEC",
            "IS_ENTITY_KIND",
            "IS_ENTITY_OWNER"
        ]
    );
    b.stop().await.unwrap();
}

/// The declarative policy of the ownership test, as config.
const OWNER_OR_API_POLICY: &str = r#"
permission:
  enabled: true
  policy:
    roles:
      - name: everyone
        members: ['*']
        permissions:
          - name: catalog.entity.read
            decision: conditional
            conditions:
              anyOf:
                - rule: IS_ENTITY_OWNER
                  params: { claims: $ownershipEntityRefs }
                - rule: IS_ENTITY_KIND
                  params: { kinds: [API] }
"#;

/// Search results come from every entity (the collator reads as the search plugin), but a
/// reader sees only the documents of entities it may read, page after page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_shows_only_documents_of_readable_entities() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, catalog_text()).unwrap();
    let b = TestBackend::builder()
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ minutes: 60 }}\n  rules:\n    - allow: [Component, API, Location, Group]\n  locations:\n    - type: file\n      target: {}\n",
            file.display()
        ))
        .config_yaml(OWNER_OR_API_POLICY)
        .config_yaml(
            "search:\n  embedded: { inMemory: true }\n  maxPageLimit: 5\n  collators:\n    catalog:\n      schedule: { frequency: { trigger: manual }, timeout: { minutes: 1 } }\n",
        )
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(backlot::plugins::permission::backend::plugin()))
        .feature(Feature::plugin(backlot::plugins::search::backend::SearchPlugin::new()))
        .feature(Feature::module(
            backlot::plugins::search::backend::SearchCatalogCollatorModule,
        ))
        .start()
        .await
        .expect("backend starts");
    let service = b.client().as_service("plugin:search");
    let path = "/api/search/.backstage/scheduler/v1/tasks/search_index_software_catalog/trigger";
    let res = service
        .execute(service.request(reqwest::Method::POST, path))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let everything = 3 + COMPONENTS + APIS + 1;
    let mut indexed = 0;
    for _ in 0..200 {
        let body: Value = service
            .get("/api/search/query?pageLimit=1")
            .await
            .unwrap()
            .json()
            .unwrap();
        indexed = body["numberOfResults"].as_u64().unwrap_or(0) as usize;
        if indexed == everything {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(indexed, everything, "the service sees every document");

    let jane = b
        .client()
        .as_user_owning("user:default/jane", &["group:default/team-a"]);
    let mut allowed = components_of("team-a");
    allowed.extend(apis());
    let mut seen = Vec::new();
    let mut ranks = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut url = "/api/search/query?pageLimit=4".to_owned();
        if let Some(c) = &cursor {
            url.push_str(&format!("&pageCursor={}", urlencoding(c)));
        }
        let res = jane.get(&url).await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text());
        let body: Value = res.json().unwrap();
        assert!(body.get("numberOfResults").is_none(), "{body}");
        for r in body["results"].as_array().unwrap() {
            seen.push(
                r["document"]["authorization"]["resourceRef"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            ranks.push(r["rank"].as_u64().unwrap());
        }
        match body["nextPageCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), allowed.len(), "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), allowed);
    assert_eq!(ranks, (1..=allowed.len() as u64).collect::<Vec<_>>());
    b.stop().await.unwrap();
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
