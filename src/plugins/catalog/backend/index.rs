//! The in-memory read model of the catalog: every final entity, compressed, with an inverted
//! index of its search keys, so that queries, facets and lookups never touch the database.
//!
//! The database stays the source of truth. The stitcher applies its changes here right after
//! its transaction commits; a `catalog_generation` counter that every writing transaction
//! bumps lets other processes sharing the database notice changes and reconcile (see
//! [`EntityIndex::sync`]).
//!
//! Postings are roaring bitmaps of slot numbers (a plain slot for values held by one entity),
//! so a filter is a few bitmap operations and `totalItems` is a bitmap's length.

use std::cmp::Ordering;
use std::collections::HashMap;

use parking_lot::RwLock;
use roaring::RoaringBitmap;
use serde_json::Value;

use crate::services::database::{PluginDatabase, Sql};

use super::error::CatalogError;
use super::predicate::Predicate;
use super::query::{FullText, Order};
use super::stitching::{SearchRow, search_rows};

/// Entities read per query when the index is loaded at start.
const LOAD_PAGE: i64 = 2000;

/// No value (the key exists with a null or over-long value).
const NONE: u32 = u32::MAX;

/// A refcounted string interner: keys and values are stored once. The table holds only ids
/// (4 bytes per string) and hashes the strings they point at.
#[derive(Default)]
struct Interner {
    table: hashbrown::HashTable<u32>,
    items: Vec<(Box<str>, u32)>,
    free: Vec<u32>,
    hasher: std::hash::RandomState,
}

impl Interner {
    fn hash(&self, s: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, s)
    }

    fn intern(&mut self, s: &str) -> u32 {
        let hash = self.hash(s);
        let items = &self.items;
        if let Some(&id) = self.table.find(hash, |&id| &*items[id as usize].0 == s) {
            self.items[id as usize].1 += 1;
            return id;
        }
        let boxed: Box<str> = Box::from(s);
        let id = match self.free.pop() {
            Some(id) => {
                self.items[id as usize] = (boxed, 1);
                id
            }
            None => {
                self.items.push((boxed, 1));
                (self.items.len() - 1) as u32
            }
        };
        let (items, hasher) = (&self.items, &self.hasher);
        self.table.insert_unique(hash, id, |&id| {
            std::hash::BuildHasher::hash_one(hasher, &*items[id as usize].0)
        });
        id
    }

    fn release(&mut self, id: u32) {
        let Some(item) = self.items.get_mut(id as usize) else {
            return;
        };
        if item.1 == 0 {
            return;
        }
        item.1 -= 1;
        if item.1 == 0 {
            let text = std::mem::take(&mut item.0);
            let hash = self.hash(&text);
            if let Ok(entry) = self.table.find_entry(hash, |&other| other == id) {
                entry.remove();
            }
            self.free.push(id);
        }
    }

    fn lookup(&self, s: &str) -> Option<u32> {
        let items = &self.items;
        self.table
            .find(self.hash(s), |&id| &*items[id as usize].0 == s)
            .copied()
    }

    fn get(&self, id: u32) -> &str {
        self.items.get(id as usize).map_or("", |(s, _)| s)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.len()
    }
}

/// The slots holding one value of one key.
enum Ids {
    One(u32),
    /// Up to [`FEW_SLOTS`] slots, sorted: a roaring bitmap costs a few hundred bytes even for
    /// two slots, and most values are held by a handful of entities. Boxed (a thin pointer)
    /// so that `Ids`, and every posting in the value maps, stays 16 bytes.
    #[allow(clippy::box_collection)]
    Few(Box<Vec<u32>>),
    /// Boxed so that every posting stays small.
    Many(Box<RoaringBitmap>),
}

/// Most slots a [`Ids::Few`] posting holds before it becomes a bitmap.
const FEW_SLOTS: usize = 24;

/// One value of one key: its slots, and the original (case-preserved) spelling when every
/// slot spells it the same way, so facets can count without visiting entities.
struct Posting {
    ids: Ids,
    original: u32,
    mixed: bool,
}

impl Posting {
    fn new(slot: u32, original: u32) -> Self {
        Self {
            ids: Ids::One(slot),
            original,
            mixed: false,
        }
    }

    fn insert(&mut self, slot: u32, original: u32) {
        if original != self.original {
            self.mixed = true;
        }
        match &mut self.ids {
            Ids::One(s) if *s == slot => {}
            Ids::One(s) => {
                let mut v = vec![*s, slot];
                v.sort_unstable();
                self.ids = Ids::Few(Box::new(v));
            }
            Ids::Few(v) => {
                if let Err(at) = v.binary_search(&slot) {
                    if v.len() < FEW_SLOTS {
                        v.insert(at, slot);
                    } else {
                        let mut b: RoaringBitmap = v.iter().copied().collect();
                        b.insert(slot);
                        self.ids = Ids::Many(Box::new(b));
                    }
                }
            }
            Ids::Many(b) => {
                b.insert(slot);
            }
        }
    }

    /// Removes `slot`; `true` when the posting is now empty.
    fn remove(&mut self, slot: u32) -> bool {
        match &mut self.ids {
            Ids::One(s) => *s == slot,
            Ids::Few(v) => {
                if let Ok(at) = v.binary_search(&slot) {
                    v.remove(at);
                }
                v.is_empty()
            }
            Ids::Many(b) => {
                b.remove(slot);
                b.is_empty()
            }
        }
    }

    fn union_into(&self, out: &mut RoaringBitmap) {
        match &self.ids {
            Ids::One(s) => {
                out.insert(*s);
            }
            Ids::Few(v) => {
                out.extend(v.iter().copied());
            }
            Ids::Many(b) => *out |= &**b,
        }
    }

    fn len(&self) -> u64 {
        match &self.ids {
            Ids::One(_) => 1,
            Ids::Few(v) => v.len() as u64,
            Ids::Many(b) => b.len(),
        }
    }

    fn count_in(&self, scope: &RoaringBitmap) -> u64 {
        match &self.ids {
            Ids::One(s) => u64::from(scope.contains(*s)),
            Ids::Few(v) => v.iter().filter(|s| scope.contains(**s)).count() as u64,
            Ids::Many(b) => b.intersection_len(scope),
        }
    }

    fn slots_in(&self, scope: &RoaringBitmap) -> RoaringBitmap {
        match &self.ids {
            Ids::One(s) if scope.contains(*s) => std::iter::once(*s).collect(),
            Ids::One(_) => RoaringBitmap::new(),
            Ids::Few(v) => v.iter().copied().filter(|s| scope.contains(*s)).collect(),
            Ids::Many(b) => &**b & scope,
        }
    }
}

/// Lowercased value id → posting. Most keys have one or a few values (`metadata.tags.java`
/// only ever has `true`), so small maps are a plain vector.
enum ValueMap {
    Few(Vec<(u32, Posting)>),
    Many(HashMap<u32, Posting>),
}

/// Above this many values a key's map becomes a hash map.
const FEW_VALUES: usize = 8;

impl Default for ValueMap {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl ValueMap {
    fn get(&self, value: &u32) -> Option<&Posting> {
        match self {
            Self::Few(v) => v.iter().find(|(k, _)| k == value).map(|(_, p)| p),
            Self::Many(m) => m.get(value),
        }
    }

    fn get_mut(&mut self, value: &u32) -> Option<&mut Posting> {
        match self {
            Self::Few(v) => v.iter_mut().find(|(k, _)| k == value).map(|(_, p)| p),
            Self::Many(m) => m.get_mut(value),
        }
    }

    fn insert(&mut self, value: u32, slot: u32, original: u32) {
        if let Some(p) = self.get_mut(&value) {
            p.insert(slot, original);
            return;
        }
        match self {
            Self::Few(v) if v.len() < FEW_VALUES => v.push((value, Posting::new(slot, original))),
            Self::Few(v) => {
                let mut m: HashMap<u32, Posting> = std::mem::take(v).into_iter().collect();
                m.insert(value, Posting::new(slot, original));
                *self = Self::Many(m);
            }
            Self::Many(m) => {
                m.insert(value, Posting::new(slot, original));
            }
        }
    }

    fn remove(&mut self, value: &u32) {
        match self {
            Self::Few(v) => v.retain(|(k, _)| k != value),
            Self::Many(m) => {
                m.remove(value);
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Few(v) => v.len(),
            Self::Many(m) => m.len(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (u32, &Posting)> + '_> {
        match self {
            Self::Few(v) => Box::new(v.iter().map(|(k, p)| (*k, p))),
            Self::Many(m) => Box::new(m.iter().map(|(k, p)| (*k, p))),
        }
    }
}

#[derive(Default)]
struct KeyIndex {
    /// Slots that have the key at all.
    present: RoaringBitmap,
    /// Slots whose values of this key are string items of an array: for them, Backstage's
    /// item keys `<key>.<item>` (value `true`) hold.
    items: RoaringBitmap,
    /// Lowercased value id → slots.
    values: ValueMap,
}

/// Marks, in [`Field::key`], a value that is a string item of an array.
const ITEM: u32 = 1 << 31;

#[derive(Clone, Copy)]
struct Field {
    /// The key id, with [`ITEM`] set for array items.
    key: u32,
    value: u32,
    original: u32,
}

struct Slot {
    /// Interned entity id and canonical ref.
    entity_id: u32,
    entity_ref: u32,
    /// A fingerprint of the stored hash, to notice changes made by other processes.
    hash: u64,
    /// The entity's JSON text, lz4-compressed.
    json: Box<[u8]>,
    /// Sorted by key.
    fields: Box<[Field]>,
}

#[derive(Default)]
struct State {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Interned ref / id → slot.
    by_ref: HashMap<u32, u32>,
    by_id: HashMap<u32, u32>,
    strings: Interner,
    keys: HashMap<u32, KeyIndex>,
    live: RoaringBitmap,
}

/// A final entity as the stitcher wrote it.
pub(crate) struct IndexedEntity {
    pub(crate) entity_id: String,
    pub(crate) entity_ref: String,
    pub(crate) hash: String,
    pub(crate) json: String,
    /// The search rows.
    pub(crate) rows: Vec<SearchRow>,
}

impl IndexedEntity {
    /// Builds the entry of a stored final entity.
    pub(crate) fn from_stored(
        entity_id: String,
        entity_ref: String,
        hash: String,
        json: String,
    ) -> Result<Self, serde_json::Error> {
        let value: Value = serde_json::from_str(&json)?;
        Ok(Self {
            rows: search_rows(&value),
            entity_id,
            entity_ref,
            hash,
            json,
        })
    }
}

/// A page of entities in query order, plus what is needed to continue.
pub(crate) struct Page {
    /// Entity JSON texts.
    pub(crate) items: Vec<String>,
    /// Sort key of the first and last item.
    pub(crate) first: Option<SortKey>,
    pub(crate) last: Option<SortKey>,
    /// Matches of the query, ignoring the cursor position.
    pub(crate) total: u64,
    /// Whether more items follow in the paging direction.
    pub(crate) more: bool,
}

/// The sort position of an entity: its order-field values, then its ref.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SortKey {
    #[serde(rename = "v")]
    pub(crate) values: Vec<Option<String>>,
    #[serde(rename = "r")]
    pub(crate) entity_ref: String,
}

/// Where a page starts.
#[derive(Debug, Clone, Default)]
pub(crate) enum Position {
    /// Skip this many items from the start.
    Offset(u64),
    /// The items after this key.
    After(SortKey),
    /// The items before this key (a previous page).
    Before(SortKey),
    /// The first page.
    #[default]
    Start,
}

/// The in-memory catalog index. Cheap to share.
#[derive(Default)]
pub(crate) struct EntityIndex {
    state: RwLock<State>,
    /// The `catalog_generation` this index reflects.
    generation: parking_lot::Mutex<i64>,
}

impl std::fmt::Debug for EntityIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityIndex")
            .field("entities", &self.len())
            .finish_non_exhaustive()
    }
}

/// A preset dictionary of what entity JSON is made of (keys, kinds, annotations, relation
/// types), so that even a small entity compresses well on its own. Most frequent last.
const DICTIONARY: &str = concat!(
    r#"{"apiVersion":"backstage.io/v1beta3","kind":"Template","spec":{"parameters":[{"properties":{},"required":[],"title":""}],"steps":[{"action":"fetch:template","id":"","input":{},"name":""}],"output":{"links":[]}}"#,
    r#"{"kind":"Location","spec":{"targets":["./"],"type":"url","target":"https://"}}"#,
    r#"{"status":{"items":[{"error":{"message":"","name":"InputError"},"level":"error","message":"InputError: ","type":"backstage.io/catalog-processing"}]}"#,
    r#"{"kind":"Group","spec":{"children":[],"members":[],"parent":"","profile":{"displayName":"","email":"","picture":"https://"},"type":"team"}}"#,
    r#"{"kind":"User","spec":{"memberOf":[],"profile":{"displayName":"","email":"@example.com","picture":"https://"}}}"#,
    r#"{"kind":"Domain","spec":{"owner":"","subdomainOf":""}}{"kind":"System","spec":{"domain":"","owner":""}}"#,
    r#"{"kind":"Resource","spec":{"dependencyOf":[],"dependsOn":[],"owner":"","system":"","type":"database"}}"#,
    r#"{"kind":"API","spec":{"definition":"openapi: 3.0.0
info:
  title: ","lifecycle":"production","owner":"","system":"","type":"openapi"}}"#,
    r#""links":[{"icon":"","title":"","url":"https://"}],"description":"","labels":{},"title":"","#,
    r#""annotations":{"backstage.io/source-location":"url:https://github.com/","backstage.io/techdocs-ref":"dir:.","github.com/project-slug":"","backstage.io/view-url":"https://","backstage.io/edit-url":"https://"},"#,
    r#"{"targetRef":"domain:default/","type":"hasPart"},{"targetRef":"user:default/","type":"hasMember"},{"targetRef":"group:default/","type":"memberOf"},{"targetRef":"group:default/","type":"childOf"},{"targetRef":"group:default/","type":"parentOf"},"#,
    r#"{"targetRef":"api:default/","type":"apiProvidedBy"},{"targetRef":"api:default/","type":"apiConsumedBy"},{"targetRef":"api:default/","type":"providesApi"},{"targetRef":"api:default/","type":"consumesApi"},"#,
    r#"{"targetRef":"resource:default/","type":"dependsOn"},{"targetRef":"component:default/","type":"dependencyOf"},{"targetRef":"system:default/","type":"partOf"},{"targetRef":"component:default/","type":"ownerOf"},"#,
    r#""spec":{"dependsOn":[],"consumesApis":[],"providesApis":[],"lifecycle":"experimental","owner":"","system":"","type":"website"}}"#,
    r#"{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"annotations":{"backstage.io/managed-by-location":"file:/","backstage.io/managed-by-origin-location":"file:/"},"etag":"","name":"","namespace":"default","tags":[],"uid":""},"#,
    r#""relations":[{"targetRef":"group:default/","type":"ownedBy"}],"spec":{"lifecycle":"production","owner":"","type":"service"}}"#,
);

fn compress(json: &str) -> Box<[u8]> {
    lz4_flex::block::compress_prepend_size_with_dict(json.as_bytes(), DICTIONARY.as_bytes())
        .into_boxed_slice()
}

fn decompress(bytes: &[u8]) -> String {
    lz4_flex::block::decompress_size_prepended_with_dict(bytes, DICTIONARY.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| "{}".to_owned())
}

impl State {
    fn remove_slot(&mut self, slot: u32) {
        let Some(s) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.by_ref.remove(&s.entity_ref);
        self.by_id.remove(&s.entity_id);
        self.strings.release(s.entity_ref);
        self.strings.release(s.entity_id);
        self.live.remove(slot);
        for f in s.fields.iter() {
            let key = f.key & !ITEM;
            if let Some(k) = self.keys.get_mut(&key) {
                k.present.remove(slot);
                if f.key & ITEM != 0 {
                    k.items.remove(slot);
                }
                if f.value != NONE && k.values.get_mut(&f.value).is_some_and(|p| p.remove(slot)) {
                    k.values.remove(&f.value);
                }
                if k.present.is_empty() {
                    self.keys.remove(&key);
                }
            }
            self.strings.release(key);
            if f.value != NONE {
                self.strings.release(f.value);
            }
            if f.original != NONE {
                self.strings.release(f.original);
            }
        }
        self.free.push(slot);
    }

    fn insert(&mut self, e: IndexedEntity) {
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
            let value = value.map_or(NONE, |v| self.strings.intern(&v));
            let original = original.map_or(NONE, |v| self.strings.intern(&v));
            let k = self.keys.entry(key).or_default();
            k.present.insert(slot);
            if item {
                k.items.insert(slot);
            }
            if value != NONE {
                k.values.insert(value, slot, original);
            }
            fields.push(Field {
                key: if item { key | ITEM } else { key },
                value,
                original,
            });
        }
        fields.sort_by_key(|f| f.key & !ITEM);
        let entity_id = self.strings.intern(&e.entity_id);
        let entity_ref = self.strings.intern(&e.entity_ref);
        self.by_ref.insert(entity_ref, slot);
        self.by_id.insert(entity_id, slot);
        self.live.insert(slot);
        self.slots[slot as usize] = Some(Slot {
            entity_id,
            entity_ref,
            hash: fingerprint(&e.hash),
            json: compress(&e.json),
            fields: fields.into_boxed_slice(),
        });
    }

    fn slot_by_id(&self, id: &str) -> Option<u32> {
        self.by_id.get(&self.strings.lookup(id)?).copied()
    }

    fn slot_by_ref(&self, entity_ref: &str) -> Option<u32> {
        self.by_ref.get(&self.strings.lookup(entity_ref)?).copied()
    }

    fn slot(&self, slot: u32) -> Option<&Slot> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// The fields of `slot` with key id `key`.
    fn fields_of(&self, slot: u32, key: u32) -> &[Field] {
        let Some(s) = self.slot(slot) else { return &[] };
        let start = s.fields.partition_point(|f| f.key & !ITEM < key);
        let end = s.fields.partition_point(|f| f.key & !ITEM <= key);
        &s.fields[start..end]
    }

    fn eval(&self, p: &Predicate) -> RoaringBitmap {
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
                for (v, p) in k.values.iter() {
                    if self.strings.get(v).starts_with(prefix.as_str()) {
                        p.union_into(&mut out);
                    }
                }
                out
            }
        }
    }

    /// The entities for which Backstage's item key `key` (`<array key>.<item>`, value `true`)
    /// holds: those with `<item>` among the string items of the array at `<array key>`.
    fn item_key(&self, key: &str) -> RoaringBitmap {
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

    fn full_text(&self, t: &FullText) -> RoaringBitmap {
        let term = t.term.trim().to_lowercase();
        let mut out = RoaringBitmap::new();
        if term.is_empty() {
            return self.live.clone();
        }
        let scan = |k: &KeyIndex, out: &mut RoaringBitmap| {
            for (v, p) in k.values.iter() {
                if self.strings.get(v).contains(term.as_str()) {
                    p.union_into(out);
                }
            }
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

    /// The sort value of `slot` for an order field: the least (ascending) or greatest
    /// (descending) of its values.
    fn sort_value(&self, slot: u32, key: Option<u32>, desc: bool) -> Option<&str> {
        let key = key?;
        let values = self
            .fields_of(slot, key)
            .iter()
            .filter(|f| f.value != NONE)
            .map(|f| self.strings.get(f.value));
        if desc { values.max() } else { values.min() }
    }
}

fn fingerprint(hash: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    hash.hash(&mut h);
    h.finish()
}

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

impl EntityIndex {
    /// How many entities the index holds.
    pub(crate) fn len(&self) -> usize {
        self.state.read().live.len() as usize
    }

    /// Replaces the whole index with what `db` holds.
    pub(crate) async fn load(&self, db: &PluginDatabase) -> Result<(), CatalogError> {
        let generation = read_generation(db).await?;
        // Page through the table, so that start-up never holds every entity's JSON and
        // search rows at once on top of the index being built.
        let mut fresh = State::default();
        let mut after = String::new();
        loop {
            let rows: Vec<(String, String, String, String)> = Sql::new(
                "SELECT entity_id, entity_ref, hash, final_entity FROM final_entities \
                 WHERE entity_id > ? ORDER BY entity_id LIMIT ?",
            )
            .bind(after.clone())
            .bind(LOAD_PAGE)
            .fetch_all(db)
            .await
            .map_err(CatalogError::db("load entities"))?;
            let Some((last, ..)) = rows.last() else { break };
            after = last.clone();
            let full = rows.len() as i64 == LOAD_PAGE;
            for e in to_entries(rows) {
                fresh.insert(e);
            }
            if !full {
                break;
            }
        }
        *self.state.write() = fresh;
        *self.generation.lock() = generation;
        Ok(())
    }

    /// Applies changes a writer of this process committed in the transaction that moved the
    /// generation from `before` to `after`.
    pub(crate) fn apply(
        &self,
        upserts: Vec<IndexedEntity>,
        removed_ids: &[String],
        generation: Option<(i64, i64)>,
    ) {
        {
            let mut s = self.state.write();
            for id in removed_ids {
                if let Some(slot) = s.slot_by_id(id) {
                    s.remove_slot(slot);
                }
            }
            for e in upserts {
                s.insert(e);
            }
        }
        if let Some((before, after)) = generation {
            let mut g = self.generation.lock();
            // Only move on when no other process wrote in between; otherwise `sync` will
            // notice the difference and reconcile.
            if *g == before {
                *g = after;
            }
        }
    }

    /// Catches up with changes other processes made to the shared database: compares the
    /// stored generation, and when it moved, reloads the entities whose hash differs.
    pub(crate) async fn sync(&self, db: &PluginDatabase) -> Result<bool, CatalogError> {
        let generation = read_generation(db).await?;
        if generation == *self.generation.lock() {
            return Ok(false);
        }
        let stored: Vec<(String, String)> = Sql::new("SELECT entity_id, hash FROM final_entities")
            .fetch_all(db)
            .await
            .map_err(CatalogError::db("list entity hashes"))?;
        let (changed, removed) = {
            let s = self.state.read();
            let mut changed = Vec::new();
            let mut seen = std::collections::HashSet::with_capacity(stored.len());
            for (id, hash) in &stored {
                seen.insert(id.as_str());
                let same = s
                    .slot_by_id(id)
                    .and_then(|slot| s.slot(slot))
                    .is_some_and(|slot| slot.hash == fingerprint(hash));
                if !same {
                    changed.push(id.clone());
                }
            }
            let removed: Vec<String> = s
                .by_id
                .keys()
                .map(|&id| s.strings.get(id))
                .filter(|id| !seen.contains(id))
                .map(str::to_owned)
                .collect();
            (changed, removed)
        };
        let mut upserts = Vec::with_capacity(changed.len());
        for chunk in changed.chunks(500) {
            let mut sql = Sql::new(
                "SELECT entity_id, entity_ref, hash, final_entity FROM final_entities WHERE entity_id IN (",
            );
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push_bind(id.clone());
            }
            sql.push(")");
            let rows: Vec<(String, String, String, String)> = sql
                .fetch_all(db)
                .await
                .map_err(CatalogError::db("load changed entities"))?;
            upserts.extend(to_entries(rows));
        }
        self.apply(upserts, &removed, None);
        *self.generation.lock() = generation;
        Ok(true)
    }

    /// The JSON text of the entity with canonical ref `entity_ref`.
    pub(crate) fn by_ref(&self, entity_ref: &str) -> Option<String> {
        let s = self.state.read();
        let slot = s.slot_by_ref(entity_ref)?;
        s.slot(slot).map(|e| decompress(&e.json))
    }

    /// The JSON text of the entity with uid `uid`.
    pub(crate) fn by_uid(&self, uid: &str) -> Option<String> {
        let s = self.state.read();
        let slot = s.slot_by_id(uid)?;
        s.slot(slot).map(|e| decompress(&e.json))
    }

    /// The JSON texts of `refs` (canonical) in request order, `None` for missing ones or
    /// ones the predicate rejects.
    pub(crate) fn by_refs(&self, refs: &[String], predicate: &Predicate) -> Vec<Option<String>> {
        let s = self.state.read();
        let allowed = (!predicate.is_everything()).then(|| s.eval(predicate));
        refs.iter()
            .map(|r| {
                let slot = s.slot_by_ref(r)?;
                if allowed.as_ref().is_some_and(|a| !a.contains(slot)) {
                    return None;
                }
                s.slot(slot).map(|e| decompress(&e.json))
            })
            .collect()
    }

    /// How many entities match.
    #[cfg(test)]
    pub(crate) fn count(&self, predicate: &Predicate) -> u64 {
        self.state.read().eval(predicate).len()
    }

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
        let skip = match position {
            Position::Offset(n) => usize::try_from(*n).unwrap_or(usize::MAX),
            _ => 0,
        };
        let want = limit.map(|l| skip.saturating_add(l));
        let more;
        match want {
            Some(w) if w < keyed.len() => {
                more = true;
                if w > 0 {
                    keyed.select_nth_unstable_by(w - 1, cmp);
                }
                keyed.truncate(w);
            }
            _ => more = false,
        }
        keyed.sort_unstable_by(cmp);
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
            .filter_map(|k| s.slot(k.slot).map(|e| decompress(&e.json)))
            .collect();
        Page {
            first: window.first().map(|k| key_of(k)),
            last: window.last().map(|k| key_of(k)),
            items,
            total,
            more,
        }
    }

    /// Facet counts of `facet` (a search key) over the entities matching `predicate`:
    /// `(original value, count)`, most frequent first.
    pub(crate) fn facet(&self, facet: &str, predicate: &Predicate) -> Vec<(String, u64)> {
        let s = self.state.read();
        let facet = facet.to_lowercase();
        let Some((key, k)) = s
            .strings
            .lookup(&facet)
            .and_then(|key| s.keys.get(&key).map(|k| (key, k)))
        else {
            // An item key (`metadata.tags.java`) has the one value `true`.
            let mut holders = s.item_key(&facet);
            if !predicate.is_everything() {
                holders &= s.eval(predicate);
            }
            return if holders.is_empty() {
                Vec::new()
            } else {
                vec![("true".to_owned(), holders.len())]
            };
        };
        let everything = predicate.is_everything();
        let scope = if everything {
            k.present.clone()
        } else {
            &k.present & &s.eval(predicate)
        };
        let mut counts: HashMap<u32, u64> = HashMap::new();
        // Counts the distinct originals of each entity in `slots`.
        let visit = |slots: &mut dyn Iterator<Item = u32>, counts: &mut HashMap<u32, u64>| {
            for slot in slots {
                let fields = s.fields_of(slot, key);
                for (i, f) in fields.iter().enumerate() {
                    if f.original == NONE || fields[..i].iter().any(|g| g.original == f.original) {
                        continue;
                    }
                    *counts.entry(f.original).or_default() += 1;
                }
            }
        };
        if (k.values.len() as u64) <= scope.len() {
            // Few values: count each value's posting inside the scope.
            for (_, p) in k.values.iter() {
                if p.mixed {
                    visit(&mut p.slots_in(&scope).iter(), &mut counts);
                    continue;
                }
                let n = if everything {
                    p.len()
                } else {
                    p.count_in(&scope)
                };
                if n > 0 {
                    *counts.entry(p.original).or_default() += n;
                }
            }
        } else {
            visit(&mut scope.iter(), &mut counts);
        }
        let mut out: Vec<(String, u64)> = counts
            .into_iter()
            .map(|(v, n)| (s.strings.get(v).to_owned(), n))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

fn to_entries(rows: Vec<(String, String, String, String)>) -> Vec<IndexedEntity> {
    rows.into_iter()
        .filter_map(|(id, r, hash, json)| {
            IndexedEntity::from_stored(id, r.clone(), hash, json)
                .map_err(|e| tracing::warn!(entity = %r, error = %e, "stored entity is not valid JSON; skipped"))
                .ok()
        })
        .collect()
}

/// The generation counter of the shared database.
pub(crate) async fn read_generation(db: &PluginDatabase) -> Result<i64, CatalogError> {
    let row: Option<(i64,)> = Sql::new("SELECT generation FROM catalog_generation WHERE id = 1")
        .fetch_optional(db)
        .await
        .map_err(CatalogError::db("read catalog generation"))?;
    Ok(row.map_or(0, |(g,)| g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(kind: &str, name: &str, spec_type: &str, tags: &[&str]) -> IndexedEntity {
        let v = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": kind,
            "metadata": { "name": name, "namespace": "default", "uid": format!("uid-{name}"), "tags": tags },
            "spec": { "type": spec_type },
        });
        IndexedEntity {
            entity_id: format!("uid-{name}"),
            entity_ref: format!("{}:default/{}", kind.to_lowercase(), name),
            hash: format!("h-{name}"),
            rows: search_rows(&v),
            json: v.to_string(),
        }
    }

    fn index(n: usize) -> EntityIndex {
        let idx = EntityIndex::default();
        let mut all = Vec::new();
        for i in 0..n {
            let (kind, t) = if i % 3 == 0 {
                ("API", "openapi")
            } else {
                ("Component", if i % 2 == 0 { "service" } else { "Website" })
            };
            let tags: &[&str] = if i % 5 == 0 {
                &["java", "web"]
            } else {
                &["go"]
            };
            all.push(entity(kind, &format!("e{i:03}"), t, tags));
        }
        idx.apply(all, &[], None);
        idx
    }

    fn names(page: &Page) -> Vec<String> {
        page.items
            .iter()
            .map(|t| {
                serde_json::from_str::<Value>(t).unwrap()["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    fn pred(v: Value) -> Predicate {
        Predicate::parse(&v, "query").unwrap()
    }

    #[test]
    fn filters_count_and_lookup() {
        let idx = index(30);
        assert_eq!(idx.len(), 30);
        assert_eq!(idx.count(&pred(json!({ "kind": "api" }))), 10);
        assert_eq!(
            idx.count(&pred(
                json!({ "kind": "component", "spec.type": "website" })
            )),
            10
        );
        assert_eq!(idx.count(&pred(json!({ "metadata.tags": "java" }))), 6);
        assert_eq!(idx.count(&pred(json!({ "$not": { "kind": "api" } }))), 20);
        assert_eq!(
            idx.count(&pred(json!({ "metadata.name": { "$hasPrefix": "e00" } }))),
            10
        );
        // Backstage's item keys: `metadata.tags.java` holds (as `true`) where `java` is a tag.
        assert_eq!(idx.count(&pred(json!({ "metadata.tags.java": "true" }))), 6);
        assert_eq!(idx.count(&pred(json!({ "metadata.tags.JAVA": true }))), 6);
        assert_eq!(
            idx.count(&pred(json!({ "metadata.tags.java": { "$exists": true } }))),
            6
        );
        assert_eq!(
            idx.count(&pred(json!({ "metadata.tags.java": { "$exists": false } }))),
            24
        );
        assert_eq!(
            idx.count(&pred(json!({ "metadata.tags.java": "false" }))),
            0
        );
        // A plain string field has no item keys.
        assert_eq!(idx.count(&pred(json!({ "spec.type.service": "true" }))), 0);
        assert_eq!(
            idx.facet("metadata.tags.web", &pred(json!({ "kind": "api" }))),
            vec![("true".to_owned(), 2)]
        );
        let t = FullText {
            term: "tru".into(),
            fields: vec!["metadata.tags.go".into()],
        };
        assert_eq!(
            idx.page(
                &Predicate::everything(),
                Some(&t),
                &[],
                &Position::Start,
                None
            )
            .total,
            24
        );
        assert!(idx.by_ref("api:default/e000").is_some());
        assert!(idx.by_uid("uid-e001").is_some());
        assert!(idx.by_ref("api:default/nope").is_none());
        let got = idx.by_refs(
            &[
                "component:default/e001".into(),
                "api:default/e000".into(),
                "x:y/z".into(),
            ],
            &pred(json!({ "kind": "component" })),
        );
        assert!(got[0].is_some() && got[1].is_none() && got[2].is_none());
    }

    #[test]
    fn updates_and_removals_keep_postings_exact() {
        let idx = index(30);
        // e001 becomes an API; e002 goes away.
        idx.apply(
            vec![entity("Component", "e001", "library", &[])],
            &["uid-e002".into()],
            None,
        );
        assert_eq!(idx.len(), 29);
        assert_eq!(idx.count(&pred(json!({ "spec.type": "library" }))), 1);
        assert_eq!(idx.count(&pred(json!({ "spec.type": "website" }))), 9);
        assert_eq!(idx.count(&pred(json!({ "spec.type": "service" }))), 9);
        assert!(idx.by_uid("uid-e002").is_none());
        // Removing everything leaves no keys behind.
        let ids: Vec<String> = (0..30).map(|i| format!("uid-e{i:03}")).collect();
        idx.apply(Vec::new(), &ids, None);
        let s = idx.state.read();
        assert!(s.keys.is_empty() && s.strings.len() == 0 && s.by_ref.is_empty());
    }

    #[test]
    fn postings_grow_into_bitmaps_and_shrink_back_exactly() {
        let idx = EntityIndex::default();
        let n = FEW_SLOTS * 3;
        let all: Vec<IndexedEntity> = (0..n)
            .map(|i| entity("Component", &format!("p{i:03}"), "service", &["shared"]))
            .collect();
        idx.apply(all, &[], None);
        let shared = pred(json!({ "metadata.tags": "shared" }));
        assert_eq!(idx.count(&shared) as usize, n);
        // Remove all but a few: the posting goes from bitmap back to a handful of slots.
        let gone: Vec<String> = (3..n).map(|i| format!("uid-p{i:03}")).collect();
        idx.apply(Vec::new(), &gone, None);
        assert_eq!(idx.count(&shared), 3);
        assert_eq!(
            idx.facet(
                "metadata.tags",
                &pred(json!({ "metadata.name": { "$in": ["p000", "p002"] } }))
            ),
            vec![("shared".to_owned(), 2)]
        );
        // And across the small/large boundary again.
        let back: Vec<IndexedEntity> = (3..FEW_SLOTS + 5)
            .map(|i| entity("Component", &format!("p{i:03}"), "service", &["shared"]))
            .collect();
        idx.apply(back, &[], None);
        assert_eq!(idx.count(&shared) as usize, FEW_SLOTS + 5);
        let page = idx.page(&shared, None, &[], &Position::Start, Some(5));
        assert_eq!(page.total as usize, FEW_SLOTS + 5);
        assert!(page.items[0].contains("p000"));
    }

    #[tokio::test]
    async fn load_reads_every_stored_entity_page_by_page() {
        let db = crate::services::database::DatabaseManager::in_memory()
            .for_plugin("catalog")
            .await
            .unwrap();
        super::super::store::migrate(&db).await.unwrap();
        let n = LOAD_PAGE as usize * 2 + 7;
        let rows: Vec<super::super::store::FinalWrite> = (0..n)
            .map(|i| {
                let e = entity("Component", &format!("l{i:05}"), "service", &[]);
                super::super::store::FinalWrite {
                    entity_id: e.entity_id,
                    entity_ref: e.entity_ref,
                    hash: e.hash,
                    json: e.json,
                }
            })
            .collect();
        let mut tx = db.begin().await.unwrap();
        super::super::store::write_finals(&mut tx, &rows, &HashMap::new())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let idx = EntityIndex::default();
        idx.load(&db).await.unwrap();
        assert_eq!(idx.len(), n);
        assert!(idx.by_uid("uid-l00000").is_some());
        assert!(
            idx.by_ref(&format!("component:default/l{:05}", n - 1))
                .is_some()
        );
        assert_eq!(
            idx.count(&pred(json!({ "spec.type": "service" }))) as usize,
            n
        );
    }

    #[test]
    fn keyset_pages_walk_everything_once_both_ways() {
        let idx = index(47);
        let order = vec![Order {
            field: "spec.type".into(),
            desc: true,
        }];
        let everything = Predicate::everything();
        let mut seen = Vec::new();
        let mut pos = Position::Start;
        let mut pages = Vec::new();
        loop {
            let page = idx.page(&everything, None, &order, &pos, Some(10));
            assert_eq!(page.total, 47);
            seen.extend(names(&page));
            pages.push(names(&page));
            if !page.more {
                break;
            }
            pos = Position::After(page.last.clone().unwrap());
            // Walk back one page and find the previous one again.
            if pages.len() == 2 {
                let back = idx.page(
                    &everything,
                    None,
                    &order,
                    &Position::Before(page.first.clone().unwrap()),
                    Some(10),
                );
                assert_eq!(names(&back), pages[0]);
            }
        }
        assert_eq!(seen.len(), 47);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 47);
        // Descending by type: website, service, openapi.
        let first = idx.page(&everything, None, &order, &Position::Start, Some(1));
        assert!(first.items[0].contains("Website"));
        let off = idx.page(&everything, None, &[], &Position::Offset(45), Some(10));
        assert_eq!(off.items.len(), 2);
        assert!(!off.more);
    }

    #[test]
    fn full_text_and_facets() {
        let idx = index(30);
        let t = FullText {
            term: "E01".into(),
            fields: vec!["metadata.name".into()],
        };
        let page = idx.page(
            &Predicate::everything(),
            Some(&t),
            &[],
            &Position::Start,
            None,
        );
        assert_eq!(page.total, 10);
        let facets = idx.facet("spec.type", &pred(json!({ "kind": "component" })));
        assert_eq!(
            facets,
            vec![("Website".to_owned(), 10), ("service".to_owned(), 10)]
        );
        let tags = idx.facet("metadata.tags", &Predicate::everything());
        assert_eq!(tags[0], ("go".to_owned(), 24));
        // Two spellings of one value are counted apart, with and without a filter, and both
        // counting strategies (per value, per entity) agree.
        idx.apply(vec![entity("Component", "zz", "website", &[])], &[], None);
        let expected = vec![
            ("Website".to_owned(), 10),
            ("service".to_owned(), 10),
            ("website".to_owned(), 1),
        ];
        assert_eq!(
            idx.facet("spec.type", &pred(json!({ "kind": "component" }))),
            expected
        );
        let mut all = idx.facet("spec.type", &Predicate::everything());
        all.retain(|(v, _)| v != "openapi");
        assert_eq!(all, expected);
        let names = idx.facet(
            "metadata.name",
            &pred(json!({ "metadata.name": { "$in": ["zz", "e001"] } })),
        );
        assert_eq!(names, vec![("e001".to_owned(), 1), ("zz".to_owned(), 1)]);
    }
}

#[cfg(test)]
mod memory {
    use super::*;

    fn rss_mb() -> f64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }

    /// Prints what the index of a synthetic catalog costs:
    /// `cargo test --features testing --lib index::memory -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn index_memory_per_entity() {
        let n = 100_000;
        let yaml = super::super::generate::synthetic_catalog_yaml(n);
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml)
            .map(|d| {
                serde_yaml::with::singleton_map_recursive::deserialize(d).unwrap_or(Value::Null)
            })
            .collect();
        drop(yaml);
        let mut entries = Vec::with_capacity(docs.len());
        for (i, mut v) in docs.into_iter().enumerate() {
            let kind = v["kind"].as_str().unwrap_or("x").to_lowercase();
            let name = v["metadata"]["name"].as_str().unwrap_or("x").to_owned();
            let uid = format!("{:08x}-1111-2222-3333-{:012x}", i, i);
            v["metadata"]["uid"] = Value::String(uid.clone());
            v["metadata"]["namespace"] = Value::String("default".into());
            v["metadata"]["etag"] = Value::String(format!("{:040x}", i));
            v["metadata"]["annotations"] = serde_json::json!({
                "backstage.io/managed-by-location": format!("file:/tmp/catalog/part-{}.yaml", i / 10_000),
                "backstage.io/managed-by-origin-location": format!("file:/tmp/catalog/part-{}.yaml", i / 10_000),
            });
            v["relations"] = serde_json::json!([
                { "type": "ownedBy", "targetRef": format!("group:default/group-{}", i % 500) },
                { "type": "partOf", "targetRef": format!("system:default/system-{}", i % 2000) },
                { "type": "dependsOn", "targetRef": format!("resource:default/resource-{}", i % 10_000) },
            ]);
            let json = v.to_string();
            entries.push(IndexedEntity {
                rows: search_rows(&v),
                entity_id: uid,
                entity_ref: format!("{kind}:default/{name}"),
                hash: format!("{:040x}", i),
                json,
            });
        }
        let json_bytes: usize = entries.iter().map(|e| e.json.len()).sum();
        let rows: usize = entries.iter().map(|e| e.rows.len()).sum();
        let before = rss_mb();
        let idx = EntityIndex::default();
        for chunk in entries.chunks(2000) {
            idx.apply(
                chunk
                    .iter()
                    .map(|e| IndexedEntity {
                        entity_id: e.entity_id.clone(),
                        entity_ref: e.entity_ref.clone(),
                        hash: e.hash.clone(),
                        json: e.json.clone(),
                        rows: e.rows.clone(),
                    })
                    .collect(),
                &[],
                None,
            );
        }
        let after = rss_mb();
        let compressed: usize = idx
            .state
            .read()
            .slots
            .iter()
            .flatten()
            .map(|s| s.json.len())
            .sum();
        println!(
            "{n} entities: JSON {:.0} MB ({:.0} B each), compressed {:.0} MB, {rows} search rows; index grew RSS by {:.0} MB ({:.0} B per entity)",
            json_bytes as f64 / 1e6,
            json_bytes as f64 / n as f64,
            compressed as f64 / 1e6,
            after - before,
            (after - before) * 1024.0 * 1024.0 / n as f64
        );
        {
            let s = idx.state.read();
            let postings: usize = s.keys.values().map(|k| k.values.len()).sum();
            let many = s
                .keys
                .values()
                .flat_map(|k| k.values.iter())
                .filter(|(_, p)| matches!(p.ids, Ids::Many(_)))
                .count();
            let string_bytes: usize = s.strings.items.iter().map(|(k, _)| k.len()).sum();
            println!(
                "strings {} ({:.0} MB of text), keys {}, postings {postings} ({many} bitmaps)",
                s.strings.len(),
                string_bytes as f64 / 1e6,
                s.keys.len(),
            );
        }
        assert_eq!(idx.len(), n);
    }
}
