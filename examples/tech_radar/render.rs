//! The radar page's markup: the SVG (rings, axes, quadrant names, numbered blips with
//! moved-in/out markers), the ring legend and the entry list per quadrant. Everything from
//! the data file goes through maud, which escapes it.

use maud::{Markup, PreEscaped, html};

use super::layout::{BLIP_RADIUS, Blip, RADIUS, layout, ring_bounds};
use super::model::{Moved, RadarData, RadarEntry};

const STYLE: &str = "
.tr-layout { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.tr-radar { flex: 1 1 560px; max-width: 760px; }
.tr-radar svg { width: 100%; height: auto; }
.tr-side { flex: 1 1 300px; }
.tr-legend { list-style: none; padding: 0; }
.tr-legend li { margin: 4px 0; }
.tr-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 6px; vertical-align: middle; }
.tr-quadrants { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 16px; margin-top: 24px; }
.tr-quadrant h4 { margin: 8px 0 2px; }
.tr-quadrant ol { margin: 0; padding-left: 28px; }
.tr-quadrant p { margin: 0 0 4px; font-size: 0.85em; opacity: 0.8; }
.tr-moved { font-size: 0.8em; margin-left: 4px; }
";

/// `1.5` for coordinates (one decimal is plenty at this size).
fn num(v: f64) -> String {
    format!("{v:.1}")
}

/// The marker of a blip: a circle, or a triangle pointing up (moved in) or down (moved out).
fn marker(moved: Moved, color: &str) -> Markup {
    let r = BLIP_RADIUS + 2.0;
    match moved {
        Moved::None => html! { circle r=(num(BLIP_RADIUS)) fill=(color) {} },
        Moved::In => html! {
            path class="tr-moved-in" fill=(color)
                d=(format!("M 0 {} L {} {} L {} {} Z", num(-r), num(r), num(r * 0.7), num(-r), num(r * 0.7))) {}
        },
        Moved::Out => html! {
            path class="tr-moved-out" fill=(color)
                d=(format!("M 0 {} L {} {} L {} {} Z", num(r), num(r), num(-r * 0.7), num(-r), num(-r * 0.7))) {}
        },
    }
}

fn moved_label(moved: Moved) -> &'static str {
    match moved {
        Moved::In => "moved in",
        Moved::Out => "moved out",
        Moved::None => "",
    }
}

fn blip(data: &RadarData, b: &Blip) -> Markup {
    let entry = &data.entries[b.entry];
    let ring = &data.rings[b.ring];
    let inner = html! {
        g class="tr-blip" data-key=(entry.key) data-quadrant=(entry.quadrant) data-ring=(ring.id)
            data-number=(b.number) transform=(format!("translate({} {})", num(b.x), num(b.y))) {
            title { (b.number) ". " (entry.title) " (" (ring.name) ")" }
            (marker(entry.moved(), &ring.color))
            text text-anchor="middle" dy="0.35em" font-size="10" fill="#fff" { (b.number) }
        }
    };
    match &entry.url {
        Some(url) => html! { a href=(url) { (inner) } },
        None => inner,
    }
}

/// The radar as SVG.
pub(crate) fn svg(data: &RadarData, blips: &[Blip]) -> Markup {
    let m = RADIUS + 60.0;
    let n = data.rings.len();
    // Quadrant names sit outside the circle, in the corners of their quadrant.
    let corners = [
        (1.0, -1.0, "end"),
        (-1.0, -1.0, "start"),
        (-1.0, 1.0, "start"),
        (1.0, 1.0, "end"),
    ];
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("{} {} {} {}", num(-m), num(-m), num(2.0 * m), num(2.0 * m)))
            role="img" aria-label="Tech Radar" class="tr-svg" {
            @for i in (0..n).rev() {
                @let ring = &data.rings[i];
                circle class="tr-ring" data-ring=(ring.id) r=(num(ring_bounds(i, n).1))
                    fill=(if i % 2 == 0 { "#f3f3f3" } else { "#fafafa" }) stroke="#bbb" {}
            }
            line x1=(num(-RADIUS)) y1="0" x2=(num(RADIUS)) y2="0" stroke="#bbb" {}
            line x1="0" y1=(num(-RADIUS)) x2="0" y2=(num(RADIUS)) stroke="#bbb" {}
            @for (i, ring) in data.rings.iter().enumerate() {
                @let (inner, outer) = ring_bounds(i, n);
                text class="tr-ring-label" x="0" y=(num(-(inner + outer) / 2.0)) text-anchor="middle"
                    dy="0.35em" font-size="12" font-weight="bold" fill="#888" { (ring.name) }
            }
            @for (q, quadrant) in data.quadrants.iter().enumerate() {
                @let (sx, sy, anchor) = corners[q];
                text class="tr-quadrant-label" data-quadrant=(quadrant.id)
                    x=(num(sx * (RADIUS + 50.0))) y=(num(sy * (RADIUS + 30.0))) text-anchor=(anchor)
                    font-size="16" font-weight="bold" { (quadrant.name) }
            }
            @for b in blips { (blip(data, b)) }
        }
    }
}

fn entry_item(data: &RadarData, entry: &RadarEntry, number: usize) -> Markup {
    let moved = entry.moved();
    html! {
        li value=(number) data-key=(entry.key) {
            @if let Some(url) = &entry.url { a href=(url) { (entry.title) } } @else { (entry.title) }
            @if moved != Moved::None {
                span class=(format!("tr-moved tr-{}", moved_label(moved).replace(' ', "-"))) {
                    @if moved == Moved::In { "▲ " } @else { "▼ " } (moved_label(moved))
                }
            }
            @if let Some(d) = entry.description() { p { (d) } }
            @if !entry.links.is_empty() {
                p { @for (i, l) in entry.links.iter().enumerate() {
                    @if i > 0 { " · " } a href=(l.url) { (l.title) }
                } }
            }
            @if let Some(step) = entry.timeline.first() {
                p class="tr-since" {
                    (data.ring_index(&step.ring_id).map_or("", |r| data.rings[r].name.as_str()))
                    " since " (step.date)
                }
            }
        }
    }
}

/// The whole page body below the header: radar, legend and lists.
pub(crate) fn page(data: &RadarData) -> Markup {
    let blips = layout(data);
    html! {
        style { (PreEscaped(STYLE)) }
        div class="tr-layout" {
            div class="tr-radar" { (svg(data, &blips)) }
            div class="tr-side" {
                h3 { "Rings" }
                ul class="tr-legend" {
                    @for ring in &data.rings {
                        li data-ring=(ring.id) {
                            span class="tr-swatch" style=(format!("background:{}", ring.color)) {}
                            strong { (ring.name) }
                            @if let Some(d) = &ring.description { " — " (d) }
                        }
                    }
                    li { "▲ moved in · ▼ moved out (latest change)" }
                }
                p { (data.entries.len()) " entries" }
            }
        }
        div class="tr-quadrants" {
            @for (q, quadrant) in data.quadrants.iter().enumerate() {
                section class="tr-quadrant" data-quadrant=(quadrant.id) {
                    h3 { (quadrant.name) }
                    @for (r, ring) in data.rings.iter().enumerate() {
                        @let in_ring: Vec<&Blip> = blips.iter().filter(|b| b.quadrant == q && b.ring == r).collect();
                        @if !in_ring.is_empty() {
                            h4 { (ring.name) }
                            ol { @for b in in_ring { (entry_item(data, &data.entries[b.entry], b.number)) } }
                        }
                    }
                }
            }
        }
    }
}
