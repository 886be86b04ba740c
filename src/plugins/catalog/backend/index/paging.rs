//! Pages of query results: sort keys, ordering (missing values last, then by ref) and the
//! cursor and offset windows over the matching entities.

use std::cmp::Ordering;

use roaring::RoaringBitmap;

use super::super::predicate::Predicate;
use super::super::query::{FullText, Order};
use super::ref_order::{RefOrder, ref_of};
use super::state::State;
use super::{EntityIndex, Page, Position, SortKey};

/// Compares sort values: missing values sort last in either direction.
fn cmp_values(a: Option<&str>, b: Option<&str>, desc: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) if desc => y.cmp(x),
        (Some(x), Some(y)) => x.cmp(y),
    }
}

struct Keyed<'a> {
    slot: u32,
    values: Vec<Option<&'a str>>,
    entity_ref: &'a str,
}

fn cmp_keyed(a: &Keyed<'_>, b: &Keyed<'_>, order: &[Order]) -> Ordering {
    for (i, o) in order.iter().enumerate() {
        let c = cmp_values(a.values[i], b.values[i], o.desc);
        if c != Ordering::Equal {
            return c;
        }
    }
    a.entity_ref.cmp(b.entity_ref)
}

fn cmp_to_key(a: &Keyed<'_>, key: &SortKey, order: &[Order]) -> Ordering {
    for (i, o) in order.iter().enumerate() {
        let c = cmp_values(
            a.values[i],
            key.values.get(i).and_then(Option::as_deref),
            o.desc,
        );
        if c != Ordering::Equal {
            return c;
        }
    }
    a.entity_ref.cmp(key.entity_ref.as_str())
}

/// Sorts `items` by `cmp` and keeps only the first `skip + limit` (what an offset skips and
/// the page itself), selecting them first when there are more; returns `skip` and whether
/// more items follow the page.
fn keep_window<T>(
    items: &mut Vec<T>,
    position: &Position,
    limit: Option<usize>,
    cmp: impl Fn(&T, &T) -> Ordering + Copy,
) -> (usize, bool) {
    let skip = match position {
        Position::Offset(n) => usize::try_from(*n).unwrap_or(usize::MAX),
        _ => 0,
    };
    let mut more = false;
    if let Some(want) = limit.map(|l| skip.saturating_add(l)) {
        if want < items.len() {
            more = true;
            if want > 0 {
                items.select_nth_unstable_by(want - 1, cmp);
            }
            items.truncate(want);
        }
    }
    items.sort_unstable_by(cmp);
    (skip, more)
}

impl EntityIndex {
    /// One page of the entities matching `predicate` (and `full_text`), in `order` then ref
    /// order, starting at `position`; `limit` `None` means all.
    pub(crate) fn page(
        &self,
        predicate: &Predicate,
        full_text: Option<&FullText>,
        order: &[Order],
        position: &Position,
        limit: Option<usize>,
    ) -> Page {
        let s = self.state.read();
        let mut matched = s.eval(predicate);
        if let Some(t) = full_text {
            matched &= s.full_text(t);
        }
        let total = matched.len();
        // A count (`limit=0`) from the start or an offset needs no order at all.
        if limit == Some(0) {
            let more = match position {
                Position::Start => Some(total > 0),
                Position::Offset(n) => Some(*n < total),
                Position::After(_) | Position::Before(_) => None,
            };
            if let Some(more) = more {
                return Page {
                    first: None,
                    last: None,
                    items: Vec::new(),
                    total,
                    more,
                };
            }
        }
        if order.is_empty() {
            if let Some(refs) = s.ref_order.get(&s, total) {
                return self.page_in_ref_order(&s, &refs, &matched, position, limit);
            }
        }
        let key_ids: Vec<Option<u32>> = order.iter().map(|o| s.strings.lookup(&o.field)).collect();
        let backwards = matches!(position, Position::Before(_));
        let mut keyed: Vec<Keyed<'_>> = Vec::with_capacity(matched.len() as usize);
        for slot in &matched {
            let Some(e) = s.slot(slot) else { continue };
            let k = Keyed {
                slot,
                values: order
                    .iter()
                    .zip(&key_ids)
                    .map(|(o, k)| s.sort_value(slot, *k, o.desc))
                    .collect(),
                entity_ref: s.strings.get(e.entity_ref),
            };
            let keep = match position {
                Position::After(key) => cmp_to_key(&k, key, order) == Ordering::Greater,
                Position::Before(key) => cmp_to_key(&k, key, order) == Ordering::Less,
                Position::Offset(_) | Position::Start => true,
            };
            if keep {
                keyed.push(k);
            }
        }
        let cmp = |a: &Keyed<'_>, b: &Keyed<'_>| {
            let c = cmp_keyed(a, b, order);
            if backwards { c.reverse() } else { c }
        };
        let (skip, more) = keep_window(&mut keyed, position, limit, cmp);
        let mut window: Vec<&Keyed<'_>> = keyed.iter().skip(skip).collect();
        if backwards {
            window.reverse();
        }
        let key_of = |k: &Keyed<'_>| SortKey {
            values: k.values.iter().map(|v| v.map(str::to_owned)).collect(),
            entity_ref: k.entity_ref.to_owned(),
        };
        let items = window
            .iter()
            .filter_map(|k| s.slot(k.slot).map(|e| self.codec.decompress(&e.json)))
            .collect();
        Page {
            first: window.first().map(|k| key_of(k)),
            last: window.last().map(|k| key_of(k)),
            items,
            total,
            more,
        }
    }

    /// [`EntityIndex::page`] in the default order (by ref) with the cached ref order: the
    /// matching entities are compared by rank (an integer) and only the page's own entities
    /// are read. Answers what the general path answers.
    fn page_in_ref_order(
        &self,
        s: &State,
        refs: &RefOrder,
        matched: &RoaringBitmap,
        position: &Position,
        limit: Option<usize>,
    ) -> Page {
        let total = matched.len();
        let rank_of = |key: &SortKey, inclusive: bool| {
            refs.sorted.partition_point(|slot| {
                let r = ref_of(s, *slot);
                if inclusive {
                    r <= key.entity_ref.as_str()
                } else {
                    r < key.entity_ref.as_str()
                }
            })
        };
        let (from, to) = match position {
            // After the cursor: refs greater than its ref.
            Position::After(key) => (rank_of(key, true), usize::MAX),
            // Before the cursor: refs less than its ref.
            Position::Before(key) => (0, rank_of(key, false)),
            Position::Offset(_) | Position::Start => (0, usize::MAX),
        };
        let mut ranks: Vec<u32> = matched
            .iter()
            .filter_map(|slot| refs.rank.get(slot as usize).copied())
            .filter(|r| *r != u32::MAX && (from..to).contains(&(*r as usize)))
            .collect();
        let backwards = matches!(position, Position::Before(_));
        let cmp = |a: &u32, b: &u32| if backwards { b.cmp(a) } else { a.cmp(b) };
        let (skip, more) = keep_window(&mut ranks, position, limit, cmp);
        let mut window: Vec<u32> = ranks
            .into_iter()
            .skip(skip)
            .filter_map(|r| refs.sorted.get(r as usize).copied())
            .collect();
        if backwards {
            window.reverse();
        }
        let key_of = |slot: u32| SortKey {
            values: Vec::new(),
            entity_ref: ref_of(s, slot).to_owned(),
        };
        let items = window
            .iter()
            .filter_map(|slot| s.slot(*slot).map(|e| self.codec.decompress(&e.json)))
            .collect();
        Page {
            first: window.first().map(|slot| key_of(*slot)),
            last: window.last().map(|slot| key_of(*slot)),
            items,
            total,
            more,
        }
    }
}
