//! Entity links and relation helpers shared by the catalog pages and cards.

use maud::{Markup, html};

use crate::frontend::Routes;
use crate::plugins::catalog::common::{Entity, EntityRef};
use crate::plugins::catalog::react::{entity_href, humanize_ref};

/// A link to the entity `target_ref` (a canonical ref string), shortened for display; plain
/// text when the ref does not parse or no entity page is mounted.
pub(crate) fn ref_link(routes: &Routes, target_ref: &str, default_kind: Option<&str>) -> Markup {
    match target_ref.parse::<EntityRef>() {
        Ok(r) => {
            let text = humanize_ref(&r, default_kind);
            match entity_href(routes, &r) {
                Some(href) => html! { a class="bl-link" href=(href) { (text) } },
                None => html! { (text) },
            }
        }
        Err(_) => html! { (target_ref) },
    }
}

/// The targets of `entity`'s relations of `relation_type`, optionally only those of `kind`.
pub(crate) fn targets<'a>(
    entity: &'a Entity,
    relation_type: &'a str,
    kind: Option<&'a str>,
) -> impl Iterator<Item = &'a str> + 'a {
    entity
        .relations
        .iter()
        .flatten()
        .filter(move |r| r.relation_type == relation_type)
        .map(|r| r.target_ref.as_str())
        .filter(move |t| {
            kind.is_none_or(|k| {
                t.split_once(':')
                    .is_some_and(|(tk, _)| tk.eq_ignore_ascii_case(k))
            })
        })
}

/// Links to the targets, comma-separated; `—` when there are none.
pub(crate) fn ref_links<'a>(
    routes: &Routes,
    refs: impl IntoIterator<Item = &'a str>,
    default_kind: Option<&str>,
) -> Markup {
    let refs: Vec<&str> = refs.into_iter().collect();
    html! {
        @if refs.is_empty() {
            span class="bl-muted" { "—" }
        } @else {
            @for (i, r) in refs.iter().enumerate() {
                @if i > 0 { ", " }
                (ref_link(routes, r, default_kind))
            }
        }
    }
}

/// The display title of an entity: `metadata.title`, else a user's or group's
/// `spec.profile.displayName`, else its name.
pub(crate) fn entity_title(entity: &Entity) -> &str {
    entity
        .metadata
        .title
        .as_deref()
        .or_else(|| {
            entity
                .spec
                .as_ref()?
                .get("profile")?
                .get("displayName")?
                .as_str()
        })
        .filter(|t| !t.is_empty())
        .unwrap_or(&entity.metadata.name)
}

/// A human label of a relation type.
pub(crate) fn relation_label(relation_type: &str) -> &str {
    match relation_type {
        "ownedBy" => "Owned by",
        "ownerOf" => "Owner of",
        "partOf" => "Part of",
        "hasPart" => "Has part",
        "providesApi" => "Provides API",
        "consumesApi" => "Consumes API",
        "apiProvidedBy" => "API provided by",
        "apiConsumedBy" => "API consumed by",
        "dependsOn" => "Depends on",
        "dependencyOf" => "Dependency of",
        "parentOf" => "Parent of",
        "childOf" => "Child of",
        "memberOf" => "Member of",
        "hasMember" => "Has member",
        other => other,
    }
}

/// The plural display name of a kind, for counts and captions.
pub(crate) fn kind_plural(kind: &str) -> String {
    match kind.to_ascii_lowercase().as_str() {
        "api" => "APIs".to_string(),
        "" => "entities".to_string(),
        k => {
            let mut s = String::with_capacity(k.len() + 1);
            let mut chars = k.chars();
            if let Some(c) = chars.next() {
                s.push(c.to_ascii_uppercase());
            }
            s.extend(chars);
            s.push('s');
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::catalog::common::EntityRelation;

    #[test]
    fn targets_filter_by_type_and_kind() {
        let mut e = Entity::new("backstage.io/v1alpha1", "Component", "a");
        e.relations = Some(vec![
            EntityRelation::new("partOf", &"system:default/s".parse().unwrap()),
            EntityRelation::new("partOf", &"component:default/c".parse().unwrap()),
            EntityRelation::new("ownedBy", &"group:default/g".parse().unwrap()),
        ]);
        assert_eq!(
            targets(&e, "partOf", Some("system")).collect::<Vec<_>>(),
            ["system:default/s"]
        );
        assert_eq!(targets(&e, "partOf", None).count(), 2);
    }

    #[test]
    fn links_without_routes_are_text_and_plurals_read_well() {
        let html = ref_link(&Routes::default(), "group:default/<b>", Some("group")).into_string();
        assert_eq!(html, "&lt;b&gt;");
        assert_eq!(kind_plural("Component"), "Components");
        assert_eq!(kind_plural("API"), "APIs");
    }
}
