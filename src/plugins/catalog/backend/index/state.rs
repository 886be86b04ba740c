//! The index's state behind its lock: slots of entities, their interned fields, the postings
//! of every key, and the predicate and full-text evaluation over them.

use roaring::RoaringBitmap;

use super::super::predicate::Predicate;
use super::super::query::FullText;
use super::IdMap;
use super::IndexedEntity;
use super::interner::Interner;
use super::postings::KeyIndex;

/// No value (the key exists with a null or over-long value).
pub(super) const NONE: u32 = u32::MAX;
/// Keys with at least this many values are scanned in value id order
/// ([`State::scan_values`]); below it the values' texts fit the cache either way.
pub(super) const SCAN_IN_ORDER: usize = 4096;

/// Marks, in [`Field::key`], a value that is a string item of an array.
pub(super) const ITEM: u32 = 1 << 31;

/// Marks, in [`Field::key`], a value this entity spells unlike its posting's original: the
/// spelling is in [`State::originals`].
pub(super) const OWN_ORIGINAL: u32 = 1 << 30;

/// A search key and value of an entity, 8 bytes. Its original spelling is the posting's
/// (most entities spell a value as the first holder did) unless [`OWN_ORIGINAL`] is set.
#[derive(Clone, Copy)]
pub(super) struct Field {
    /// The key id, with [`ITEM`] and [`OWN_ORIGINAL`].
    pub(super) key: u32,
    pub(super) value: u32,
}

impl Field {
    /// The key id, without the flags.
    #[inline]
    pub(super) fn key_id(&self) -> u32 {
        self.key & !(ITEM | OWN_ORIGINAL)
    }
}

pub(super) struct Slot {
    /// Interned entity id and canonical ref.
    pub(super) entity_id: u32,
    pub(super) entity_ref: u32,
    /// A fingerprint of the stored hash, to notice changes made by other processes.
    pub(super) hash: u64,
    /// The entity's JSON text, compressed by the index's [`Codec`](super::Codec).
    pub(super) json: Box<[u8]>,
    /// Sorted by key.
    pub(super) fields: Box<[Field]>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) slots: Vec<Option<Slot>>,
    pub(super) free: Vec<u32>,
    /// Interned ref / id → slot.
    pub(super) by_ref: IdMap<u32, u32>,
    pub(super) by_id: IdMap<u32, u32>,
    pub(super) strings: Interner,
    pub(super) keys: IdMap<u32, KeyIndex>,
    pub(super) live: RoaringBitmap,
    /// The spellings of the fields marked [`OWN_ORIGINAL`], by `(slot, key, value)`.
    pub(super) originals: IdMap<(u32, u32, u32), Vec<u32>>,
    /// The live slots in ref order, between changes.
    pub(super) ref_order: super::ref_order::RefOrderCache,
}

impl State {
    pub(super) fn remove_slot(&mut self, slot: u32) {
        let Some(s) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.ref_order.clear();
        self.by_ref.remove(&s.entity_ref);
        self.by_id.remove(&s.entity_id);
        self.strings.release(s.entity_ref);
        self.strings.release(s.entity_id);
        self.live.remove(slot);
        for f in s.fields.iter() {
            let key = f.key_id();
            if let Some(k) = self.keys.get_mut(&key) {
                k.present.remove(slot);
                if f.key & ITEM != 0 {
                    k.items.remove(slot);
                }
                if f.value != NONE {
                    if let Some(original) = k.values.remove(f.value, slot) {
                        self.strings.release(original);
                    }
                }
                if k.present.is_empty() {
                    self.keys.remove(&key);
                }
            }
            if f.key & OWN_ORIGINAL != 0 {
                for original in self
                    .originals
                    .remove(&(slot, key, f.value))
                    .unwrap_or_default()
                {
                    self.strings.release(original);
                }
            }
            self.strings.release(key);
            if f.value != NONE {
                self.strings.release(f.value);
            }
        }
        self.free.push(slot);
    }

    pub(super) fn insert(&mut self, e: IndexedEntity) {
        self.ref_order.clear();
        if let Some(old) = self.slot_by_id(&e.entity_id) {
            self.remove_slot(old);
        }
        if let Some(old) = self.slot_by_ref(&e.entity_ref) {
            self.remove_slot(old);
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let mut fields = Vec::with_capacity(e.rows.len());
        for (key, value, original, item) in e.rows {
            let key = self.strings.intern(&key);
            let k = self.keys.entry(key).or_default();
            k.present.insert(slot);
            if item {
                k.items.insert(slot);
            }
            let mut field = Field {
                key: if item { key | ITEM } else { key },
                value: NONE,
            };
            if let Some(value) = value {
                let value = self.strings.intern(&value);
                field.value = value;
                // No original: the value is spelled as its lowercased form.
                let original = match original {
                    Some(o) => self.strings.intern(&o),
                    None => self.strings.retain(value),
                };
                match k.values.insert(value, slot, original) {
                    // A new posting: it holds the reference `original` took.
                    None => {}
                    // Spelled as the posting, which already holds a reference.
                    Some(shared) if shared == original => self.strings.release(original),
                    // Spelled unlike the posting: the entity keeps its own spelling (and the
                    // reference `original` took).
                    Some(_) => {
                        field.key |= OWN_ORIGINAL;
                        self.originals
                            .entry((slot, key, value))
                            .or_default()
                            .push(original);
                    }
                }
            }
            fields.push(field);
        }
        fields.sort_by_key(Field::key_id);
        let entity_id = self.strings.intern(&e.entity_id);
        let entity_ref = self.strings.intern(&e.entity_ref);
        self.by_ref.insert(entity_ref, slot);
        self.by_id.insert(entity_id, slot);
        self.live.insert(slot);
        self.slots[slot as usize] = Some(Slot {
            entity_id,
            entity_ref,
            hash: fingerprint(&e.hash),
            json: e.compressed_json,
            fields: fields.into_boxed_slice(),
        });
    }

    /// Puts in `out` (cleared first) the original spellings of the values of key `key` (whose
    /// postings are `k`) that the entity in `slot` holds, each once.
    pub(super) fn originals_of(&self, slot: u32, key: u32, k: &KeyIndex, out: &mut Vec<u32>) {
        out.clear();
        for f in self.fields_of(slot, key).iter().filter(|f| f.value != NONE) {
            if f.key & OWN_ORIGINAL != 0 {
                if let Some(own) = self.originals.get(&(slot, key, f.value)) {
                    out.extend_from_slice(own);
                }
            } else if let Some(p) = k.values.get(&f.value) {
                out.push(p.original());
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    #[inline]
    pub(super) fn slot_by_id(&self, id: &str) -> Option<u32> {
        self.by_id.get(&self.strings.lookup(id)?).copied()
    }

    #[inline]
    pub(super) fn slot_by_ref(&self, entity_ref: &str) -> Option<u32> {
        self.by_ref.get(&self.strings.lookup(entity_ref)?).copied()
    }

    #[inline]
    pub(super) fn slot(&self, slot: u32) -> Option<&Slot> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// The fields of `slot` with key id `key`.
    #[inline]
    pub(super) fn fields_of(&self, slot: u32, key: u32) -> &[Field] {
        let Some(s) = self.slot(slot) else { return &[] };
        let start = s.fields.partition_point(|f| f.key_id() < key);
        let end = s.fields.partition_point(|f| f.key_id() <= key);
        &s.fields[start..end]
    }

    pub(super) fn eval(&self, p: &Predicate) -> RoaringBitmap {
        match p {
            Predicate::All(ps) => {
                let mut out = self.live.clone();
                for p in ps {
                    if out.is_empty() {
                        break;
                    }
                    out &= self.eval(p);
                }
                out
            }
            Predicate::Any(ps) => {
                let mut out = RoaringBitmap::new();
                for p in ps {
                    out |= self.eval(p);
                }
                out
            }
            Predicate::Not(p) => &self.live - &self.eval(p),
            Predicate::Exists { key, exists } => {
                let mut present = self
                    .strings
                    .lookup(key)
                    .and_then(|k| self.keys.get(&k))
                    .map(|k| k.present.clone())
                    .unwrap_or_default();
                present |= self.item_key(key);
                if *exists {
                    present
                } else {
                    &self.live - &present
                }
            }
            Predicate::In { key, values } => {
                let mut out = if values.iter().any(|v| v == "true") {
                    self.item_key(key)
                } else {
                    RoaringBitmap::new()
                };
                let Some(k) = self.strings.lookup(key).and_then(|k| self.keys.get(&k)) else {
                    return out;
                };
                for v in values {
                    if let Some(p) = self.strings.lookup(v).and_then(|v| k.values.get(&v)) {
                        p.union_into(&mut out);
                    }
                }
                out
            }
            Predicate::HasPrefix { key, prefix } => {
                let mut out = if "true".starts_with(prefix.as_str()) {
                    self.item_key(key)
                } else {
                    RoaringBitmap::new()
                };
                let Some(k) = self.strings.lookup(key).and_then(|k| self.keys.get(&k)) else {
                    return out;
                };
                self.scan_values(
                    k,
                    prefix.len(),
                    |s| s.starts_with(prefix.as_str()),
                    &mut out,
                );
                out
            }
        }
    }

    /// The entities for which Backstage's item key `key` (`<array key>.<item>`, value `true`)
    /// holds: those with `<item>` among the string items of the array at `<array key>`.
    pub(super) fn item_key(&self, key: &str) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for (i, _) in key.match_indices('.') {
            let (array_key, item) = (&key[..i], &key[i + 1..]);
            let Some(k) = self
                .strings
                .lookup(array_key)
                .and_then(|k| self.keys.get(&k))
                .filter(|k| !k.items.is_empty())
            else {
                continue;
            };
            if let Some(p) = self.strings.lookup(item).and_then(|v| k.values.get(&v)) {
                out |= p.slots_in(&k.items);
            }
        }
        out
    }

    pub(super) fn full_text(&self, t: &FullText) -> RoaringBitmap {
        let term = t.term.trim().to_lowercase();
        let mut out = RoaringBitmap::new();
        if term.is_empty() {
            return self.live.clone();
        }
        let scan = |k: &KeyIndex, out: &mut RoaringBitmap| {
            self.scan_values(k, term.len(), |s| s.contains(term.as_str()), out);
        };
        let true_matches = "true".contains(term.as_str());
        if t.fields.is_empty() {
            for k in self.keys.values() {
                scan(k, &mut out);
                if true_matches {
                    out |= &k.items;
                }
            }
        } else {
            for f in &t.fields {
                let f = f.to_lowercase();
                if let Some(k) = self.strings.lookup(&f).and_then(|k| self.keys.get(&k)) {
                    scan(k, &mut out);
                }
                if true_matches {
                    out |= self.item_key(&f);
                }
            }
        }
        out
    }

    /// Adds to `out` the slots of every value of `k` at least `min_len` bytes long whose text
    /// `matches`. A key of many values is read in value id order (see
    /// [`ValueMap::ids_in_order`](super::postings::ValueMap::ids_in_order)).
    fn scan_values(
        &self,
        k: &KeyIndex,
        min_len: usize,
        matches: impl Fn(&str) -> bool,
        out: &mut RoaringBitmap,
    ) {
        let hit = |v: u32| self.strings.len_of(v) >= min_len && matches(self.strings.get(v));
        if k.values.len() < SCAN_IN_ORDER {
            for (v, p) in k.values.iter() {
                if hit(v) {
                    p.union_into(out);
                }
            }
            return;
        }
        for v in k.values.ids_in_order() {
            if hit(v) {
                if let Some(p) = k.values.get(&v) {
                    p.union_into(out);
                }
            }
        }
    }

    /// The sort value of `slot` for an order field: the least (ascending) or greatest
    /// (descending) of its values.
    #[inline]
    pub(super) fn sort_value(&self, slot: u32, key: Option<u32>, desc: bool) -> Option<&str> {
        let key = key?;
        let values = self
            .fields_of(slot, key)
            .iter()
            .filter(|f| f.value != NONE)
            .map(|f| self.strings.get(f.value));
        if desc { values.max() } else { values.min() }
    }
}

pub(super) fn fingerprint(hash: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    hash.hash(&mut h);
    h.finish()
}
