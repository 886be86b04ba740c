//! A predicate over one entity: the answer [`State::eval`] gives for that entity's slot,
//! computed from the slot's own fields instead of the postings of the whole index. Lookups
//! of single entities (by name, uid or ref) check the caller's read scope this way, so a
//! permission filter costs them a few field comparisons, not a pass over the index.

use serde_json::Value;

use super::super::predicate::Predicate;
use super::super::stitching::search_rows;
use super::IndexedEntity;
use super::state::{ITEM, NONE, State};

impl State {
    /// Whether the entity in `slot` matches `p` (exactly when `self.eval(p)` holds `slot`).
    pub(super) fn slot_matches(&self, slot: u32, p: &Predicate) -> bool {
        match p {
            Predicate::All(ps) => ps.iter().all(|p| self.slot_matches(slot, p)),
            Predicate::Any(ps) => ps.iter().any(|p| self.slot_matches(slot, p)),
            Predicate::Not(p) => !self.slot_matches(slot, p),
            Predicate::Exists { key, exists } => {
                let present = self
                    .strings
                    .lookup(key)
                    .is_some_and(|k| !self.fields_of(slot, k).is_empty())
                    || self.slot_item_key(slot, key);
                present == *exists
            }
            Predicate::In { key, values } => {
                if values.iter().any(|v| v == "true") && self.slot_item_key(slot, key) {
                    return true;
                }
                let Some(k) = self.strings.lookup(key) else {
                    return false;
                };
                let fields = self.fields_of(slot, k);
                !fields.is_empty()
                    && values.iter().any(|v| {
                        self.strings
                            .lookup(v)
                            .is_some_and(|id| fields.iter().any(|f| f.value == id))
                    })
            }
            Predicate::HasPrefix { key, prefix } => {
                if "true".starts_with(prefix.as_str()) && self.slot_item_key(slot, key) {
                    return true;
                }
                let Some(k) = self.strings.lookup(key) else {
                    return false;
                };
                self.fields_of(slot, k).iter().any(|f| {
                    f.value != NONE && self.strings.get(f.value).starts_with(prefix.as_str())
                })
            }
        }
    }

    /// Whether Backstage's item key `key` (`<array key>.<item>`) holds for `slot`, as
    /// [`State::item_key`] has it: the slot has string items at `<array key>` and the value
    /// `<item>` there.
    fn slot_item_key(&self, slot: u32, key: &str) -> bool {
        key.match_indices('.').any(|(i, _)| {
            let (array_key, item) = (&key[..i], &key[i + 1..]);
            let Some(k) = self.strings.lookup(array_key) else {
                return false;
            };
            let fields = self.fields_of(slot, k);
            fields.iter().any(|f| f.key & ITEM != 0)
                && self
                    .strings
                    .lookup(item)
                    .is_some_and(|id| fields.iter().any(|f| f.value == id))
        })
    }
}

/// Whether the entity `value` (a final entity, or any entity JSON) matches `p`, with the same
/// search keys and semantics as a query of the index.
pub(crate) fn entity_matches(value: &Value, p: &Predicate) -> bool {
    let mut state = State::default();
    state.insert(IndexedEntity {
        entity_id: String::new(),
        entity_ref: String::new(),
        hash: String::new(),
        compressed_json: Box::default(),
        rows: search_rows(value),
    });
    state
        .live
        .min()
        .is_some_and(|slot| state.slot_matches(slot, p))
}
