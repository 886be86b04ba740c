//! A synthetic catalog for benchmarks and load tests: entities of every built-in kind with
//! realistic relations (owners, systems, domains, APIs, dependencies, memberships).

use std::fmt::Write as _;

/// How many entities of each kind a synthetic catalog of `n` entities holds.
fn counts(n: usize) -> [usize; 7] {
    let domains = (n / 200).max(1);
    let systems = (n / 50).max(1);
    let groups = (n / 20).max(1);
    let users = (n / 10).max(1);
    let apis = (n / 5).max(1);
    let resources = (n / 10).max(1);
    let used = domains + systems + groups + users + apis + resources;
    let components = n.saturating_sub(used).max(1);
    [domains, systems, groups, users, apis, resources, components]
}

/// A multi-document YAML catalog of about `n` entities (at least one of each kind).
///
/// Its Groups, Users, Systems, Domains and Resources need `catalog.rules` that allow them.
///
/// ```
/// use backlot::plugins::catalog::backend::generate::synthetic_catalog_yaml;
///
/// let yaml = synthetic_catalog_yaml(100);
/// assert_eq!(yaml.matches("\nkind: ").count(), 100);
/// ```
pub fn synthetic_catalog_yaml(n: usize) -> String {
    let [domains, systems, groups, users, apis, resources, components] = counts(n);
    let mut out = String::with_capacity(n * 400);
    let mut doc = |body: String| {
        out.push_str("---\napiVersion: backstage.io/v1alpha1\n");
        out.push_str(&body);
    };
    for i in 0..domains {
        doc(format!(
            "kind: Domain\nmetadata:\n  name: domain-{i}\n  description: Domain {i}\nspec:\n  owner: group-{}\n",
            i % groups
        ));
    }
    for i in 0..systems {
        doc(format!(
            "kind: System\nmetadata:\n  name: system-{i}\n  tags: [tier-{}]\nspec:\n  owner: group-{}\n  domain: domain-{}\n",
            i % 3,
            i % groups,
            i % domains
        ));
    }
    for i in 0..groups {
        let mut body = format!(
            "kind: Group\nmetadata:\n  name: group-{i}\nspec:\n  type: team\n  profile:\n    displayName: Group {i}\n  children: []\n"
        );
        if i > 0 {
            let _ = writeln!(body, "  parent: group-{}", (i - 1) / 4);
        }
        doc(body);
    }
    for i in 0..users {
        doc(format!(
            "kind: User\nmetadata:\n  name: user-{i}\nspec:\n  profile:\n    email: user-{i}@example.com\n  memberOf: [group-{}]\n",
            i % groups
        ));
    }
    for i in 0..apis {
        doc(format!(
            "kind: API\nmetadata:\n  name: api-{i}\nspec:\n  type: {}\n  lifecycle: production\n  owner: group-{}\n  system: system-{}\n  definition: \"openapi: 3.0.0\"\n",
            ["openapi", "grpc", "graphql", "asyncapi"][i % 4],
            i % groups,
            i % systems
        ));
    }
    for i in 0..resources {
        doc(format!(
            "kind: Resource\nmetadata:\n  name: resource-{i}\nspec:\n  type: database\n  owner: group-{}\n  system: system-{}\n",
            i % groups,
            i % systems
        ));
    }
    for i in 0..components {
        doc(format!(
            "kind: Component\nmetadata:\n  name: component-{i}\n  title: Component {i}\n  tags: [{}, team-{}]\n  annotations:\n    backstage.io/techdocs-ref: dir:.\nspec:\n  type: {}\n  lifecycle: {}\n  owner: group-{}\n  system: system-{}\n  providesApis: [api-{}]\n  consumesApis: [api-{}, api-{}]\n  dependsOn: ['resource:resource-{}']\n",
            ["java", "go", "rust", "python"][i % 4],
            i % 10,
            ["service", "website", "library"][i % 3],
            ["production", "experimental", "deprecated"][i % 3],
            i % groups,
            i % systems,
            i % apis,
            (i + 1) % apis,
            (i + 7) % apis,
            i % resources
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_add_up_and_documents_parse_as_valid_entities() {
        for n in [10, 1000, 10_000] {
            assert_eq!(counts(n).iter().sum::<usize>(), n);
        }
        let yaml = synthetic_catalog_yaml(300);
        let docs = super::super::yaml::parse_documents(&yaml, 1 << 30);
        assert_eq!(docs.len(), 300);
        for d in docs {
            let e: crate::plugins::catalog::common::Entity =
                serde_json::from_value(d.unwrap()).unwrap();
            crate::plugins::catalog::common::validate_entity(&e).unwrap();
        }
    }
}
