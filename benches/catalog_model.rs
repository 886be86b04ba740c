//! Costs of the catalog model on the ingestion path: parsing an entity, validating it and
//! deriving its relations, per entity.

use std::hint::black_box;

use backlot::plugins::catalog::common::{
    Entity, EntityRef, RefDefaults, relations_from_spec, validate_entity, validate_entity_value,
};
use criterion::{Criterion, criterion_group, criterion_main};

const COMPONENT_YAML: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: artist-lookup
  namespace: music
  description: Artist Lookup
  labels:
    example.com/tier: gold
  annotations:
    backstage.io/techdocs-ref: dir:.
    github.com/project-slug: example/artist-lookup
    backstage.io/managed-by-location: url:https://github.com/example/artist-lookup/blob/main/catalog-info.yaml
  tags: [java, data]
  links:
    - url: https://example.com/dashboard
      title: Dashboard
      icon: dashboard
spec:
  type: service
  lifecycle: experimental
  owner: team-a
  system: artist-engagement-portal
  providesApis: [artist-api]
  consumesApis: [search-api, playlist-api]
  dependsOn: [resource:artists-db]
"#;

fn bench(c: &mut Criterion) {
    let value: serde_json::Value = serde_yaml::from_str(COMPONENT_YAML).unwrap();
    let json = serde_json::to_string(&value).unwrap();
    let entity = Entity::from_value(value.clone()).unwrap();

    c.bench_function("catalog_model/parse_yaml_to_entity", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_yaml::from_str(black_box(COMPONENT_YAML)).unwrap();
            Entity::from_value(v).unwrap()
        })
    });
    c.bench_function("catalog_model/parse_json_to_entity", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_str(black_box(&json)).unwrap();
            Entity::from_value(v).unwrap()
        })
    });
    c.bench_function("catalog_model/deserialize_json_entity_unchecked", |b| {
        b.iter(|| serde_json::from_str::<Entity>(black_box(&json)).unwrap())
    });
    c.bench_function("catalog_model/validate_entity", |b| {
        b.iter(|| validate_entity(black_box(&entity)).unwrap())
    });
    c.bench_function("catalog_model/validate_entity_value", |b| {
        b.iter(|| validate_entity_value(black_box(&value)).unwrap())
    });
    c.bench_function("catalog_model/relations_from_spec", |b| {
        b.iter(|| relations_from_spec(black_box(&entity)).unwrap())
    });
    c.bench_function("catalog_model/entity_ref_parse_and_display", |b| {
        b.iter(|| {
            EntityRef::parse(
                black_box("team-a"),
                RefDefaults::kind("Group").with_namespace("music"),
            )
            .unwrap()
            .to_string()
        })
    });
    c.bench_function("catalog_model/serialize_entity_json", |b| {
        b.iter(|| serde_json::to_string(black_box(&entity)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
