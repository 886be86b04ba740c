//! The entities in ref order, cached between changes: the default order of a page (no
//! `orderField`) is by entity ref, and sorting every matching entity's ref for each page (a
//! string compare each, and a cache miss or two to reach each string) was most of the time
//! of a page over thousands of matches.
//!
//! The cache is built lazily, only once several large pages found it missing since the last
//! change: a catalog being ingested changes many times a second, and each rebuild sorts every
//! entity.

use std::sync::Arc;

use super::state::State;

/// Matches a page must have before it uses (and may build) the cache.
#[cfg(not(test))]
const MIN_MATCHES: u64 = 1024;
#[cfg(test)]
const MIN_MATCHES: u64 = 4;
/// Large default-order pages served without the cache before it is built.
#[cfg(not(test))]
const REBUILD_AFTER: u32 = 8;
#[cfg(test)]
const REBUILD_AFTER: u32 = 1;

/// Every live slot's place in ref order.
pub(super) struct RefOrder {
    /// Slot → its rank in ref order (`u32::MAX` for a free slot).
    pub(super) rank: Vec<u32>,
    /// Rank → slot.
    pub(super) sorted: Vec<u32>,
}

/// The cache, kept in [`State`]: cleared by every change, filled under the read lock.
#[derive(Default)]
pub(super) struct RefOrderCache {
    inner: parking_lot::Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    order: Option<Arc<RefOrder>>,
    /// Large pages served without the order since it was cleared.
    misses: u32,
}

impl RefOrderCache {
    /// Forgets the order (the state changed).
    pub(super) fn clear(&mut self) {
        *self.inner.get_mut() = Cached::default();
    }

    /// The order, for a page with `matches` matching entities: `None` when the page is small
    /// or the order is not worth building yet.
    pub(super) fn get(&self, state: &State, matches: u64) -> Option<Arc<RefOrder>> {
        if matches < MIN_MATCHES {
            return None;
        }
        let mut cached = self.inner.lock();
        if let Some(order) = &cached.order {
            return Some(order.clone());
        }
        cached.misses += 1;
        if cached.misses <= REBUILD_AFTER {
            return None;
        }
        let order = Arc::new(build(state));
        cached.order = Some(order.clone());
        Some(order)
    }
}

fn build(s: &State) -> RefOrder {
    let mut sorted: Vec<u32> = s
        .live
        .iter()
        .filter(|slot| s.slot(*slot).is_some())
        .collect();
    sorted.sort_unstable_by(|a, b| ref_of(s, *a).cmp(ref_of(s, *b)));
    let mut rank = vec![u32::MAX; s.slots.len()];
    for (i, slot) in sorted.iter().enumerate() {
        if let Some(r) = rank.get_mut(*slot as usize) {
            *r = u32::try_from(i).unwrap_or(u32::MAX);
        }
    }
    RefOrder { rank, sorted }
}

/// The ref of a live slot (empty for a free one).
pub(super) fn ref_of(s: &State, slot: u32) -> &str {
    s.slot(slot).map_or("", |e| s.strings.get(e.entity_ref))
}
