//! The catalog's route refs: the index page and entity pages.

use crate::frontend::{RouteParams, RouteRef, Routes};
use crate::plugins::catalog::common::{Entity, EntityRef};

/// The params of an entity page, `/catalog/:namespace/:kind/:name`. Made from a ref or an
/// entity, kind and namespace are lowercased and the name kept, as Backstage's links do (the
/// catalog matches all three case-insensitively).
///
/// ```
/// use backlot::plugins::catalog::react::EntityParams;
/// use backlot::plugins::catalog::common::EntityRef;
///
/// let params = EntityParams::from_ref(&"Component:Default/Artist-Web".parse::<EntityRef>()?);
/// assert_eq!((params.namespace.as_str(), params.kind.as_str(), params.name.as_str()), ("default", "component", "Artist-Web"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityParams {
    /// The namespace.
    pub namespace: String,
    /// The kind.
    pub kind: String,
    /// The name.
    pub name: String,
}

impl EntityParams {
    /// The params of an entity ref.
    pub fn from_ref(entity_ref: &EntityRef) -> Self {
        Self {
            namespace: entity_ref.namespace().to_ascii_lowercase(),
            kind: entity_ref.kind().to_ascii_lowercase(),
            name: entity_ref.name().to_string(),
        }
    }

    /// The params of an entity.
    pub fn from_entity(entity: &Entity) -> Self {
        Self::from_ref(&entity.to_ref())
    }
}

impl RouteParams for EntityParams {
    fn names() -> &'static [&'static str] {
        &["namespace", "kind", "name"]
    }
    fn values(&self) -> Vec<&str> {
        vec![&self.namespace, &self.kind, &self.name]
    }
}

/// The catalog index page (`/catalog` by default), bindable as `catalog.catalogIndex`.
pub static CATALOG_INDEX_ROUTE: RouteRef = RouteRef::new("catalog.catalogIndex");

/// An entity page (`/catalog/:namespace/:kind/:name` by default), bindable as
/// `catalog.catalogEntity`.
pub static ENTITY_ROUTE: RouteRef<EntityParams> = RouteRef::new("catalog.catalogEntity");

/// The link to an entity's page, or `None` when no entity page is mounted.
///
/// ```
/// use backlot::frontend::Routes;
/// use backlot::plugins::catalog::react::entity_href;
///
/// assert_eq!(entity_href(&Routes::default(), &"group:default/team-a".parse()?), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn entity_href(routes: &Routes, entity_ref: &EntityRef) -> Option<String> {
    routes.href(&ENTITY_ROUTE, &EntityParams::from_ref(entity_ref))
}

/// The short form of an entity ref for display, as Backstage's `humanizeEntityRef`: the
/// name alone in the `default` namespace when the kind is `default_kind`, else with the kind
/// and a non-default namespace.
///
/// ```
/// use backlot::plugins::catalog::react::humanize_ref;
///
/// let r = "group:default/team-a".parse()?;
/// assert_eq!(humanize_ref(&r, Some("group")), "team-a");
/// assert_eq!(humanize_ref(&r, None), "group:team-a");
/// assert_eq!(humanize_ref(&"api:ops/billing".parse()?, Some("api")), "ops/billing");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn humanize_ref(entity_ref: &EntityRef, default_kind: Option<&str>) -> String {
    let kind = entity_ref.kind();
    let show_kind = !default_kind.is_some_and(|k| k.eq_ignore_ascii_case(kind));
    let ns = entity_ref.namespace();
    let mut out = String::new();
    if show_kind {
        out.push_str(&kind.to_ascii_lowercase());
        out.push(':');
    }
    if !ns.eq_ignore_ascii_case("default") {
        out.push_str(ns);
        out.push('/');
    }
    out.push_str(entity_ref.name());
    out
}
