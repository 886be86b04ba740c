//! Reads Backstage's own example catalog (`../shared/fixtures/backstage-examples`), walking
//! Location targets from the entry points, and checks that every entity parses, validates
//! and yields the relations its spec declares.

// Test helpers outside `#[test]` fns panic on broken fixtures on purpose.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use backlot::plugins::catalog::common::{
    ApiSpec, Entity, EntityRef, LocationEntitySpec, SpecRelation, TemplateSpec, ValidationError,
    relations_from_spec, validate_entity, validate_entity_value,
};
use serde::Deserialize;
use serde_json::Value;

/// The fixtures folder beside the repository (`/work/shared` seen from `/work/main`); a
/// worktree one level deeper (`/work/wt/<name>`) finds it one folder further up.
fn fixtures() -> Option<PathBuf> {
    [
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/backstage-examples"
        ),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/backstage-examples"
        ),
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.join("all.yaml").is_file())
}

/// Every non-empty YAML document of a file, as JSON.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// Resolves `{$text: <ref>}` placeholders the way the catalog's placeholder processor does:
/// relative refs are read from the file's folder; remote URLs are not fetched here and get a
/// marker text instead. Returns how many were replaced.
fn resolve_placeholders(value: &mut Value, dir: &Path) -> usize {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::String(target)) = map.get("$text") {
                    let text = if target.starts_with("https://") || target.starts_with("http://") {
                        format!("(not fetched in tests: {target})")
                    } else {
                        std::fs::read_to_string(dir.join(target)).unwrap()
                    };
                    *value = Value::String(text);
                    return 1;
                }
            }
            map.values_mut().map(|v| resolve_placeholders(v, dir)).sum()
        }
        Value::Array(items) => items.iter_mut().map(|v| resolve_placeholders(v, dir)).sum(),
        _ => 0,
    }
}

struct Catalog {
    entities: Vec<Entity>,
    files: BTreeSet<PathBuf>,
    placeholders: usize,
}

/// Walks Location targets breadth-first from the entry files.
fn walk(root: &Path, entry: &[&str]) -> Catalog {
    let mut queue: VecDeque<PathBuf> = entry.iter().map(|f| root.join(f)).collect();
    let mut files = BTreeSet::new();
    let mut entities = Vec::new();
    let mut placeholders = 0;
    while let Some(file) = queue.pop_front() {
        let file = file
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if !files.insert(file.clone()) {
            continue;
        }
        let dir = file.parent().unwrap().to_path_buf();
        for mut doc in documents(&file) {
            if doc["kind"] == "API" && doc["spec"]["definition"].is_object() {
                // before substitution the definition is not a string yet
                let err = validate_entity_value(&doc).unwrap_err();
                assert!(
                    matches!(err.errors(), [ValidationError::WrongType { field, .. }] if field == "spec.definition"),
                    "{err}"
                );
            }
            placeholders += resolve_placeholders(&mut doc, &dir);
            let entity =
                Entity::from_value(doc).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            validate_entity(&entity).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if entity.kind == "Location" {
                let spec = LocationEntitySpec::from_entity(&entity).unwrap();
                queue.extend(spec.all_targets().map(|t| dir.join(t)));
            }
            entities.push(entity);
        }
    }
    Catalog {
        entities,
        files,
        placeholders,
    }
}

fn find<'a>(catalog: &'a Catalog, r: &str) -> &'a Entity {
    let r: EntityRef = r.parse().unwrap();
    catalog
        .entities
        .iter()
        .find(|e| r.matches(e))
        .unwrap_or_else(|| panic!("no entity {r}"))
}

fn relations(entity: &Entity) -> Vec<(String, String)> {
    relations_from_spec(entity)
        .unwrap()
        .iter()
        .map(|r| (r.relation_type.to_owned(), r.target.to_string()))
        .collect()
}

fn has(entity: &Entity, relation: &str, target: &str) -> bool {
    relations(entity).contains(&(relation.to_owned(), target.to_owned()))
}

#[test]
fn example_catalog_parses_validates_and_relates() {
    let Some(root) = fixtures() else {
        println!("skipped: ../shared/fixtures not present");
        return;
    };
    let catalog = walk(&root, &["all.yaml", "acme-corp.yaml"]);

    // every entity file of the fixtures was reached through Location targets
    let mut expected = BTreeSet::new();
    for dir in [
        root.clone(),
        root.join("acme"),
        root.join("apis"),
        root.join("components"),
        root.join("domains"),
        root.join("resources"),
        root.join("systems"),
    ] {
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml")
                && documents(&path).iter().any(|d| {
                    d["apiVersion"]
                        .as_str()
                        .is_some_and(|v| v.starts_with("backstage.io/"))
                })
            {
                expected.insert(path.canonicalize().unwrap());
            }
        }
    }
    assert_eq!(catalog.files, expected);

    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &catalog.entities {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    for kind in [
        "API",
        "Component",
        "Domain",
        "Group",
        "Location",
        "Resource",
        "System",
        "User",
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in {kinds:?}"
        );
    }
    // the four `$text` placeholders of the API examples
    assert_eq!(catalog.placeholders, 4);
    let webhook = ApiSpec::from_entity(find(&catalog, "api:default/petstore-webhook")).unwrap();
    let definition = webhook.definition.unwrap_or_default();
    assert!(definition.contains("webhooks"), "{definition}");
    let mcp = ApiSpec::from_entity(find(&catalog, "api:default/backstage-mcp-server")).unwrap();
    assert_eq!(mcp.remotes.len(), 1);

    // relations by name
    let lookup = find(&catalog, "component:default/artist-lookup");
    assert!(has(lookup, "ownedBy", "group:default/team-a"));
    assert!(has(
        lookup,
        "partOf",
        "system:default/artist-engagement-portal"
    ));
    assert!(has(
        find(&catalog, "component:default/wayback-archive"),
        "providesApi",
        "api:default/wayback-archive"
    ));
    assert!(has(
        find(&catalog, "component:default/wayback-search"),
        "consumesApi",
        "api:default/wayback-archive"
    ));
    assert!(has(
        find(&catalog, "component:default/wayback-archive-ingestion"),
        "partOf",
        "component:default/wayback-archive"
    ));
    assert!(has(
        find(&catalog, "system:default/podcast"),
        "partOf",
        "domain:default/playback"
    ));
    assert!(has(
        find(&catalog, "domain:default/artists"),
        "partOf",
        "domain:default/audio"
    ));
    assert!(has(
        find(&catalog, "resource:default/artists-db"),
        "ownedBy",
        "group:default/team-a"
    ));
    assert!(has(
        find(&catalog, "group:default/acme-corp"),
        "parentOf",
        "group:default/infrastructure"
    ));
    assert!(has(
        find(&catalog, "group:default/team-a"),
        "childOf",
        "group:default/backstage"
    ));
    assert!(has(
        find(&catalog, "user:default/breanna.davison"),
        "memberOf",
        "group:default/team-a"
    ));
    let guest = find(&catalog, "user:development/guest");
    assert_eq!(
        relations(guest),
        [("memberOf".to_owned(), "group:default/team-a".to_owned())]
    );

    // stitch: every relation lands on its target in reverse; both directions of a pair agree
    let mut incoming: HashMap<EntityRef, Vec<(String, String)>> = HashMap::new();
    for e in &catalog.entities {
        let source = e.to_ref();
        for r in relations_from_spec(e).unwrap() {
            let SpecRelation { target, .. } = &r;
            let back = r.incoming(&source);
            incoming
                .entry(target.clone())
                .or_default()
                .push((back.relation_type, back.target_ref));
        }
    }
    let team_a: EntityRef = "Group:default/Team-A".parse().unwrap();
    let into_team_a = &incoming[&team_a];
    assert!(into_team_a.contains(&("ownerOf".into(), "component:default/artist-lookup".into())));
    assert!(into_team_a.contains(&("hasMember".into(), "user:default/breanna.davison".into())));
    assert!(into_team_a.contains(&("hasMember".into(), "user:development/guest".into())));
    assert!(
        incoming[&"group:default/backstage".parse().unwrap()]
            .contains(&("parentOf".into(), "group:default/team-a".into()))
    );

    // owners default to kind Group; explicit `user:` owners stay users. Every owner the
    // examples name exists, except the bare `guest` of playback-order, which names the guest
    // *User* without `user:` and so points at a Group that does not exist (as upstream).
    let known: BTreeSet<EntityRef> = catalog.entities.iter().map(Entity::to_ref).collect();
    let mut unknown = Vec::new();
    for e in &catalog.entities {
        for r in relations_from_spec(e).unwrap() {
            if r.relation_type == "ownedBy" {
                assert!(matches!(r.target.kind(), "Group" | "user"), "{}", r.target);
                if !known.contains(&r.target) {
                    unknown.push(format!("{} -> {}", e.ref_string(), r.target));
                }
            }
        }
    }
    assert_eq!(
        unknown,
        ["component:default/playback-order -> group:default/guest"]
    );
    assert!(known.contains(&"user:default/guest".parse().unwrap()));
}

#[test]
fn example_templates_validate() {
    let Some(root) = fixtures() else {
        println!("skipped: ../shared/fixtures not present");
        return;
    };
    for name in ["notifications-demo", "conditional-output-demo"] {
        let path = root.join("templates").join(name).join("template.yaml");
        let docs = documents(&path);
        assert_eq!(docs.len(), 1);
        let entity = Entity::from_value(docs.into_iter().next().unwrap()).unwrap();
        validate_entity(&entity).unwrap();
        let spec = TemplateSpec::from_entity(&entity).unwrap();
        assert!(!spec.steps.is_empty(), "{name}");
        assert!(spec.steps.iter().all(|s| !s.action.is_empty()));
        assert!(!spec.parameters.is_empty(), "{name}");
        // owner `backstage/techdocs-core` is namespace/name with the default kind Group
        assert_eq!(
            relations(&entity),
            [(
                "ownedBy".to_owned(),
                "group:backstage/techdocs-core".to_owned()
            )]
        );
    }
}

#[test]
fn examples_round_trip_unchanged() {
    let Some(root) = fixtures() else {
        println!("skipped: ../shared/fixtures not present");
        return;
    };
    for file in [
        "components/artist-lookup-component.yaml",
        "acme/team-a-group.yaml",
        "templates/notifications-demo/template.yaml",
    ] {
        for doc in documents(&root.join(file)) {
            let entity: Entity = serde_json::from_value(doc.clone()).unwrap();
            assert_eq!(serde_json::to_value(&entity).unwrap(), doc, "{file}");
        }
    }
}
