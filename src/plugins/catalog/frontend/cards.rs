//! The catalog's own entity cards: About, Relations, APIs and Has part.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::links::{entity_title, ref_link, ref_links, relation_label, targets};
use crate::frontend::{Extension, PageError, ui};
use crate::plugins::catalog::common::Entity;
use crate::plugins::catalog::react::{
    CATALOG_API, EntityCardBlueprint, EntityPredicate, EntityRequest, entity_href,
};

fn has_relation(types: &'static [&'static str]) -> EntityPredicate {
    EntityPredicate::new(move |e: &Entity| {
        e.relations
            .iter()
            .flatten()
            .any(|r| types.contains(&r.relation_type.as_str()))
    })
}

/// `entity-card:catalog/about`.
pub(crate) fn about_card() -> Extension {
    EntityCardBlueprint::new("about", |req| async move { Ok(about(&req)) }).build()
}

fn about(req: &EntityRequest) -> Markup {
    let e = req.entity();
    let routes = req.page().routes();
    let kind = e.kind.to_ascii_lowercase();
    let mut items: Vec<(&str, Markup)> = Vec::new();
    items.push((
        "Description",
        html! { (e.metadata.description.as_deref().unwrap_or("No description")) },
    ));
    if !matches!(kind.as_str(), "user" | "group" | "location") {
        items.push((
            "Owner",
            ref_links(routes, targets(e, "ownedBy", None), Some("group")),
        ));
    }
    match kind.as_str() {
        "component" | "api" | "resource" => items.push((
            "System",
            ref_links(routes, targets(e, "partOf", Some("system")), Some("system")),
        )),
        "system" => items.push((
            "Domain",
            ref_links(routes, targets(e, "partOf", Some("domain")), Some("domain")),
        )),
        "domain" => items.push((
            "Parent domain",
            ref_links(routes, targets(e, "partOf", Some("domain")), Some("domain")),
        )),
        "group" => items.push((
            "Parent",
            ref_links(routes, targets(e, "childOf", None), Some("group")),
        )),
        "user" => items.push((
            "Member of",
            ref_links(routes, targets(e, "memberOf", None), Some("group")),
        )),
        _ => {}
    }
    if kind == "component" {
        let parents: Vec<&str> = targets(e, "partOf", Some("component")).collect();
        if !parents.is_empty() {
            items.push((
                "Parent component",
                ref_links(routes, parents, Some("component")),
            ));
        }
    }
    if let Some(t) = e.spec_str("type") {
        items.push(("Type", html! { (t) }));
    }
    if let Some(l) = e.spec_str("lifecycle") {
        items.push(("Lifecycle", html! { (l) }));
    }
    if let Some(profile) = e
        .spec
        .as_ref()
        .and_then(|s| s.get("profile"))
        .and_then(|p| p.as_object())
    {
        if let Some(name) = profile.get("displayName").and_then(|v| v.as_str()) {
            items.push(("Display name", html! { (name) }));
        }
        if let Some(mail) = profile.get("email").and_then(|v| v.as_str()) {
            items.push((
                "Email",
                html! { a class="bl-link" href=(format!("mailto:{mail}")) { (mail) } },
            ));
        }
    }
    if kind == "location" {
        if let Some(t) = e.spec_str("target") {
            items.push(("Target", html! { code { (t) } }));
        }
    }
    let tags: Vec<&str> = e.metadata.tags.iter().map(String::as_str).collect();
    items.push((
        "Tags",
        if tags.is_empty() {
            html! { span class="bl-muted" { "No tags" } }
        } else {
            ui::chips(&tags)
        },
    ));
    let view = e.metadata.annotations.get("backstage.io/view-url");
    ui::card(
        "About",
        html! {
            div class="cat-about" { (ui::definition_list(&items)) }
            @if !e.metadata.links.is_empty() || view.is_some() {
                div class="cat-links" {
                    @if let Some(v) = view { a class="bl-button" href=(v) { "View source" } }
                    @for l in &e.metadata.links {
                        a class="bl-link" href=(l.url) { (l.title.as_deref().unwrap_or(&l.url)) }
                    }
                }
            }
        },
    )
}

/// `entity-card:catalog/relations`: every relation, grouped by type.
pub(crate) fn relations_card() -> Extension {
    EntityCardBlueprint::new("relations", |req| async move {
        let e = req.entity();
        let routes = req.page().routes();
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in e.relations.iter().flatten() {
            groups
                .entry(r.relation_type.as_str())
                .or_default()
                .push(r.target_ref.as_str());
        }
        Ok(ui::card(
            "Relations",
            html! {
                @if groups.is_empty() {
                    p class="bl-muted" { "This entity has no relations." }
                } @else {
                    dl class="cat-rel" {
                        @for (t, refs) in &groups {
                            dt { (relation_label(t)) }
                            dd { (ref_links(routes, refs.iter().copied(), None)) }
                        }
                    }
                }
            },
        ))
    })
    .build()
}

/// `entity-card:catalog/apis`: provided and consumed APIs (or, on an API, its providers and
/// consumers).
pub(crate) fn apis_card() -> Extension {
    EntityCardBlueprint::new("apis", |req| async move {
        let e = req.entity();
        let routes = req.page().routes();
        let is_api = e.kind.eq_ignore_ascii_case("api");
        let (a, b) = if is_api {
            (
                ("Provided by", "apiProvidedBy"),
                ("Consumed by", "apiConsumedBy"),
            )
        } else {
            (("Provides", "providesApi"), ("Consumes", "consumesApi"))
        };
        let kind = if is_api { "component" } else { "api" };
        Ok(ui::card(
            if is_api { "Providers and consumers" } else { "APIs" },
            html! {
                dl class="cat-rel" {
                    dt { (a.0) } dd { (ref_links(routes, targets(e, a.1, None), Some(kind))) }
                    dt { (b.0) } dd { (ref_links(routes, targets(e, b.1, None), Some(kind))) }
                }
            },
        ))
    })
    .filter(has_relation(&[
        "providesApi",
        "consumesApi",
        "apiProvidedBy",
        "apiConsumedBy",
    ]))
    .build()
}

/// `entity-card:catalog/has-part`: the entities that are part of this one (a system's
/// components, APIs and resources; a domain's systems; a component's subcomponents), with
/// their descriptions.
pub(crate) fn has_part_card() -> Extension {
    EntityCardBlueprint::new("has-part", |req| async move {
        let e = req.entity();
        let refs: Vec<String> = targets(e, "hasPart", None).map(str::to_string).collect();
        let api = req.page().api(&CATALOG_API)?;
        let found = api
            .get_entities_by_refs(&refs)
            .await
            .map_err(PageError::from)?;
        let routes = req.page().routes();
        let title = match e.kind.to_ascii_lowercase().as_str() {
            "component" => "Subcomponents",
            "domain" => "Systems",
            _ => "Has part",
        };
        Ok(ui::card(
            title,
            html! {
                ul class="cat-list" {
                    @for (r, entity) in refs.iter().zip(found.iter().chain(std::iter::repeat(&None))) {
                        li {
                            @match entity {
                                Some(part) => {
                                    @match entity_href(routes, &part.to_ref()) {
                                        Some(h) => a class="bl-link cat-name" href=(h) { (entity_title(part)) },
                                        None => strong { (entity_title(part)) },
                                    }
                                    " "
                                    span class="bl-muted" { "· " (part.kind) }
                                    @if let Some(d) = &part.metadata.description {
                                        div class="bl-muted" { (d) }
                                    }
                                }
                                None => (ref_link(routes, r, None)),
                            }
                        }
                    }
                }
            },
        ))
    })
    .filter(has_relation(&["hasPart"]))
    .build()
}
