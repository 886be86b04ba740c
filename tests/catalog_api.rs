#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! The catalog REST API over a real backend, once per database backend
//! (`sqlite::*`, `postgres::*`, `mysql::*`; see `support::per_database_backend!`).

#[macro_use]
mod support;

use std::collections::HashSet;
use std::path::Path;

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::backend::generate::synthetic_catalog_yaml;
use backlot::services::database::{MIGRATIONS_TABLE, Sql};
use backlot::services::logger::LogLevel;
use backlot::testing::{TestBackend, TestResponse};
use serde_json::{Value, json};

const ALL_KINDS: &str =
    "[Component, API, Location, Group, User, System, Domain, Resource, Template]";

fn database_yaml() -> String {
    support::database_yaml("cat")
}

async fn start(catalog_yaml: &str) -> TestBackend {
    TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(database_yaml())
        .config_yaml(catalog_yaml.to_owned())
        .start()
        .await
        .expect("backend starts")
}

fn config(locations: &[&Path], rules: &str, extra: &str) -> String {
    let mut s =
        format!("catalog:\n  processingInterval: {{ minutes: 60 }}\n{rules}{extra}  locations:\n");
    for l in locations {
        s.push_str(&format!(
            "    - type: file\n      target: {}\n",
            l.display()
        ));
    }
    if locations.is_empty() {
        s.push_str("    []\n");
    }
    s
}

fn all_kinds() -> String {
    format!("  rules:\n    - allow: {ALL_KINDS}\n")
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn component(name: &str, extra_spec: &str) -> String {
    format!(
        "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  tags: [java]\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n{extra_spec}"
    )
}

const ORG: &str = "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: jane\nspec:\n  memberOf: [team-a]\n";

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

async fn delete(b: &TestBackend, path: &str) -> TestResponse {
    b.client()
        .delete(&format!("/api/catalog{path}"))
        .await
        .unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_error(res: &TestResponse, status: u16, name: &str) {
    assert_eq!(res.status(), status, "{}", res.text());
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["name"], name, "{body}");
    assert_eq!(body["response"]["statusCode"], status);
}

/// `GET path`, which must answer 200, as JSON.
async fn entity(b: &TestBackend, path: &str) -> Value {
    let res = get(b, path).await;
    assert_eq!(res.status(), 200, "{path}: {}", res.text());
    res.json().unwrap()
}

fn has_relation(e: &Value, t: &str, target: &str) -> bool {
    e["relations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["type"] == t && r["targetRef"] == target)
}

async fn config_locations_are_ingested_with_relations_annotations_and_identity() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "catalog.yaml",
        &format!("{}{ORG}", component("svc-a", "  system: sys\n")),
    );
    let b = start(&config(&[&file], &all_kinds(), "")).await;

    let res = get(&b, "/entities/by-name/component/default/svc-a").await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let c: Value = res.json().unwrap();
    assert!(has_relation(&c, "ownedBy", "group:default/team-a"), "{c}");
    assert!(has_relation(&c, "partOf", "system:default/sys"));
    let location = format!("file:{}", file.display());
    assert_eq!(
        c["metadata"]["annotations"]["backstage.io/managed-by-location"],
        location.as_str()
    );
    assert_eq!(
        c["metadata"]["annotations"]["backstage.io/managed-by-origin-location"],
        location.as_str()
    );
    assert_eq!(c["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(!c["metadata"]["etag"].as_str().unwrap().is_empty());
    assert!(c.get("status").is_none(), "{c}");

    // Case-insensitive lookups, reverse relations.
    let g: Value = get(&b, "/entities/by-name/Group/Default/TEAM-A")
        .await
        .json()
        .unwrap();
    assert!(
        has_relation(&g, "ownerOf", "component:default/svc-a"),
        "{g}"
    );
    assert!(has_relation(&g, "hasMember", "user:default/jane"));
    let u: Value = get(&b, "/entities/by-name/user/default/jane")
        .await
        .json()
        .unwrap();
    assert!(has_relation(&u, "memberOf", "group:default/team-a"));

    // The config location is itself a Location entity.
    let locations: Value = get(&b, "/entities?filter=kind=location")
        .await
        .json()
        .unwrap();
    assert_eq!(locations.as_array().unwrap().len(), 1);
    assert!(
        locations[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("generated-")
    );

    assert_error(
        &get(&b, "/entities/by-name/component/default/nope").await,
        404,
        "NotFoundError",
    );
    b.stop().await.unwrap();
}

async fn get_entities_filters_combine_like_backstage() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}{}{}{ORG}---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: api-x\nspec:\n  type: openapi\n  lifecycle: production\n  owner: user:jane\n  definition: x\n",
        component("svc-a", ""),
        component("web-b", "").replace("type: service", "type: website"),
        component("lib-c", "")
            .replace("tags: [java]", "tags: [rust]")
            .replace("type: service", "type: library"),
    );
    let file = write(dir.path(), "catalog.yaml", &text);
    let b = start(&config(&[&file], &all_kinds(), "")).await;

    let q = |f: &'static str| {
        let b = &b;
        async move {
            let res = get(b, f).await;
            assert_eq!(res.status(), 200, "{f}: {}", res.text());
            let mut n = names(&res.json().unwrap());
            n.sort();
            n
        }
    };
    assert_eq!(
        q("/entities?filter=kind=component").await,
        ["lib-c", "svc-a", "web-b"]
    );
    assert_eq!(
        q("/entities?filter=KIND=Component,spec.type=SERVICE").await,
        ["svc-a"]
    );
    assert_eq!(
        q("/entities?filter=kind=component,spec.type=service&filter=kind=api").await,
        ["api-x", "svc-a"]
    );
    assert_eq!(
        q("/entities?filter=kind=component,kind=api,spec.type=website").await,
        ["web-b"]
    );
    assert_eq!(q("/entities?filter=metadata.tags=rust").await, ["lib-c"]);
    assert_eq!(
        q("/entities?filter=metadata.tags.java").await,
        ["svc-a", "web-b"]
    );
    assert_eq!(q("/entities?filter=spec.definition").await, ["api-x"]);
    assert_eq!(
        q("/entities?filter=relations.ownedBy=user:default/jane").await,
        ["api-x"]
    );
    assert_eq!(
        q("/entities?filter=relations.ownedby=GROUP:default/team-a").await,
        ["lib-c", "svc-a", "web-b"]
    );
    assert_eq!(
        q("/entities?filter=kind=user,relations.memberOf=group:default/team-a").await,
        ["jane"]
    );
    assert!(q("/entities?filter=kind=nothing").await.is_empty());

    // fields
    let v: Value = get(&b, "/entities?filter=kind=api&fields=kind,metadata.name")
        .await
        .json()
        .unwrap();
    assert_eq!(
        v,
        json!([{ "kind": "API", "metadata": { "name": "api-x" } }])
    );

    // order
    let v: Value = get(
        &b,
        "/entities?filter=kind=component&order=desc:metadata.name",
    )
    .await
    .json()
    .unwrap();
    assert_eq!(names(&v), ["web-b", "svc-a", "lib-c"]);

    // offset/limit walk every entity once
    let all: Value = get(&b, "/entities").await.json().unwrap();
    let total = all.as_array().unwrap().len();
    assert_eq!(total, 7); // 3 components, group, user, api, location
    let mut seen = Vec::new();
    for offset in (0..total + 2).step_by(2) {
        let page: Value = get(
            &b,
            &format!("/entities?limit=2&offset={offset}&order=asc:metadata.name"),
        )
        .await
        .json()
        .unwrap();
        seen.extend(names(&page));
    }
    assert_eq!(seen.len(), total);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), total);

    // Link-header paging with `after`
    let mut seen = Vec::new();
    let mut next = Some("/entities?limit=3".to_owned());
    while let Some(path) = next.take() {
        let res = get(&b, &path).await;
        assert_eq!(res.status(), 200, "{}", res.text());
        seen.extend(names(&res.json().unwrap()));
        if let Some(link) = res.header("link") {
            let url = link.trim_start_matches('<').split('>').next().unwrap();
            next = Some(url.to_owned());
        }
    }
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), total);
    assert_eq!(seen.len(), total);

    assert_error(&get(&b, "/entities?filter==x").await, 400, "InputError");
    assert_error(&get(&b, "/entities?limit=0").await, 400, "InputError");
    assert_error(&get(&b, "/entities?offset=-1").await, 400, "InputError");
    assert_error(
        &get(&b, "/entities?order=up:metadata.name").await,
        400,
        "InputError",
    );
    assert_error(&get(&b, "/entities?after=").await, 400, "InputError");
    b.stop().await.unwrap();
}

async fn by_query_cursors_walk_every_page_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..25 {
        text.push_str(&component(&format!("svc-{i:02}"), ""));
    }
    let file = write(dir.path(), "catalog.yaml", &text);
    let b = start(&config(&[&file], "", "")).await;

    let first: Value = get(
        &b,
        "/entities/by-query?filter=kind=component&limit=7&orderField=metadata.name,desc",
    )
    .await
    .json()
    .unwrap();
    assert_eq!(first["totalItems"], 25);
    assert!(first["pageInfo"].get("prevCursor").is_none());
    let mut seen: Vec<String> = names(&first["items"]);
    assert_eq!(seen[0], "svc-24");
    let mut cursor = first["pageInfo"]["nextCursor"].as_str().map(str::to_owned);
    let mut pages = 1;
    while let Some(c) = cursor.take() {
        let page: Value = get(&b, &format!("/entities/by-query?cursor={c}&limit=7"))
            .await
            .json()
            .unwrap();
        assert!(page["pageInfo"]["prevCursor"].is_string());
        assert_eq!(page["totalItems"], 25);
        seen.extend(names(&page["items"]));
        cursor = page["pageInfo"]["nextCursor"].as_str().map(str::to_owned);
        pages += 1;
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "descending order kept across pages");

    // full text
    let v: Value = get(
        &b,
        "/entities/by-query?fullTextFilterTerm=SVC-1&fullTextFilterFields=metadata.name&limit=100",
    )
    .await
    .json()
    .unwrap();
    assert_eq!(v["totalItems"], 10);
    let v: Value = get(
        &b,
        "/entities/by-query?fullTextFilterTerm=svc-07&fields=metadata.name",
    )
    .await
    .json()
    .unwrap();
    assert_eq!(v["items"], json!([{ "metadata": { "name": "svc-07" } }]));

    assert_error(
        &get(&b, "/entities/by-query?cursor=not-a-cursor").await,
        400,
        "InputError",
    );
    assert_error(
        &get(&b, "/entities/by-query?orderField=metadata.name,sideways").await,
        400,
        "InputError",
    );
    assert_error(
        &get(&b, "/entities/by-query?limit=x").await,
        400,
        "InputError",
    );
    b.stop().await.unwrap();
}

async fn by_refs_uid_ancestry_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "catalog.yaml", &component("svc-a", ""));
    let b = start(&config(&[&file], "", "")).await;

    let v: Value = post(
        &b,
        "/entities/by-refs",
        &json!({ "entityRefs": ["component:default/nope", "Component:svc-a"], "fields": ["metadata.name"] }),
    )
    .await
    .json()
    .unwrap();
    assert_eq!(
        v,
        json!({ "items": [null, { "metadata": { "name": "svc-a" } }] })
    );
    let v: Value = post(
        &b,
        "/entities/by-refs?filter=kind=api",
        &json!({ "entityRefs": ["component:svc-a"] }),
    )
    .await
    .json()
    .unwrap();
    assert_eq!(v, json!({ "items": [null] }));
    assert_error(
        &post(&b, "/entities/by-refs", &json!({ "entityRefs": ["svc-a"] })).await,
        400,
        "InputError",
    );
    assert_error(
        &post(&b, "/entities/by-refs", &json!({ "refs": [] })).await,
        400,
        "InputError",
    );

    let c: Value = get(&b, "/entities/by-name/component/default/svc-a")
        .await
        .json()
        .unwrap();
    let uid = c["metadata"]["uid"].as_str().unwrap().to_owned();
    let by_uid: Value = get(&b, &format!("/entities/by-uid/{uid}"))
        .await
        .json()
        .unwrap();
    assert_eq!(by_uid, c);
    assert_error(
        &get(&b, "/entities/by-uid/00000000-0000-0000-0000-000000000000").await,
        404,
        "NotFoundError",
    );

    let a: Value = get(&b, "/entities/by-name/component/default/svc-a/ancestry")
        .await
        .json()
        .unwrap();
    assert_eq!(a["rootEntityRef"], "component:default/svc-a");
    let items = a["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["entity"]["metadata"]["name"], "svc-a");
    let parent = items[0]["parentEntityRefs"][0].as_str().unwrap();
    assert!(
        parent.starts_with("location:default/generated-"),
        "{parent}"
    );
    assert_eq!(items[1]["parentEntityRefs"], json!([]));
    assert_error(
        &get(&b, "/entities/by-name/component/default/x/ancestry").await,
        404,
        "NotFoundError",
    );

    // Delete: that entity is gone at once; its parent, which still emits it, is reprocessed
    // right away (as in Backstage), so it comes back with a new uid within a refresh tick.
    assert_eq!(
        delete(&b, &format!("/entities/by-uid/{uid}"))
            .await
            .status(),
        204
    );
    assert_error(
        &get(&b, &format!("/entities/by-uid/{uid}")).await,
        404,
        "NotFoundError",
    );
    assert_error(
        &delete(&b, &format!("/entities/by-uid/{uid}")).await,
        404,
        "NotFoundError",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let back = loop {
        let res = get(&b, "/entities/by-name/component/default/svc-a").await;
        if res.status() == 200 || std::time::Instant::now() > deadline {
            break res;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(back.status(), 200, "the parent brings it back by itself");
    let back: Value = back.json().unwrap();
    assert_ne!(
        back["metadata"]["uid"].as_str(),
        Some(uid.as_str()),
        "a new uid"
    );
    assert_eq!(
        post(&b, "/refresh", &json!({ "entityRef": parent }))
            .await
            .status(),
        200
    );
    b.stop().await.unwrap();
}

/// Backstage sorts the reference lists of the built-in kinds' `spec` while processing, so
/// clients see the same `spec` whatever order the file lists them in; other lists keep theirs.
async fn spec_reference_lists_are_served_sorted_like_backstage() {
    let dir = tempfile::tempdir().unwrap();
    let group = "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: [team-z, team-b]\n  members: [zoe, adam]\n";
    let user = "---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: zoe\nspec:\n  memberOf: [team-z, team-a]\n";
    let file = write(
        dir.path(),
        "catalog.yaml",
        &format!(
            "{}{group}{user}",
            component(
                "svc-a",
                "  providesApis: [zeta, alpha]\n  consumesApis: [mu, beta]\n  dependsOn: ['resource:db', 'component:auth']\n  dependencyOf: ['component:web', 'component:app']\n"
            )
        ),
    );
    let b = start(&config(&[&file], &all_kinds(), "")).await;
    let c: Value = get(&b, "/entities/by-name/component/default/svc-a")
        .await
        .json()
        .unwrap();
    assert_eq!(c["spec"]["providesApis"], json!(["alpha", "zeta"]), "{c}");
    assert_eq!(c["spec"]["consumesApis"], json!(["beta", "mu"]));
    assert_eq!(
        c["spec"]["dependsOn"],
        json!(["component:auth", "resource:db"])
    );
    assert_eq!(
        c["spec"]["dependencyOf"],
        json!(["component:app", "component:web"])
    );
    assert_eq!(c["metadata"]["tags"], json!(["java"]));
    let g: Value = get(&b, "/entities/by-name/group/default/team-a")
        .await
        .json()
        .unwrap();
    assert_eq!(g["spec"]["children"], json!(["team-b", "team-z"]));
    assert_eq!(g["spec"]["members"], json!(["adam", "zoe"]));
    let u: Value = get(&b, "/entities/by-name/user/default/zoe")
        .await
        .json()
        .unwrap();
    assert_eq!(u["spec"]["memberOf"], json!(["team-a", "team-z"]));
    b.stop().await.unwrap();
}

async fn facets_count_values() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}{}{}",
        component("a", ""),
        component("b", ""),
        component("c", "")
            .replace("type: service", "type: website")
            .replace("tags: [java]", "tags: [java, go]")
    );
    let file = write(dir.path(), "catalog.yaml", &text);
    let b = start(&config(&[&file], "", "")).await;
    let v: Value = get(
        &b,
        "/entity-facets?facet=kind&facet=spec.type&facet=metadata.tags",
    )
    .await
    .json()
    .unwrap();
    assert_eq!(
        v["facets"]["kind"],
        json!([{ "value": "Component", "count": 3 }, { "value": "Location", "count": 1 }])
    );
    // the config location's Location entity has spec.type file
    assert_eq!(
        v["facets"]["spec.type"],
        json!([{ "value": "service", "count": 2 }, { "value": "file", "count": 1 }, { "value": "website", "count": 1 }])
    );
    assert_eq!(
        v["facets"]["metadata.tags"],
        json!([{ "value": "java", "count": 3 }, { "value": "go", "count": 1 }])
    );
    let v: Value = get(
        &b,
        "/entity-facets?facet=metadata.tags&filter=spec.type=website",
    )
    .await
    .json()
    .unwrap();
    assert_eq!(
        v["facets"]["metadata.tags"],
        json!([{ "value": "go", "count": 1 }, { "value": "java", "count": 1 }])
    );
    assert_error(&get(&b, "/entity-facets").await, 400, "InputError");
    assert_error(
        &get(&b, "/entity-facets?facet=kind&filter=,=").await,
        400,
        "InputError",
    );
    b.stop().await.unwrap();
}

async fn registered_locations_add_list_get_delete() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "team/catalog-info.yaml",
        &format!("{}{}", component("svc-a", ""), component("svc-b", "")),
    );
    let b = start(&config(&[], "", "")).await;
    let body = json!({ "type": "file", "target": file.display().to_string() });

    // dry run: nothing stored
    let res = post(&b, "/locations?dryRun=true", &body).await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let v: Value = res.json().unwrap();
    assert_eq!(v["exists"], false);
    assert_eq!(v["entities"].as_array().unwrap().len(), 3);
    assert_eq!(
        get(&b, "/locations").await.json::<Value>().unwrap(),
        json!([])
    );

    let res = post(&b, "/locations", &body).await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let v: Value = res.json().unwrap();
    let id = v["location"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["location"]["type"], "file");
    assert_eq!(v["location"]["target"], file.display().to_string());
    assert_eq!(v["entities"].as_array().unwrap().len(), 3);
    // visible at once
    assert_eq!(
        get(&b, "/entities/by-name/component/default/svc-b")
            .await
            .status(),
        200
    );

    let list: Value = get(&b, "/locations").await.json().unwrap();
    assert_eq!(
        list,
        json!([{ "data": { "id": id, "type": "file", "target": file.display().to_string() } }])
    );
    let one: Value = get(&b, &format!("/locations/{id}")).await.json().unwrap();
    assert_eq!(one["id"], id.as_str());
    let by_entity: Value = get(&b, "/locations/by-entity/component/default/svc-a")
        .await
        .json()
        .unwrap();
    assert_eq!(by_entity["id"], id.as_str());
    assert_error(
        &get(&b, "/locations/by-entity/component/default/nope").await,
        404,
        "NotFoundError",
    );

    assert_error(&post(&b, "/locations", &body).await, 409, "ConflictError");
    let v: Value = post(&b, "/locations?dryRun=true", &body)
        .await
        .json()
        .unwrap();
    assert_eq!(v["exists"], true);
    assert_error(
        &post(&b, "/locations", &json!({ "type": "file", "target": dir.path().join("missing.yaml").display().to_string() })).await,
        400,
        "InputError",
    );
    assert_error(
        &post(&b, "/locations", &json!({ "type": "file" })).await,
        400,
        "InputError",
    );
    assert_error(
        &post(&b, "/locations", &json!({ "type": "", "target": "x" })).await,
        400,
        "InputError",
    );
    assert_error(&get(&b, "/locations/nope").await, 404, "NotFoundError");

    assert_eq!(delete(&b, &format!("/locations/{id}")).await.status(), 204);
    assert_error(
        &get(&b, "/entities/by-name/component/default/svc-a").await,
        404,
        "NotFoundError",
    );
    let all: Value = get(&b, "/entities").await.json().unwrap();
    assert_eq!(all, json!([]));
    assert_error(
        &delete(&b, &format!("/locations/{id}")).await,
        404,
        "NotFoundError",
    );
    b.stop().await.unwrap();
}

async fn orphans_are_deleted_by_default_and_marked_with_keep() {
    for strategy in ["delete", "keep"] {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "catalog.yaml",
            &format!("{}{}", component("stay", ""), component("go", "")),
        );
        let b = start(&config(
            &[&file],
            "",
            &format!("  orphanStrategy: {strategy}\n"),
        ))
        .await;
        assert_eq!(
            get(&b, "/entities/by-name/component/default/go")
                .await
                .status(),
            200
        );
        write(dir.path(), "catalog.yaml", &component("stay", ""));
        let stay: Value = get(&b, "/entities/by-name/component/default/stay")
            .await
            .json()
            .unwrap();
        let location = stay["metadata"]["annotations"]["backstage.io/managed-by-origin-location"]
            .as_str()
            .unwrap();
        let locations: Value = get(&b, "/entities?filter=kind=location")
            .await
            .json()
            .unwrap();
        let loc_name = locations[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(location.starts_with("file:"));
        assert_eq!(
            post(
                &b,
                "/refresh",
                &json!({ "entityRef": format!("location:default/{loc_name}") })
            )
            .await
            .status(),
            200
        );
        let res = get(&b, "/entities/by-name/component/default/go").await;
        if strategy == "delete" {
            assert_error(&res, 404, "NotFoundError");
        } else {
            let v: Value = res.json().unwrap();
            assert_eq!(v["metadata"]["annotations"]["backstage.io/orphan"], "true");
            let orphans: Value = get(
                &b,
                "/entities?filter=metadata.annotations.backstage.io/orphan=true",
            )
            .await
            .json()
            .unwrap();
            assert_eq!(names(&orphans), ["go"]);
        }
        let stay: Value = get(&b, "/entities/by-name/component/default/stay")
            .await
            .json()
            .unwrap();
        assert!(
            stay["metadata"]["annotations"]
                .get("backstage.io/orphan")
                .is_none()
        );
        b.stop().await.unwrap();
    }
}

async fn conflicting_entity_keeps_the_first_and_reports_on_the_second_location() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(
        dir.path(),
        "first.yaml",
        &component("dup", "  system: from-first\n"),
    );
    let second = write(
        dir.path(),
        "second.yaml",
        &format!(
            "{}{}",
            component("dup", "  system: from-second\n"),
            component("other", "")
        ),
    );
    let b = start(&config(&[&first, &second], "", "")).await;
    let dup: Value = get(&b, "/entities/by-name/component/default/dup")
        .await
        .json()
        .unwrap();
    assert_eq!(dup["spec"]["system"], "from-first");
    assert_eq!(
        get(&b, "/entities/by-name/component/default/other")
            .await
            .status(),
        200
    );
    let locations: Value = get(&b, "/entities?filter=kind=location")
        .await
        .json()
        .unwrap();
    let target = |l: &Value| l["spec"]["target"].as_str().unwrap().to_owned();
    let second_loc = locations
        .as_array()
        .unwrap()
        .iter()
        .find(|l| target(l) == second.display().to_string())
        .unwrap();
    let items = second_loc["status"]["items"]
        .as_array()
        .expect("conflict recorded");
    assert!(items.iter().any(|i| {
        i["error"]["name"] == "ConflictError"
            && i["message"]
                .as_str()
                .unwrap()
                .contains("component:default/dup")
    }));
    let first_loc = locations
        .as_array()
        .unwrap()
        .iter()
        .find(|l| target(l) == first.display().to_string())
        .unwrap();
    assert!(first_loc.get("status").is_none());
    b.stop().await.unwrap();
}

async fn a_conflict_warning_reaches_the_plugin_logger() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), "first.yaml", &component("dup", ""));
    let second = write(dir.path(), "second.yaml", &component("dup", ""));
    let b = start(&config(&[&first, &second], "", "")).await;
    let records = b.logger().records();
    let warning = records
        .iter()
        .find(|r| r.level == LogLevel::Warn && r.message.contains("conflicts with the same entity"))
        .expect("conflict warning logged through LOGGER");
    assert_eq!(warning.field("plugin"), Some("catalog"));
    assert_eq!(warning.field("entity"), Some("component:default/dup"));
    assert_eq!(
        warning.field("location"),
        Some(format!("file:{}", second.display()).as_str())
    );
    b.stop().await.unwrap();
}

async fn broken_files_and_entities_do_not_block_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write(dir.path(), "broken.yaml", "kind: [unclosed\n");
    let mixed = write(
        dir.path(),
        "mixed.yaml",
        &format!(
            "{}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Bad Name!\nspec:\n  type: service\n  lifecycle: x\n  owner: t\n---\n- not an object\n---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: not-allowed\nspec:\n  type: team\n  children: []\n",
            component("good", "")
        ),
    );
    let missing = dir.path().join("missing.yaml");
    let b = start(&config(&[&broken, &mixed, &missing], "", "")).await;
    assert_eq!(
        get(&b, "/entities/by-name/component/default/good")
            .await
            .status(),
        200
    );
    assert_error(
        &get(&b, "/entities/by-name/group/default/not-allowed").await,
        404,
        "NotFoundError",
    );
    let locations: Value = get(&b, "/entities?filter=kind=location")
        .await
        .json()
        .unwrap();
    assert_eq!(locations.as_array().unwrap().len(), 3);
    let status_of = |p: &Path| {
        let l = locations
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["spec"]["target"] == p.display().to_string())
            .unwrap();
        l["status"]["items"].as_array().cloned().unwrap_or_default()
    };
    assert!(!status_of(&broken).is_empty());
    let mixed_errors = status_of(&mixed);
    assert!(
        mixed_errors
            .iter()
            .any(|i| i["message"].as_str().unwrap().contains("not an object")),
        "{mixed_errors:?}"
    );
    assert!(
        mixed_errors
            .iter()
            .any(|i| i["error"]["name"] == "NotAllowedError")
    );
    assert!(
        status_of(&missing)
            .iter()
            .any(|i| i["error"]["name"] == "NotFoundError")
    );
    b.stop().await.unwrap();
}

async fn placeholders_resolve_relative_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "apis/openapi.yaml", "openapi: 3.0.0\n");
    write(dir.path(), "apis/meta.json", "{\"team\": \"a\", \"n\": 1}");
    write(dir.path(), "apis/extra.yaml", "list: [1, 2]\n");
    let file = write(
        dir.path(),
        "apis/api.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: petstore\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./openapi.yaml\n  meta:\n    $json: meta.json\n  extra:\n    $yaml: ./extra.yaml\n",
    );
    let b = start(&config(&[&file], "", "")).await;
    let api: Value = get(&b, "/entities/by-name/api/default/petstore")
        .await
        .json()
        .unwrap();
    assert_eq!(api["spec"]["definition"], "openapi: 3.0.0\n");
    assert_eq!(api["spec"]["meta"], json!({ "team": "a", "n": 1 }));
    assert_eq!(api["spec"]["extra"], json!({ "list": [1, 2] }));
    b.stop().await.unwrap();
}

async fn refresh_picks_up_changes_and_rejects_bad_refs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "catalog.yaml", &component("svc", ""));
    let b = start(&config(&[&file], "", "")).await;
    let before: Value = get(&b, "/entities/by-name/component/default/svc")
        .await
        .json()
        .unwrap();
    write(
        dir.path(),
        "catalog.yaml",
        &component("svc", "").replace("lifecycle: production", "lifecycle: deprecated"),
    );
    assert_eq!(
        post(
            &b,
            "/refresh",
            &json!({ "entityRef": "component:default/svc" })
        )
        .await
        .status(),
        200
    );
    let after: Value = get(&b, "/entities/by-name/component/default/svc")
        .await
        .json()
        .unwrap();
    assert_eq!(after["spec"]["lifecycle"], "deprecated");
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_ne!(after["metadata"]["etag"], before["metadata"]["etag"]);
    assert_error(
        &post(
            &b,
            "/refresh",
            &json!({ "entityRef": "component:default/nope" }),
        )
        .await,
        404,
        "NotFoundError",
    );
    assert_error(
        &post(&b, "/refresh", &json!({ "entityRef": "nokind" })).await,
        400,
        "InputError",
    );
    assert_error(&post(&b, "/refresh", &json!({})).await, 400, "InputError");
    b.stop().await.unwrap();
}

/// A first processing writes relations without looking for old ones; a later one must still
/// replace them, on both sides of each relation.
async fn reprocessing_replaces_relations_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let team_b = "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-b\nspec:\n  type: team\n  children: []\n";
    let file = write(
        dir.path(),
        "catalog.yaml",
        &format!("{}{ORG}{team_b}", component("svc", "")),
    );
    let b = start(&config(&[&file], &all_kinds(), "")).await;
    let relations = |e: &Value| e["relations"].as_array().unwrap().len();
    let svc = entity(&b, "/entities/by-name/component/default/svc").await;
    assert!(
        has_relation(&svc, "ownedBy", "group:default/team-a"),
        "{svc}"
    );
    assert_eq!(relations(&svc), 1, "{svc}");
    let a = entity(&b, "/entities/by-name/group/default/team-a").await;
    assert!(has_relation(&a, "ownerOf", "component:default/svc"), "{a}");

    write(
        dir.path(),
        "catalog.yaml",
        &format!(
            "{}{ORG}{team_b}",
            component("svc", "").replace("owner: team-a", "owner: team-b")
        ),
    );
    let location = svc["metadata"]["annotations"]["backstage.io/managed-by-location"]
        .as_str()
        .unwrap()
        .to_owned();
    // The location reads the file again; the component, changed, is processed again.
    let locations: Value = entity(&b, "/entities?filter=kind=location").await;
    let loc = locations[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = json!({ "entityRef": format!("location:default/{loc}") });
    assert_eq!(post(&b, "/refresh", &refresh).await.status(), 200);
    let svc = entity(&b, "/entities/by-name/component/default/svc").await;
    assert_eq!(
        svc["metadata"]["annotations"]["backstage.io/managed-by-location"],
        location.as_str()
    );
    assert_eq!(svc["spec"]["owner"], "team-b", "{svc}");
    assert!(
        has_relation(&svc, "ownedBy", "group:default/team-b"),
        "{svc}"
    );
    assert_eq!(relations(&svc), 1, "{svc}");
    let a = entity(&b, "/entities/by-name/group/default/team-a").await;
    assert!(!has_relation(&a, "ownerOf", "component:default/svc"), "{a}");
    let team_b = entity(&b, "/entities/by-name/group/default/team-b").await;
    assert!(
        has_relation(&team_b, "ownerOf", "component:default/svc"),
        "{team_b}"
    );
    assert_eq!(relations(&team_b), 1, "{team_b}");
    b.stop().await.unwrap();
}

/// Text with every character PostgreSQL's `COPY` text format escapes (backslash, tab, newline,
/// carriage return, and `\N` / `\.` spelled out) reaches every table and comes back as written:
/// the first backend processes and stitches it, a second one on the same database serves it
/// from what the first one stored.
async fn texts_with_copy_escapes_round_trip_through_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    let db = match support::database_backend() {
        "sqlite" => format!(
            "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\n",
            db_dir.path().display()
        ),
        _ => database_yaml(),
    };
    let tricky = "tab\there\nnewline\r\nback\\slash \\N \\. \\\t \"quoted\" naïve ☃ 🦀 \\";
    let quoted = serde_json::to_string(tricky).unwrap();
    let file = write(
        dir.path(),
        "catalog.yaml",
        &format!(
            "{}{ORG}",
            component("svc", "").replace(
                "  tags: [java]\n",
                &format!("  tags: [java]\n  description: {quoted}\n  annotations:\n    example.com/note: {quoted}\n"),
            )
        ),
    );
    let yaml = config(&[&file], &all_kinds(), "");
    let start_on_db = || async {
        TestBackend::builder()
            .config_yaml(support::file_locations_yaml())
            .feature(Feature::plugin(CatalogPlugin::new()))
            .config_yaml(db.clone())
            .config_yaml(yaml.clone())
            .start()
            .await
            .expect("backend starts")
    };
    let check = |svc: Value| {
        assert_eq!(svc["metadata"]["description"], tricky, "{svc}");
        assert_eq!(
            svc["metadata"]["annotations"]["example.com/note"], tricky,
            "{svc}"
        );
        assert!(
            has_relation(&svc, "ownedBy", "group:default/team-a"),
            "{svc}"
        );
    };
    let first = start_on_db().await;
    let res = get(&first, "/entities/by-name/component/default/svc").await;
    assert_eq!(res.status(), 200, "{}", res.text());
    check(res.json().unwrap());
    first.stop().await.unwrap();

    let second = start_on_db().await;
    let res = get(&second, "/entities/by-name/component/default/svc").await;
    assert_eq!(res.status(), 200, "{}", res.text());
    check(res.json().unwrap());
    second.stop().await.unwrap();
}

/// Migrations 5 and 7 run on every database. On PostgreSQL, 5 left room on the stitch queue's
/// pages for rewriting queued rows, which plain marks no longer do, and 7 fills them again;
/// 7 also keeps only a provider's references (those with a `source_key`) in that column's
/// index on SQLite and PostgreSQL. MySQL has no partial indexes and keeps the full one.
async fn the_queue_and_the_provider_refs_index_after_migration_7() {
    let b = start(&config(&[], "", "")).await;
    let db = b.database("catalog").await.unwrap();
    let versions: Vec<(i64,)> = Sql::new(format!("SELECT version FROM {MIGRATIONS_TABLE}"))
        .fetch_all(&*db)
        .await
        .unwrap();
    assert!(versions.contains(&(5,)), "{versions:?}");
    assert!(versions.contains(&(7,)), "{versions:?}");
    match support::database_backend() {
        "postgres" => {
            let (options,): (String,) = Sql::new(
                "SELECT COALESCE(array_to_string(c.reloptions, ','), '') FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relname = 'stitch_queue' AND n.nspname = current_schema()",
            )
            .fetch_one(&*db)
            .await
            .unwrap();
            assert_eq!(options, "");
            let (def,): (String,) = Sql::new(
                "SELECT indexdef FROM pg_indexes \
                 WHERE indexname = 'refs_source_key' AND schemaname = current_schema()",
            )
            .fetch_one(&*db)
            .await
            .unwrap();
            assert!(def.ends_with("WHERE (source_key IS NOT NULL)"), "{def}");
        }
        "sqlite" => {
            let (def,): (String,) =
                Sql::new("SELECT sql FROM sqlite_master WHERE name = 'refs_source_key'")
                    .fetch_one(&*db)
                    .await
                    .unwrap();
            assert!(def.ends_with("WHERE source_key IS NOT NULL"), "{def}");
        }
        _ => {}
    }
    b.stop().await.unwrap();
}

/// A backend reading `catalog.yaml` in the returned directory: the component `svc`, owned by
/// `team-a`, and the organisation.
async fn start_with_svc() -> (tempfile::TempDir, TestBackend) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "catalog.yaml",
        &format!("{}{ORG}", component("svc", "")),
    );
    let b = start(&config(&[&file], &all_kinds(), "")).await;
    (dir, b)
}

/// Migration 6: an entity's own relations are stored with it, and `relations` keeps a row
/// only for what an entity says about another (the other end's view). Rows a database
/// written before the migration holds for an entity's own relations are still read until the
/// entity is processed again, which replaces them.
async fn own_relations_are_stored_with_the_entity() {
    let (_dir, b) = start_with_svc().await;
    let db = b.database("catalog").await.unwrap();
    let svc_ref = "component:default/svc";
    let svc_path = "/entities/by-name/component/default/svc";
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            let (n,): (i64,) = Sql::new(sql).fetch_one(&**db).await.unwrap();
            n
        }
    };
    // Runs `sql` with its one placeholder bound to `value`.
    let run = |sql: &'static str, value: String| {
        let db = &db;
        async move { Sql::new(sql).bind(value).execute(&**db).await.unwrap() }
    };
    // Rows whose source is the entity that emitted them: none any more.
    let own_rows = "SELECT COUNT(*) FROM relations r JOIN refresh_state s \
        ON s.entity_id = r.originating_entity_id WHERE r.source_entity_ref = s.entity_ref";
    assert_eq!(count(own_rows).await, 0);
    // The other end's view stays a row (the group is stitched from it).
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM relations WHERE source_entity_ref = 'group:default/team-a' \
             AND type = 'ownerOf' AND target_entity_ref = 'component:default/svc'"
        )
        .await,
        1
    );
    let (id, own): (String, Option<String>) =
        Sql::new("SELECT entity_id, relations FROM refresh_state WHERE entity_ref = ?")
            .bind(svc_ref)
            .fetch_one(&*db)
            .await
            .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(own.as_deref().unwrap()).unwrap(),
        json!([["ownedBy", "group:default/team-a"]])
    );
    let team = entity(&b, "/entities/by-name/group/default/team-a").await;
    assert!(has_relation(&team, "ownerOf", svc_ref), "{team}");

    // The component as a database from before the migration holds it: its own relation a
    // row, nothing stored with it; then its final entity is rebuilt from that.
    Sql::new(
        "INSERT INTO relations (originating_entity_id, source_entity_ref, type, target_entity_ref) \
         VALUES (?, ?, 'ownedBy', 'group:default/team-a')",
    )
    .bind(id.clone())
    .bind(svc_ref)
    .execute(&*db)
    .await
    .unwrap();
    run(
        "UPDATE refresh_state SET relations = NULL WHERE entity_id = ?",
        id.clone(),
    )
    .await;
    run("DELETE FROM final_entities WHERE entity_id = ?", id.clone()).await;
    run(
        "INSERT INTO stitch_queue (entity_ref, ticket, eager) VALUES (?, 'old', 0)",
        svc_ref.to_owned(),
    )
    .await;
    assert_eq!(count(own_rows).await, 1);
    // Any pass drains the queue: refresh the group.
    let refresh = json!({ "entityRef": "group:default/team-a" });
    assert_eq!(post(&b, "/refresh", &refresh).await.status(), 200);
    let (finals,): (i64,) = Sql::new("SELECT COUNT(*) FROM final_entities WHERE entity_id = ?")
        .bind(id.clone())
        .fetch_one(&*db)
        .await
        .unwrap();
    assert_eq!(finals, 1, "the component was stitched again");
    let only_owned_by = json!([{ "type": "ownedBy", "targetRef": "group:default/team-a" }]);
    let svc = entity(&b, svc_path).await;
    assert_eq!(svc["relations"], only_owned_by, "{svc}");

    // Processed again, the component's own relation moves in with it, once.
    let refresh = json!({ "entityRef": svc_ref });
    assert_eq!(post(&b, "/refresh", &refresh).await.status(), 200);
    assert_eq!(count(own_rows).await, 0);
    let svc = entity(&b, svc_path).await;
    assert_eq!(svc["relations"], only_owned_by, "{svc}");
    b.stop().await.unwrap();
}

/// A new version that fails processing keeps the last good one, its own relations among
/// them (they are stored with the processed entity), and reports the error on it.
async fn a_failed_reprocessing_keeps_the_last_good_entity_and_its_relations() {
    let (dir, b) = start_with_svc().await;
    let svc_path = "/entities/by-name/component/default/svc";
    let before = entity(&b, svc_path).await;
    assert!(
        has_relation(&before, "ownedBy", "group:default/team-a"),
        "{before}"
    );
    // A component without a lifecycle is read from the file but fails validation.
    write(
        dir.path(),
        "catalog.yaml",
        &format!(
            "{}{ORG}",
            component("svc", "").replace("  lifecycle: production\n", "")
        ),
    );
    let refresh = json!({ "entityRef": "component:default/svc" });
    assert_eq!(post(&b, "/refresh", &refresh).await.status(), 200);
    let after = entity(&b, svc_path).await;
    assert!(
        after["status"]["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty()),
        "the error is reported: {after}"
    );
    assert_eq!(after["spec"]["lifecycle"], "production", "{after}");
    assert_eq!(after["relations"], before["relations"], "{after}");
    let team = entity(&b, "/entities/by-name/group/default/team-a").await;
    assert!(
        has_relation(&team, "ownerOf", "component:default/svc"),
        "{team}"
    );
    b.stop().await.unwrap();
}

async fn the_refresh_loop_reprocesses_on_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "catalog.yaml", &component("svc", ""));
    let yaml = config(&[&file], "", "").replace(
        "processingInterval: { minutes: 60 }",
        "processingInterval: 300",
    );
    let b = start(&yaml).await;
    write(
        dir.path(),
        "catalog.yaml",
        &format!("{}{}", component("svc", ""), component("later", "")),
    );
    let mut found = false;
    for _ in 0..50 {
        if get(&b, "/entities/by-name/component/default/later")
            .await
            .status()
            == 200
        {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "the loop ingested the new entity");
    b.stop().await.unwrap();
}

async fn validate_entity_names_the_broken_fields() {
    let b = start(&config(&[], "", "")).await;
    let good = json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": { "name": "x" }, "spec": { "type": "service", "lifecycle": "production", "owner": "t" }
    });
    let res = post(
        &b,
        "/validate-entity",
        &json!({ "entity": good, "location": "url:https://example.com/x.yaml" }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let bad = json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": { "name": "Not Valid!" }, "spec": { "type": "service", "lifecycle": "production" }
    });
    let res = post(
        &b,
        "/validate-entity",
        &json!({ "entity": bad, "location": "url:https://example.com/x.yaml" }),
    )
    .await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().unwrap();
    let messages: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("metadata.name")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("spec.owner")),
        "{messages:?}"
    );
    assert_error(
        &post(
            &b,
            "/validate-entity",
            &json!({ "entity": good, "location": "nocolon" }),
        )
        .await,
        400,
        "InputError",
    );
    assert_error(
        &post(&b, "/validate-entity", &json!({ "entity": good })).await,
        400,
        "InputError",
    );
    b.stop().await.unwrap();
}

async fn analyze_location_lists_existing_entity_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "repo/catalog-info.yaml", &component("svc", ""));
    let b = start(&config(&[], "", "")).await;
    let target = dir.path().join("repo").display().to_string();
    let res = post(
        &b,
        "/analyze-location",
        &json!({ "location": { "type": "file", "target": target } }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let v: Value = res.json().unwrap();
    let files = v["existingEntityFiles"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["entity"]["metadata"]["name"], "svc");
    assert_eq!(files[0]["isRegistered"], false);
    assert_eq!(v["generateEntities"], json!([]));
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let v: Value = post(
        &b,
        "/analyze-location",
        &json!({ "location": { "type": "file", "target": empty.display().to_string() } }),
    )
    .await
    .json()
    .unwrap();
    assert_eq!(
        v["generateEntities"][0]["entity"]["metadata"]["name"],
        "empty"
    );
    assert_error(
        &post(&b, "/analyze-location", &json!({})).await,
        400,
        "InputError",
    );
    b.stop().await.unwrap();
}

async fn readonly_catalog_refuses_location_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "catalog.yaml", &component("svc", ""));
    let b = start(&config(&[], "", "  readonly: true\n")).await;
    assert_error(
        &post(
            &b,
            "/locations",
            &json!({ "type": "file", "target": file.display().to_string() }),
        )
        .await,
        403,
        "NotAllowedError",
    );
    b.stop().await.unwrap();
}

async fn missing_files_set_errors_but_do_not_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "catalog.yaml", &component("svc", ""));
    let b = start(&config(&[&file], "", "")).await;
    std::fs::remove_file(&file).unwrap();
    let locations: Value = get(&b, "/entities?filter=kind=location")
        .await
        .json()
        .unwrap();
    let loc = format!(
        "location:default/{}",
        locations[0]["metadata"]["name"].as_str().unwrap()
    );
    assert_eq!(
        post(&b, "/refresh", &json!({ "entityRef": loc }))
            .await
            .status(),
        200
    );
    let svc = get(&b, "/entities/by-name/component/default/svc").await;
    assert_eq!(
        svc.status(),
        200,
        "the entity stays while its file is unreadable"
    );
    let location: Value = get(
        &b,
        &format!(
            "/entities/by-name/location/default/{}",
            &loc["location:default/".len()..]
        ),
    )
    .await
    .json()
    .unwrap();
    assert_eq!(
        location["status"]["items"][0]["error"]["name"], "NotFoundError",
        "{location}"
    );
    b.stop().await.unwrap();
}

mod extension {
    use std::sync::{Arc, Mutex};

    use backlot::backend::{BoxError, Feature};
    use backlot::plugins::catalog::common::{Entity, EntityRef};
    use backlot::plugins::catalog::node::{
        CATALOG_PROCESSING, CatalogProcessor, DeferredEntity, Emitter, EntityProvider,
        EntityProviderConnection, EntityProviderMutation, LocationSpec, ProcessorError,
    };

    pub(super) type Slot = Arc<Mutex<Option<EntityProviderConnection>>>;

    struct Teams(Slot);

    pub(super) fn team(name: &str) -> DeferredEntity {
        let e = Entity::new("backstage.io/v1alpha1", "Group", name)
            .with_spec(serde_json::json!({ "type": "team", "children": [] }));
        DeferredEntity::new(e, Some(format!("teams:{name}")))
    }

    #[async_trait::async_trait]
    impl EntityProvider for Teams {
        fn name(&self) -> &str {
            "teams"
        }
        async fn connect(&self, connection: EntityProviderConnection) -> Result<(), BoxError> {
            connection
                .apply_mutation(EntityProviderMutation::Full {
                    entities: vec![team("red"), team("blue")],
                })
                .await?;
            *self.0.lock().unwrap() = Some(connection);
            Ok(())
        }
    }

    /// Widgets are a custom kind; every entity named `*-pager` depends on resource:pager.
    struct Widgets;

    #[async_trait::async_trait]
    impl CatalogProcessor for Widgets {
        fn name(&self) -> &str {
            "widgets"
        }
        async fn validate(
            &self,
            entity: &Entity,
            _l: &LocationSpec,
        ) -> Result<bool, ProcessorError> {
            Ok(entity.kind == "Widget")
        }
        async fn post_process(
            &self,
            entity: Entity,
            _l: &LocationSpec,
            emit: &mut Emitter,
        ) -> Result<Entity, ProcessorError> {
            if entity.metadata.name.ends_with("-pager") {
                let pager = EntityRef::new("resource", "default", "pager");
                emit.relation(entity.to_ref(), "dependsOn", pager.clone());
                emit.relation(pager, "dependencyOf", entity.to_ref());
            }
            Ok(entity)
        }
    }

    pub(super) fn module(slot: Slot) -> Feature {
        Feature::module_fn("catalog", "test-extensions", move |reg| {
            let slot = slot.clone();
            reg.init(&CATALOG_PROCESSING, move |p| async move {
                let p = p.get()?;
                p.add_entity_provider(Teams(slot));
                p.add_processor(Widgets);
                Ok(())
            })
        })
    }
}

async fn modules_add_entity_providers_and_processors() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "catalog.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: app-pager\nspec: {}\n---\napiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: unknown-kind\nspec: {}\n",
    );
    let slot: extension::Slot = Default::default();
    let b = TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(extension::module(slot.clone()))
        .config_yaml(database_yaml())
        .config_yaml(config(
            &[&file],
            "  rules:\n    - allow: [Location, Widget, Gadget]\n",
            "",
        ))
        .start()
        .await
        .unwrap();
    let mut teams: Vec<String> =
        names(&get(&b, "/entities?filter=kind=group").await.json().unwrap());
    teams.sort();
    assert_eq!(teams, ["blue", "red"]);
    let w: Value = get(&b, "/entities/by-name/widget/default/app-pager")
        .await
        .json()
        .unwrap();
    assert!(
        has_relation(&w, "dependsOn", "resource:default/pager"),
        "{w}"
    );
    assert_error(
        &get(&b, "/entities/by-name/gadget/default/unknown-kind").await,
        404,
        "NotFoundError",
    );

    let connection = slot.lock().unwrap().clone().unwrap();
    connection
        .apply_mutation(
            backlot::plugins::catalog::node::EntityProviderMutation::Delta {
                added: vec![extension::team("green")],
                removed: vec![extension::team("red")],
            },
        )
        .await
        .unwrap();
    let mut teams: Vec<String> =
        names(&get(&b, "/entities?filter=kind=group").await.json().unwrap());
    teams.sort();
    assert_eq!(teams, ["blue", "green"]);
    b.stop().await.unwrap();
}

/// On a SQLite file, the catalog copies its WAL into the database file from another
/// connection after its commits, so the file holds the catalog while the backend runs. Left to
/// SQLite, the writing connection would copy only once 8,000 pages (32 MiB) of WAL had piled
/// up, and the database file would keep its first pages until then.
#[tokio::test]
async fn sqlite_file_catalog_is_checkpointed_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "catalog.yaml", &synthetic_catalog_yaml(500));
    let b = TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(format!(
            "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\n",
            db_dir.path().display()
        ))
        .config_yaml(config(&[&file], &all_kinds(), ""))
        .start()
        .await
        .expect("backend starts");
    let res = get(&b, "/entities/by-query?filter=kind=component&limit=1").await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let main = db_dir.path().join("catalog.sqlite");
    let size = || std::fs::metadata(&main).map(|m| m.len()).unwrap_or(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size() < 512 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file holds {} bytes; its WAL was not copied",
            size()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.stop().await.unwrap();
}

per_database_backend!(
    config_locations_are_ingested_with_relations_annotations_and_identity,
    get_entities_filters_combine_like_backstage,
    by_query_cursors_walk_every_page_exactly_once,
    by_refs_uid_ancestry_and_delete,
    spec_reference_lists_are_served_sorted_like_backstage,
    facets_count_values,
    registered_locations_add_list_get_delete,
    orphans_are_deleted_by_default_and_marked_with_keep,
    conflicting_entity_keeps_the_first_and_reports_on_the_second_location,
    a_conflict_warning_reaches_the_plugin_logger,
    broken_files_and_entities_do_not_block_the_rest,
    placeholders_resolve_relative_to_the_file,
    refresh_picks_up_changes_and_rejects_bad_refs,
    reprocessing_replaces_relations_on_both_sides,
    texts_with_copy_escapes_round_trip_through_the_database,
    the_queue_and_the_provider_refs_index_after_migration_7,
    own_relations_are_stored_with_the_entity,
    a_failed_reprocessing_keeps_the_last_good_entity_and_its_relations,
    the_refresh_loop_reprocesses_on_its_interval,
    validate_entity_names_the_broken_fields,
    analyze_location_lists_existing_entity_files,
    readonly_catalog_refuses_location_changes,
    missing_files_set_errors_but_do_not_orphan,
    modules_add_entity_providers_and_processors,
);
