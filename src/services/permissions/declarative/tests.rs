use super::*;
use crate::services::auth::{BackstageUserInfo, Credentials};
use crate::services::permissions::MAX_CRITERIA_DEPTH;
use serde_json::json;

fn policy(value: Value) -> Result<DeclarativePolicy, ConfigError> {
    DeclarativePolicy::from_config(&Config::from_value(
        json!({ "permission": { "policy": value } }),
    ))
    .map(|p| p.unwrap())
}

fn user(refs: &[&str]) -> PolicyQueryUser {
    PolicyQueryUser {
        credentials: Credentials::user(refs[0]),
        info: BackstageUserInfo {
            user_entity_ref: refs[0].into(),
            ownership_entity_refs: refs.iter().map(|r| r.to_string()).collect(),
        },
    }
}

fn read() -> Permission {
    Permission::resource("catalog.entity.read", "catalog-entity", Some("read"))
}

#[test]
fn deny_wins_then_allow_then_conditions_then_default() {
    let p = policy(json!({"roles": [
        {"name": "a", "members": ["group:default/a"], "permissions": [
            {"name": "catalog.*", "decision": "allow"},
            {"name": "catalog.entity.delete", "decision": "deny"}]},
        {"name": "all", "members": ["*"], "permissions": [
            {"name": "catalog.entity.read", "decision": "conditional",
             "conditions": {"rule": "IS_ENTITY_OWNER", "params": {"claims": ["$ownershipEntityRefs", "group:default/x"]}}},
            {"name": "catalog.entity.read", "decision": "conditional",
             "conditions": {"rule": "IS_ENTITY_KIND", "params": {"kinds": ["template"]}}}]}
    ]}))
    .unwrap();
    let a = user(&["user:default/jane", "group:default/a"]);
    let b = user(&["user:default/joe"]);
    let delete = Permission::basic("catalog.entity.delete", Some("delete"));
    assert_eq!(p.decide(&delete, Some(&a)), PolicyDecision::Deny);
    assert_eq!(p.decide(&read(), Some(&a)), PolicyDecision::Allow);
    let PolicyDecision::Conditional {
        conditions,
        plugin_id,
        ..
    } = p.decide(&read(), Some(&b))
    else {
        panic!("conditional expected");
    };
    assert_eq!(plugin_id, "catalog");
    let v = serde_json::to_value(&conditions).unwrap();
    assert_eq!(
        v["anyOf"][0]["params"]["claims"],
        json!(["user:default/joe", "group:default/x"])
    );
    assert_eq!(v["anyOf"][0]["resourceType"], "catalog-entity");
    assert_eq!(v["anyOf"][1]["rule"], "IS_ENTITY_KIND");
    assert_eq!(p.decide(&delete, Some(&b)), PolicyDecision::Deny);
    assert_eq!(p.decide(&read(), None), PolicyDecision::Deny);
}

#[test]
fn default_allow_and_actions() {
    let p = policy(json!({"defaultDecision": "allow", "roles": [
        {"name": "ro", "members": ["user:jane"], "permissions": [
            {"name": "*", "action": "delete", "decision": "deny"}]}]}))
    .unwrap();
    let jane = user(&["user:default/jane"]);
    let delete = Permission::basic("catalog.entity.delete", Some("delete"));
    assert_eq!(p.decide(&delete, Some(&jane)), PolicyDecision::Deny);
    assert_eq!(p.decide(&read(), Some(&jane)), PolicyDecision::Allow);
    assert_eq!(
        p.decide(&delete, Some(&user(&["user:default/joe"]))),
        PolicyDecision::Allow
    );
}

#[test]
fn conditional_grant_on_basic_permission_denies() {
    let p = policy(json!({"defaultDecision": "allow", "roles": [{"name": "r", "members": ["*"], "permissions": [
        {"name": "*", "decision": "conditional", "conditions": {"rule": "X"}}]}]}))
    .unwrap();
    let create = Permission::basic("catalog.entity.create", Some("create"));
    assert_eq!(
        p.decide(&create, Some(&user(&["user:default/a"]))),
        PolicyDecision::Deny
    );
}

#[test]
fn bad_config_names_the_key() {
    let cases = [
        (
            json!({"defaultDecision": "maybe"}),
            "permission.policy.defaultDecision",
        ),
        (
            json!({"roles": [{"name": "r", "members": ["jane"]}]}),
            "permission.policy.roles[0].members[0]",
        ),
        (
            json!({"roles": [{"name": "r", "members": ["*"], "permissions": [{"name": "a", "decision": "yes"}]}]}),
            "permission.policy.roles[0].permissions[0].decision",
        ),
        (
            json!({"roles": [{"name": "r", "members": ["*"], "permissions": [{"name": "a*b", "decision": "allow"}]}]}),
            "permission.policy.roles[0].permissions[0].name",
        ),
        (
            json!({"roles": [{"name": "r", "members": ["*"], "permissions": [{"name": "a", "action": "fly", "decision": "allow"}]}]}),
            "permission.policy.roles[0].permissions[0].action",
        ),
        (
            json!({"roles": [{"name": "r", "members": ["*"], "permissions": [{"name": "a", "decision": "conditional"}]}]}),
            "permission.policy.roles[0].permissions[0].conditions",
        ),
        (
            json!({"roles": [{"name": "r", "members": ["*"], "permissions": [{"name": "a", "decision": "conditional",
            "conditions": {"anyOf": [{"rule": "R", "params": {"claims": "$nobody"}}]}}]}]}),
            "permission.policy.roles[0].permissions[0].conditions.anyOf[0].params.claims",
        ),
        (
            json!({"roles": [{"name": "r", "members": ["*"], "permissions": [{"name": "a", "decision": "conditional",
            "conditions": {"anyOf": [{"params": {}}]}}]}]}),
            "permission.policy.roles[0].permissions[0].conditions.anyOf[0].rule",
        ),
        (
            json!({"roles": [{"name": "r", "members": ["*"], "colour": "red"}]}),
            "permission.policy.roles[0]",
        ),
    ];
    for (value, key) in cases {
        let err = policy(value.clone()).unwrap_err();
        assert!(
            err.path().is_some_and(|p| p.starts_with(key)),
            "{value}: {err} should name {key}"
        );
    }
}

#[test]
fn depth_bomb_in_config_refused() {
    let mut c = json!({"rule": "R"});
    for _ in 0..MAX_CRITERIA_DEPTH + 1 {
        c = json!({ "not": c });
    }
    let err = policy(
        json!({"roles": [{"name": "r", "members": ["*"], "permissions": [
        {"name": "a", "decision": "conditional", "conditions": c}]}]}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("deeper"));
}
