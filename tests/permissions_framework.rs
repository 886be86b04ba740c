//! The permission framework over HTTP: `/api/permission/authorize`, a plugin's
//! `.well-known/backstage/permissions/*` routes, in-process and cross-backend evaluation,
//! access-restricted services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use backlot::backend::{Backend, Feature};
use backlot::plugins::permission;
use backlot::plugins::permission::node::POLICY_EXTENSION_POINT;
use backlot::services::auth::{AccessRestriction, Credentials, Principal, ServicePrincipal};
use backlot::services::core_services::HTTP_ROUTER;
use backlot::services::permissions::{
    AuthorizePermissionRequest, AuthorizeResult, ConditionFactory, PERMISSIONS,
    PERMISSIONS_REGISTRY, Permission, PermissionResourceType, PermissionRuleSet,
    PermissionsService, PolicyDecision, QueryPermissionRequest, create_permission_rule, policy_fn,
};
use backlot::testing::{
    TestBackend, TestClient, mock_auth_factory, mock_credentials, mock_user_info_factory,
};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
struct Todo {
    id: String,
    author: String,
    done: bool,
}

fn todos() -> Vec<Todo> {
    vec![
        Todo {
            id: "1".into(),
            author: "user:default/jane".into(),
            done: false,
        },
        Todo {
            id: "2".into(),
            author: "user:default/joe".into(),
            done: false,
        },
        Todo {
            id: "3".into(),
            author: "group:default/team-a".into(),
            done: true,
        },
    ]
}

fn create() -> Permission {
    Permission::basic("todo.item.create", Some("create"))
}

fn read() -> Permission {
    Permission::resource("todo.item.read", "todo-item", Some("read"))
}

fn rules() -> PermissionRuleSet<Todo> {
    PermissionRuleSet::new("todo-item")
        .with_rule(create_permission_rule::<Todo, _>(
            "IS_AUTHOR",
            "Written by one of `authors`",
            "todo-item",
            json!({"type": "object", "properties": {"authors": {"type": "array"}}, "required": ["authors"]}),
            |t, p| p["authors"].as_array().is_some_and(|a| a.iter().any(|v| v == t.author.as_str())),
        ))
        .unwrap()
        .with_rule(create_permission_rule::<Todo, _>(
            "IS_DONE", "Finished", "todo-item", json!({"type": "object"}), |t, _| t.done,
        ))
        .unwrap()
}

#[derive(Clone)]
struct TodoState {
    permissions: Arc<dyn PermissionsService>,
    rules: PermissionRuleSet<Todo>,
}

async fn get_item(
    State(s): State<TodoState>,
    Extension(creds): Extension<Credentials>,
    Path(id): Path<String>,
) -> Response {
    let req = [AuthorizePermissionRequest {
        permission: read(),
        resource_ref: Some(id.clone()),
    }];
    match s.permissions.authorize(&req, &creds).await {
        Ok(d) if d[0].result == AuthorizeResult::Allow => {
            let todo = todos().into_iter().find(|t| t.id == id);
            match todo {
                Some(t) => Json(json!({"id": t.id, "author": t.author})).into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn list_items(
    State(s): State<TodoState>,
    Extension(creds): Extension<Credentials>,
) -> Response {
    let req = [QueryPermissionRequest { permission: read() }];
    let decision = match s.permissions.authorize_conditional(&req, &creds).await {
        Ok(mut d) => d.remove(0),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let ids: Vec<String> = todos()
        .into_iter()
        .filter(|t| match &decision {
            PolicyDecision::Allow => true,
            PolicyDecision::Deny => false,
            PolicyDecision::Conditional { conditions, .. } => s.rules.apply(conditions, t),
        })
        .map(|t| t.id)
        .collect();
    Json(ids).into_response()
}

async fn create_item(
    State(s): State<TodoState>,
    Extension(creds): Extension<Credentials>,
) -> Response {
    let req = [AuthorizePermissionRequest {
        permission: create(),
        resource_ref: None,
    }];
    match s.permissions.authorize(&req, &creds).await {
        Ok(d) if d[0].result == AuthorizeResult::Allow => StatusCode::CREATED.into_response(),
        Ok(_) => StatusCode::FORBIDDEN.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A plugin with its own resource type, rules and permission checks.
fn todo_plugin() -> Feature {
    Feature::plugin_fn("todo", |reg| {
        reg.init(
            (&PERMISSIONS_REGISTRY, &PERMISSIONS, &HTTP_ROUTER),
            |(registry, permissions, http)| async move {
                registry.add_permissions(&[create(), read()]);
                let loader = |refs: Vec<String>| async move {
                    let all = todos();
                    Ok(refs
                        .iter()
                        .map(|r| all.iter().find(|t| &t.id == r).cloned())
                        .collect())
                };
                let rule_set = rules();
                registry.add_resource_type(
                    PermissionResourceType::new("todo-item", loader)
                        .rules(rule_set.rules().into_iter().cloned())?,
                )?;
                http.use_router(
                    Router::new()
                        .route("/items", get(list_items).post(create_item))
                        .route("/items/{id}", get(get_item))
                        .with_state(TodoState {
                            permissions,
                            rules: rule_set,
                        }),
                );
                Ok(())
            },
        )
    })
}

/// Jane may create; everyone reads what they (or their groups) wrote.
fn policy_module() -> Feature {
    Feature::module_fn("permission", "test-policy", |reg| {
        reg.init(&POLICY_EXTENSION_POINT, |ep| async move {
            ep.get()?.set_policy(policy_fn(|request, user| {
                let Some(user) = user else {
                    return PolicyDecision::Deny;
                };
                match request.permission.name.as_str() {
                    "todo.item.create" if user.info.user_entity_ref == "user:default/jane" => {
                        PolicyDecision::Allow
                    }
                    "todo.item.read" => {
                        let todo = ConditionFactory::new("todo", "todo-item");
                        todo.decision(
                            &request.permission,
                            todo.condition(
                                "IS_AUTHOR",
                                json!({"authors": user.info.ownership_entity_refs}),
                            ),
                        )
                    }
                    _ => PolicyDecision::Deny,
                }
            }))?;
            Ok(())
        })
    })
}

async fn start(config: &str) -> TestBackend {
    TestBackend::builder()
        .config_yaml(config)
        .feature(Feature::plugin(permission::backend::plugin()))
        .feature(policy_module())
        .feature(todo_plugin())
        .start()
        .await
        .unwrap()
}

const ENABLED: &str = "permission:\n  enabled: true\n";

fn jane(client: &TestClient) -> TestClient {
    client.as_user_owning("user:default/jane", &["group:default/team-a"])
}

fn items(body: Value) -> Value {
    json!({ "items": body })
}

#[tokio::test]
async fn authorize_answers_each_item_in_order_with_backstage_shapes() {
    let backend = start(ENABLED).await;
    let body = items(json!([
        {"id": "a", "permission": create()},
        {"id": "b", "permission": read()},
        {"id": "c", "permission": read(), "resourceRef": "1"},
        {"id": "d", "permission": read(), "resourceRef": "2"},
        {"id": "e", "permission": read(), "resourceRef": "3"},
        {"id": "f", "permission": read(), "resourceRef": "404"},
    ]));
    let res = jane(backend.client())
        .post_json("/api/permission/authorize", &body)
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let answer: Value = res.json().unwrap();
    let ids: Vec<&str> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c", "d", "e", "f"]);
    let results: Vec<&str> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        ["ALLOW", "CONDITIONAL", "ALLOW", "DENY", "ALLOW", "DENY"]
    );
    assert_eq!(answer["items"][0], json!({"id": "a", "result": "ALLOW"}));
    assert_eq!(
        answer["items"][1],
        json!({"id": "b", "result": "CONDITIONAL", "pluginId": "todo", "resourceType": "todo-item",
               "conditions": {"rule": "IS_AUTHOR", "resourceType": "todo-item",
                              "params": {"authors": ["user:default/jane", "group:default/team-a"]}}})
    );

    let joe = backend.client().as_user("user:default/joe");
    let res = joe
        .post_json(
            "/api/permission/authorize",
            &items(json!([{"id": "x", "permission": create()}])),
        )
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().unwrap()["items"][0]["result"], "DENY");
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn authorize_refuses_bad_input_and_anonymous_callers() {
    let backend = start("permission:\n  enabled: true\n  maxItemsPerRequest: 2\n").await;
    let c = backend.client();
    let cases = [
        json!({"nope": []}),
        items(
            json!([{"id": "a", "permission": {"type": "basic", "name": "x", "attributes": {"action": "fly"}}}]),
        ),
        items(json!([{"id": "a", "permission": create(), "resourceRef": "1"}])),
        items(
            json!([{"id": "a", "permission": {"type": "resource", "name": "x", "attributes": {}}}]),
        ),
        items(
            json!([{"id": "a", "permission": create()}, {"id": "b", "permission": create()}, {"id": "c", "permission": create()}]),
        ),
    ];
    for body in cases {
        let res = c
            .post_json("/api/permission/authorize", &body)
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}: {}", res.text());
        let err: Value = res.json().unwrap();
        assert_eq!(err["error"]["name"], "InputError");
    }
    let res = c
        .unauthenticated()
        .post_json("/api/permission/authorize", &items(json!([])))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn a_plugin_checks_permissions_in_process() {
    let backend = start(ENABLED).await;
    let jane = jane(backend.client());
    assert_eq!(jane.get("/api/todo/items/1").await.unwrap().status(), 200);
    assert_eq!(jane.get("/api/todo/items/2").await.unwrap().status(), 404);
    assert_eq!(jane.get("/api/todo/items/3").await.unwrap().status(), 200);
    let listed: Vec<String> = jane.get("/api/todo/items").await.unwrap().json().unwrap();
    assert_eq!(listed, ["1", "3"]);
    let joe = backend.client().as_user("user:default/joe");
    let listed: Vec<String> = joe.get("/api/todo/items").await.unwrap().json().unwrap();
    assert_eq!(listed, ["2"]);
    // Services are trusted.
    let svc = backend.client().as_service("plugin:search");
    assert_eq!(svc.get("/api/todo/items/2").await.unwrap().status(), 200);
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn everything_is_allowed_with_permissions_off() {
    let backend = start("permission:\n  enabled: false\n").await;
    let joe = backend.client().as_user("user:default/joe");
    assert_eq!(joe.get("/api/todo/items/1").await.unwrap().status(), 200);
    let listed: Vec<String> = joe.get("/api/todo/items").await.unwrap().json().unwrap();
    assert_eq!(listed, ["1", "2", "3"]);
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn metadata_lists_permissions_and_rules() {
    let backend = start(ENABLED).await;
    let res = backend
        .client()
        .get("/api/todo/.well-known/backstage/permissions/metadata")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let meta: Value = res.json().unwrap();
    assert_eq!(meta["permissions"], json!([create(), read()]));
    let rules: Vec<&str> = meta["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["IS_AUTHOR", "IS_DONE"]);
    assert_eq!(meta["rules"][0]["resourceType"], "todo-item");
    assert_eq!(
        meta["rules"][0]["paramsSchema"]["required"],
        json!(["authors"])
    );
    backend.stop().await.unwrap();
}

const APPLY: &str = "/api/todo/.well-known/backstage/permissions/apply-conditions";

fn apply_item(id: &str, resource_ref: &str, conditions: Value) -> Value {
    json!({"id": id, "resourceRef": resource_ref, "resourceType": "todo-item", "conditions": conditions})
}

#[tokio::test]
async fn apply_conditions_for_services_only_validated() {
    let backend = start("permission:\n  enabled: true\n  maxItemsPerRequest: 3\n").await;
    let svc = backend.client().as_service("plugin:permission");
    let author = json!({"rule": "IS_AUTHOR", "resourceType": "todo-item", "params": {"authors": ["user:default/joe"]}});
    let body = items(json!([
        apply_item("1", "1", author.clone()),
        apply_item("2", "2", author.clone()),
        apply_item(
            "3",
            "3",
            json!({"anyOf": [author.clone(), {"rule": "IS_DONE", "resourceType": "todo-item"}]})
        ),
    ]));
    let res = svc.post_json(APPLY, &body).await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(
        res.json::<Value>().unwrap(),
        json!({"items": [{"id": "1", "result": "DENY"}, {"id": "2", "result": "ALLOW"}, {"id": "3", "result": "ALLOW"}]})
    );

    // Users may not call it.
    let res = backend
        .client()
        .as_user("user:default/joe")
        .post_json(APPLY, &body)
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["name"],
        "NotAllowedError"
    );

    let mut bomb = author.clone();
    for _ in 0..200 {
        bomb = json!({ "not": bomb });
    }
    let mut deep = author.clone();
    for _ in 0..40 {
        deep = json!({ "not": deep });
    }
    let bad = [
        items(json!([apply_item(
            "1",
            "1",
            json!({"rule": "NO_SUCH_RULE", "resourceType": "todo-item"})
        )])),
        items(
            json!([{"id": "1", "resourceRef": "1", "resourceType": "other", "conditions": author}]),
        ),
        items(json!([apply_item("1", "1", deep)])),
        items(json!([apply_item("1", "1", bomb)])),
        items(json!([apply_item(
            "1",
            "1",
            json!({"rule": "IS_AUTHOR", "resourceType": "todo-item", "params": [1]})
        )])),
        items(json!([
            apply_item("1", "1", author.clone()),
            apply_item("2", "1", author.clone()),
            apply_item("3", "1", author.clone()),
            apply_item("4", "1", author.clone())
        ])),
    ];
    for body in bad {
        let res = svc.post_json(APPLY, &body).await.unwrap();
        assert_eq!(res.status(), 400, "{}", res.text());
        assert_eq!(res.json::<Value>().unwrap()["error"]["name"], "InputError");
    }
    backend.stop().await.unwrap();
}

/// An external caller limited to reading todos at plugin `plugin`.
fn restricted(plugin: &str) -> Credentials {
    Credentials::from_principal(Principal::Service(ServicePrincipal {
        subject: "external:reporting".into(),
        access_restrictions: Some(vec![AccessRestriction {
            plugin: plugin.into(),
            permission_names: Some(vec!["todo.item.read".into()]),
            actions: None,
        }]),
    }))
}

#[tokio::test]
async fn restricted_services_are_denied_outside_their_restriction() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let probe = Feature::plugin_fn("probe", move |reg| {
        let tx = tx.lock().unwrap().take();
        reg.init(&PERMISSIONS, move |permissions| async move {
            let ask = |p: Permission| AuthorizePermissionRequest {
                permission: p,
                resource_ref: None,
            };
            let here = restricted("probe");
            let elsewhere = restricted("todo");
            let d = permissions
                .authorize(&[ask(read()), ask(create())], &here)
                .await?;
            let c = permissions
                .authorize_conditional(&[QueryPermissionRequest { permission: read() }], &here)
                .await?;
            let other = permissions.authorize(&[ask(read())], &elsewhere).await?;
            let unrestricted = permissions
                .authorize(&[ask(create())], &Credentials::service("plugin:x"))
                .await?;
            if let Some(tx) = tx {
                let _ = tx.send((d, c, other, unrestricted));
            }
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .config_yaml(ENABLED)
        .feature(Feature::plugin(permission::backend::plugin()))
        .feature(probe)
        .start()
        .await
        .unwrap();
    let (d, c, other, unrestricted) = rx.await.unwrap();
    assert_eq!(
        d.iter().map(|d| d.result).collect::<Vec<_>>(),
        [AuthorizeResult::Allow, AuthorizeResult::Deny]
    );
    assert_eq!(c, [PolicyDecision::Allow]);
    // A restriction for another plugin allows nothing here.
    assert_eq!(other[0].result, AuthorizeResult::Deny);
    assert_eq!(unrestricted[0].result, AuthorizeResult::Allow);
    backend.stop().await.unwrap();
}

/// With the default `AUTH`: static external tokens with and without access restrictions.
#[tokio::test]
async fn external_tokens_are_held_to_their_restrictions() {
    let backend = Backend::builder()
        .listen_addr(([127, 0, 0, 1], 0).into())
        .config_value(json!({
            "backend": {
                "database": {"client": "better-sqlite3", "connection": ":memory:"},
                "auth": {"externalAccess": [
                    {"type": "static", "options": {"token": "reporting-token-1", "subject": "reporting"},
                     "accessRestrictions": [{"plugin": "todo", "permission": "todo.item.read"}]},
                    {"type": "static", "options": {"token": "readers-token-1", "subject": "readers"},
                     "accessRestrictions": [{"plugin": "todo", "permissionAttribute": {"action": "read"}}]},
                    {"type": "static", "options": {"token": "admin-token-1", "subject": "admin"}}
                ]}
            },
            "permission": {"enabled": true}
        }))
        .add_feature(Feature::plugin(permission::backend::plugin()))
        .add_feature(policy_module())
        .add_feature(todo_plugin())
        .start()
        .await
        .unwrap();
    let client = TestClient::new(backend.base_url());
    for token in ["reporting-token-1", "readers-token-1"] {
        let c = client.with_authorization(&format!("Bearer {token}"));
        assert_eq!(
            c.get("/api/todo/items/2").await.unwrap().status(),
            200,
            "{token}"
        );
        let listed: Vec<String> = c.get("/api/todo/items").await.unwrap().json().unwrap();
        assert_eq!(listed, ["1", "2", "3"]);
        assert_eq!(
            c.post("/api/todo/items").await.unwrap().status(),
            403,
            "{token}"
        );
    }
    let admin = client.with_authorization("Bearer admin-token-1");
    assert_eq!(admin.post("/api/todo/items").await.unwrap().status(), 201);
    assert_eq!(client.post("/api/todo/items").await.unwrap().status(), 401);
    backend.stop().await.unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The todo plugin in one backend, the permission plugin in another: the policy is asked over
/// HTTP, and the permission backend resolves conditions through the todo backend's
/// apply-conditions route.
#[tokio::test]
async fn across_backends_the_permission_backend_is_asked_over_http() {
    let perm_port = free_port();
    let todo_port = free_port();
    let todo_config = format!(
        "permission:\n  enabled: true\ndiscovery:\n  endpoints:\n    - target: http://127.0.0.1:{perm_port}/api/{{{{pluginId}}}}\n      plugins: [permission]\n"
    );
    let perm_backend = Backend::builder()
        .listen_addr(([127, 0, 0, 1], perm_port).into())
        .config_value(json!({
            "backend": {"database": {"client": "better-sqlite3", "connection": ":memory:"}},
            "permission": {"enabled": true},
            "discovery": {"endpoints": [
                {"target": format!("http://127.0.0.1:{todo_port}/api/{{{{pluginId}}}}"), "plugins": ["todo"]}
            ]}
        }))
        .add_service(mock_auth_factory())
        .add_service(mock_user_info_factory())
        .add_feature(Feature::plugin(permission::backend::plugin()))
        .add_feature(policy_module())
        .start()
        .await
        .unwrap();
    let todo_backend = Backend::builder()
        .listen_addr(([127, 0, 0, 1], todo_port).into())
        .config_value(json!({"backend": {"database": {"client": "better-sqlite3", "connection": ":memory:"}}}))
        .config_yaml(todo_config)
        .add_service(mock_auth_factory())
        .add_service(mock_user_info_factory())
        .add_feature(todo_plugin())
        .start()
        .await
        .unwrap();
    let client = TestClient::new(todo_backend.base_url());
    let jane = client.with_authorization(&format!(
        "Bearer {}",
        mock_credentials::user_token_with_ownership("user:default/jane", &["group:default/team-a"])
    ));
    assert_eq!(jane.get("/api/todo/items/1").await.unwrap().status(), 200);
    assert_eq!(jane.get("/api/todo/items/2").await.unwrap().status(), 404);
    let listed: Vec<String> = jane.get("/api/todo/items").await.unwrap().json().unwrap();
    assert_eq!(listed, ["1", "3"]);

    // Without the permission backend the check fails rather than allowing.
    perm_backend.stop().await.unwrap();
    assert_eq!(jane.get("/api/todo/items/1").await.unwrap().status(), 500);
    todo_backend.stop().await.unwrap();
}
