//! The cost of a permission check in process: what a plugin pays per request when the
//! `permission` plugin runs in the same backend (the catalog asks `catalog.entity.read` on
//! every read).
//!
//! `cargo bench --all-features --bench permissions`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use backlot::backend::{Backend, BackendHandle, Feature};
use backlot::plugins::permission;
use backlot::services::auth::Credentials;
use backlot::services::permissions::{
    AuthorizePermissionRequest, PERMISSIONS, PERMISSIONS_REGISTRY, Permission,
    PermissionResourceType, PermissionsService, QueryPermissionRequest, create_permission_rule,
};
use backlot::testing::{mock_auth_factory, mock_credentials, mock_user_info_factory};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const POLICY: &str = r#"
permission:
  enabled: ENABLED
  policy:
    roles:
      - name: admins
        members: [group:default/admins]
        permissions: [{name: '*', decision: allow}]
      - name: everyone
        members: ['*']
        permissions:
          - name: catalog.entity.read
            decision: conditional
            conditions:
              anyOf:
                - {rule: IS_ENTITY_OWNER, params: {claims: $ownershipEntityRefs}}
                - {rule: IS_ENTITY_KIND, params: {kinds: [template]}}
          - name: bench.item.read
            decision: conditional
            conditions: {rule: IS_OWNER, params: {owners: $ownershipEntityRefs}}
"#;

fn read() -> Permission {
    Permission::resource("catalog.entity.read", "catalog-entity", Some("read"))
}

fn item_read() -> Permission {
    Permission::resource("bench.item.read", "bench-item", Some("read"))
}

async fn start(enabled: bool) -> (BackendHandle, Arc<dyn PermissionsService>) {
    let slot: Arc<Mutex<Option<Arc<dyn PermissionsService>>>> = Arc::default();
    let out = slot.clone();
    let probe = Feature::plugin_fn("bench", move |reg| {
        let out = out.clone();
        reg.init(
            (&PERMISSIONS, &PERMISSIONS_REGISTRY),
            move |(permissions, registry)| async move {
                registry.add_resource_type(
                    PermissionResourceType::new("bench-item", |refs: Vec<String>| async move {
                        Ok(refs.into_iter().map(Some).collect())
                    })
                    .rule(create_permission_rule::<String, _>(
                        "IS_OWNER",
                        "",
                        "bench-item",
                        json!({}),
                        |owner, p| {
                            p["owners"]
                                .as_array()
                                .is_some_and(|a| a.iter().any(|v| v == owner.as_str()))
                        },
                    ))?,
                )?;
                *out.lock().unwrap() = Some(permissions);
                Ok(())
            },
        )
    });
    let handle = Backend::builder()
        .listen_addr(([127, 0, 0, 1], 0).into())
        .config_value(json!({"backend": {"database": {"client": "better-sqlite3", "connection": ":memory:"}}}))
        .config_yaml(POLICY.replace("ENABLED", if enabled { "true" } else { "false" }))
        .add_service(mock_auth_factory())
        .add_service(mock_user_info_factory())
        .add_feature(Feature::plugin(permission::backend::plugin()))
        .add_feature(probe)
        .start()
        .await
        .unwrap();
    let permissions = slot.lock().unwrap().clone().unwrap();
    (handle, permissions)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (off_handle, off) = rt.block_on(start(false));
    let (on_handle, on) = rt.block_on(start(true));
    let jane = Credentials::user("user:default/jane").with_token(
        &mock_credentials::user_token_with_ownership(
            "user:default/jane",
            &["group:default/team-a", "group:default/team-b"],
        ),
    );
    let query = [QueryPermissionRequest { permission: read() }];
    let mut g = c.benchmark_group("permissions");
    g.bench_function(
        "authorize_conditional catalog.entity.read, permissions off",
        |b| {
            b.to_async(&rt)
                .iter(|| async { off.authorize_conditional(&query, &jane).await.unwrap() })
        },
    );
    g.bench_function(
        "authorize_conditional catalog.entity.read, declarative policy",
        |b| {
            b.to_async(&rt)
                .iter(|| async { on.authorize_conditional(&query, &jane).await.unwrap() })
        },
    );
    let one = [AuthorizePermissionRequest {
        permission: item_read(),
        resource_ref: Some("user:default/jane".into()),
    }];
    g.bench_function(
        "authorize with resourceRef, conditions applied in process",
        |b| {
            b.to_async(&rt)
                .iter(|| async { on.authorize(&one, &jane).await.unwrap() })
        },
    );
    g.finish();
    rt.block_on(async {
        off_handle.stop().await.unwrap();
        on_handle.stop().await.unwrap();
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
