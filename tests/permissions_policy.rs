//! The declarative policy of `permission.policy`: roles from the user's groups, conditions
//! with ownership placeholders, a code policy overriding it, bad config failing at start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use backlot::backend::Feature;
use backlot::plugins::permission;
use backlot::plugins::permission::node::POLICY_EXTENSION_POINT;
use backlot::services::auth::Credentials;
use backlot::services::core_services::HTTP_ROUTER;
use backlot::services::permissions::{
    AllowAllPolicy, AuthorizePermissionRequest, AuthorizeResult, PERMISSIONS, PERMISSIONS_REGISTRY,
    Permission, PermissionResourceType, PermissionsService, create_permission_rule,
};
use backlot::testing::{TestBackend, TestClient};
use serde_json::{Value, json};

/// (id, author)
const NOTES: [(&str, &str); 3] = [
    ("1", "user:default/jane"),
    ("2", "user:default/joe"),
    ("3", "group:default/team-a"),
];

fn read() -> Permission {
    Permission::resource("notes.note.read", "notes-note", Some("read"))
}

fn delete() -> Permission {
    Permission::resource("notes.note.delete", "notes-note", Some("delete"))
}

async fn get_note(
    State(permissions): State<Arc<dyn PermissionsService>>,
    Extension(creds): Extension<Credentials>,
    Path(id): Path<String>,
) -> Response {
    let req = [AuthorizePermissionRequest {
        permission: read(),
        resource_ref: Some(id.clone()),
    }];
    match permissions.authorize(&req, &creds).await {
        Ok(d) if d[0].result == AuthorizeResult::Allow => Json(json!({ "id": id })).into_response(),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Plugin `notes` owning resource type `notes-note` with rule `IS_AUTHOR {authors}`.
fn notes_plugin() -> Feature {
    Feature::plugin_fn("notes", |reg| {
        reg.init(
            (&PERMISSIONS_REGISTRY, &PERMISSIONS, &HTTP_ROUTER),
            |(registry, permissions, http)| async move {
                registry.add_permissions(&[read(), delete()]);
                registry.add_resource_type(
                    PermissionResourceType::new("notes-note", |refs: Vec<String>| async move {
                        Ok(refs
                            .iter()
                            .map(|r| {
                                NOTES
                                    .iter()
                                    .find(|(id, _)| id == r)
                                    .map(|(_, a)| a.to_string())
                            })
                            .collect())
                    })
                    .rule(create_permission_rule::<String, _>(
                        "IS_AUTHOR",
                        "Written by one of `authors`",
                        "notes-note",
                        json!({"type": "object"}),
                        |author, p| {
                            p["authors"]
                                .as_array()
                                .is_some_and(|a| a.iter().any(|v| v == author.as_str()))
                        },
                    ))?,
                )?;
                http.use_router(
                    Router::new()
                        .route("/notes/{id}", get(get_note))
                        .with_state(permissions),
                );
                Ok(())
            },
        )
    })
}

const POLICY: &str = r#"
permission:
  enabled: true
  policy:
    defaultDecision: deny
    roles:
      - name: admins
        members: [group:default/admins]
        permissions:
          - name: '*'
            decision: allow
      - name: everyone
        members: ['*']
        permissions:
          - name: notes.*
            action: read
            decision: conditional
            conditions:
              anyOf:
                - rule: IS_AUTHOR
                  params:
                    authors: $ownershipEntityRefs
      - name: jane
        members: [user:default/jane]
        permissions:
          - name: notes.note.delete
            decision: deny
"#;

async fn start(config: &str, extra: Vec<Feature>) -> Result<TestBackend, String> {
    let mut builder = TestBackend::builder()
        .config_yaml(config)
        .feature(Feature::plugin(permission::backend::plugin()))
        .feature(notes_plugin());
    for f in extra {
        builder = builder.feature(f);
    }
    builder
        .start()
        .await
        .map_err(|e| format!("{e} {:?}", std::error::Error::source(&e)))
}

async fn authorize(client: &TestClient, permission: Permission, resource_ref: &str) -> String {
    let body =
        json!({"items": [{"id": "1", "permission": permission, "resourceRef": resource_ref}]});
    let res = client
        .post_json("/api/permission/authorize", &body)
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json::<Value>().unwrap()["items"][0]["result"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn roles_from_groups_and_ownership_conditions() {
    let backend = start(POLICY, vec![]).await.unwrap();
    let c = backend.client();
    let jane = c.as_user_owning("user:default/jane", &["group:default/team-a"]);
    let joe = c.as_user("user:default/joe");
    let admin = c.as_user_owning("user:default/ada", &["group:default/admins"]);

    // Everyone reads what they or their groups wrote.
    assert_eq!(jane.get("/api/notes/notes/1").await.unwrap().status(), 200);
    assert_eq!(jane.get("/api/notes/notes/2").await.unwrap().status(), 404);
    assert_eq!(jane.get("/api/notes/notes/3").await.unwrap().status(), 200);
    assert_eq!(joe.get("/api/notes/notes/2").await.unwrap().status(), 200);
    assert_eq!(joe.get("/api/notes/notes/3").await.unwrap().status(), 404);
    // Admins read everything.
    assert_eq!(admin.get("/api/notes/notes/2").await.unwrap().status(), 200);

    // Conditions come back with the placeholders filled in, for the plugin owning the type.
    let body = json!({"items": [{"id": "q", "permission": read()}]});
    let answer: Value = jane
        .post_json("/api/permission/authorize", &body)
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        answer["items"][0],
        json!({"id": "q", "result": "CONDITIONAL", "pluginId": "notes", "resourceType": "notes-note",
               "conditions": {"anyOf": [{"rule": "IS_AUTHOR", "resourceType": "notes-note",
                   "params": {"authors": ["user:default/jane", "group:default/team-a"]}}]}})
    );

    // delete: allowed to admins, denied by default to others, explicitly to jane.
    assert_eq!(authorize(&admin, delete(), "2").await, "ALLOW");
    assert_eq!(authorize(&joe, delete(), "2").await, "DENY");
    assert_eq!(authorize(&jane, delete(), "1").await, "DENY");
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn deny_in_one_role_beats_allow_in_another() {
    let backend = start(POLICY, vec![]).await.unwrap();
    // Jane is also an admin: admins allow everything, her own role denies delete.
    let jane = backend
        .client()
        .as_user_owning("user:default/jane", &["group:default/admins"]);
    assert_eq!(authorize(&jane, delete(), "2").await, "DENY");
    assert_eq!(authorize(&jane, read(), "2").await, "ALLOW");
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn a_code_policy_overrides_the_config() {
    let code_policy = Feature::module_fn("permission", "allow-all", |reg| {
        reg.init(&POLICY_EXTENSION_POINT, |ep| async move {
            ep.get()?.set_policy(Arc::new(AllowAllPolicy))?;
            Ok(())
        })
    });
    let backend = start(POLICY, vec![code_policy]).await.unwrap();
    let joe = backend.client().as_user("user:default/joe");
    assert_eq!(joe.get("/api/notes/notes/1").await.unwrap().status(), 200);
    assert_eq!(authorize(&joe, delete(), "1").await, "ALLOW");
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn without_any_policy_everything_is_denied() {
    let backend = start("permission:\n  enabled: true\n", vec![])
        .await
        .unwrap();
    let admin = backend
        .client()
        .as_user_owning("user:default/ada", &["group:default/admins"]);
    assert_eq!(admin.get("/api/notes/notes/1").await.unwrap().status(), 404);
    assert_eq!(authorize(&admin, read(), "1").await, "DENY");
    assert!(
        backend
            .logger()
            .records()
            .iter()
            .any(|r| r.message.contains("no permission policy"))
    );
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn bad_policy_config_fails_at_start_naming_the_key() {
    let cases = [
        (
            "decision: maybe",
            "permission.policy.roles[0].permissions[0].decision",
        ),
        (
            "decision: conditional",
            "permission.policy.roles[0].permissions[0].conditions",
        ),
        (
            "decision: conditional\n            conditions: {rule: IS_AUTHOR, params: {authors: $friends}}",
            "permission.policy.roles[0].permissions[0].conditions.params.authors",
        ),
    ];
    for (grant, key) in cases {
        let config = format!(
            "permission:\n  enabled: true\n  policy:\n    roles:\n      - name: r\n        members: ['*']\n        permissions:\n          - name: notes.note.read\n            {grant}\n"
        );
        let err = start(&config, vec![]).await.expect_err("start must fail");
        assert!(err.contains(key), "{err} should name {key}");
    }
    let err = start(
        "permission:\n  policy:\n    roles:\n      - name: r\n        members: [jane]\n",
        vec![],
    )
    .await
    .expect_err("start must fail");
    assert!(
        err.contains("permission.policy.roles[0].members[0]"),
        "{err}"
    );
}
