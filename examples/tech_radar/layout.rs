//! Where the blips go: deterministic positions inside each entry's quadrant and ring sector,
//! on a polar grid whose points are at least one blip apart, so numbered blips do not overlap
//! while the sector has room for them.
//!
//! Coordinates are SVG's (y grows downwards) around the centre `(0, 0)`. Quadrant `i` of the
//! data spans the angles `[i·90°, (i+1)·90°]` counted anticlockwise from the positive x axis:
//! the first quadrant is top right, then top left, bottom left, bottom right.

use std::f64::consts::FRAC_PI_2;

use super::model::RadarData;

/// The radius of the outermost ring.
pub(crate) const RADIUS: f64 = 400.0;
/// The radius of a blip.
pub(crate) const BLIP_RADIUS: f64 = 9.0;
/// The preferred distance between blip centres (a gap of 8 between blips).
const SPACING: f64 = 2.0 * BLIP_RADIUS + 8.0;

/// A placed entry.
#[derive(Debug, Clone)]
pub(crate) struct Blip {
    /// Its number on the radar and in the list (1-based).
    pub(crate) number: usize,
    /// Its index in `RadarData::entries`.
    pub(crate) entry: usize,
    pub(crate) quadrant: usize,
    pub(crate) ring: usize,
    pub(crate) x: f64,
    pub(crate) y: f64,
}

/// The inner and outer radius of ring `i` of `n`: equal areas, so outer rings hold more.
pub(crate) fn ring_bounds(i: usize, n: usize) -> (f64, f64) {
    let r = |k: usize| RADIUS * (k as f64 / n as f64).sqrt();
    (r(i), r(i + 1))
}

/// The start and end angle (radians, anticlockwise) of quadrant `q`.
pub(crate) fn quadrant_angles(q: usize) -> (f64, f64) {
    let start = q as f64 * FRAC_PI_2;
    (start, start + FRAC_PI_2)
}

/// The point at radius `r`, angle `a`.
pub(crate) fn point(r: f64, a: f64) -> (f64, f64) {
    (r * a.cos(), -r * a.sin())
}

/// Grid points of the sector `[inner, outer] × [a0, a1]` at least `spacing` apart and at
/// least `spacing / 2` from its edges, row by row from the inside.
fn candidates(inner: f64, outer: f64, a0: f64, a1: f64, spacing: f64) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    let half = spacing / 2.0;
    let mut r = inner + half;
    while r <= outer - half {
        // The angle whose chord-distance to an edge line is `half`.
        if half < r {
            let pad = (half / r).asin();
            let span = a1 - a0 - 2.0 * pad;
            if span >= 0.0 {
                // Consecutive points `step` apart on the arc are `2r·sin(step/2)` apart.
                let min_step = 2.0 * (half / r).min(1.0).asin();
                let n = (span / min_step).floor() as usize + 1;
                for k in 0..n {
                    let a = if n == 1 {
                        a0 + pad + span / 2.0
                    } else {
                        a0 + pad + span * k as f64 / (n - 1) as f64
                    };
                    points.push(point(r, a));
                }
            }
        }
        r += spacing;
    }
    points
}

/// Picks up to `n` of `points`, far apart: the one nearest `centre` first, then each time the
/// one farthest from those already picked (the lowest index on ties).
fn spread(points: &[(f64, f64)], centre: (f64, f64), n: usize) -> Vec<usize> {
    let dist = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).hypot(a.1 - b.1);
    let mut nearest: Vec<f64> = points.iter().map(|p| -dist(*p, centre)).collect();
    let mut picked = Vec::with_capacity(n.min(points.len()));
    while picked.len() < n.min(points.len()) {
        let mut best: Option<usize> = None;
        for (i, d) in nearest.iter().enumerate() {
            if !picked.contains(&i) && best.is_none_or(|b| *d > nearest[b]) {
                best = Some(i);
            }
        }
        let Some(best) = best else { break };
        picked.push(best);
        for (i, d) in nearest.iter_mut().enumerate() {
            let to_best = dist(points[i], points[best]);
            // The first pick scored by closeness to the centre; from now on by distance.
            *d = if picked.len() == 1 {
                to_best
            } else {
                d.min(to_best)
            };
        }
    }
    picked
}

/// Places every entry; numbers follow quadrant, ring and title order.
pub(crate) fn layout(data: &RadarData) -> Vec<Blip> {
    let mut order: Vec<(usize, usize, String, usize)> = data
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            Some((
                data.quadrant_index(&e.quadrant)?,
                data.ring_index(e.ring_id())?,
                e.title.to_lowercase(),
                i,
            ))
        })
        .collect();
    order.sort();
    let mut blips = Vec::with_capacity(order.len());
    let mut start = 0;
    while start < order.len() {
        let (q, ring) = (order[start].0, order[start].1);
        let end = start
            + order[start..]
                .iter()
                .take_while(|o| o.0 == q && o.1 == ring)
                .count();
        let group = &order[start..end];
        let (inner, outer) = ring_bounds(ring, data.rings.len());
        let (a0, a1) = quadrant_angles(q);
        // Tighten the grid until the sector holds the group; overlap only when even blips
        // touching do not fit.
        let mut spacing = SPACING;
        let mut points = candidates(inner, outer, a0, a1, spacing);
        while points.len() < group.len() && spacing > 2.0 * BLIP_RADIUS {
            spacing = (spacing * 0.9).max(2.0 * BLIP_RADIUS);
            points = candidates(inner, outer, a0, a1, spacing);
        }
        if points.is_empty() {
            points.push(point((inner + outer) / 2.0, (a0 + a1) / 2.0));
        }
        let centre = point((inner + outer) / 2.0, (a0 + a1) / 2.0);
        let picked = spread(&points, centre, group.len());
        for (k, (_, _, _, entry)) in group.iter().enumerate() {
            let index = picked[k % picked.len()];
            let (x, y) = points[index];
            blips.push(Blip {
                number: start + k + 1,
                entry: *entry,
                quadrant: q,
                ring,
                x,
                y,
            });
        }
        start = end;
    }
    blips
}
