//! The in-memory read model of the catalog: every final entity, compressed, with an inverted
//! index of its search keys, so that queries, facets and lookups never touch the database.
//!
//! The database stays the source of truth. The stitcher applies its changes here right after
//! its transaction commits; a `catalog_generation` counter that every writing transaction
//! bumps, with a change log of the entity ids each generation touched, lets other processes
//! sharing the database catch up by reading only what changed (see [`EntityIndex::sync`]).
//!
//! Postings are roaring bitmaps of slot numbers (a plain slot for values held by one entity),
//! so a filter is a few bitmap operations and `totalItems` is a bitmap's length.
//!
//! One file per concern: `interner` (strings stored once), `postings` (value → slots),
//! `compression` (entity JSON), `state` (slots, fields, predicate evaluation),
//! `paging` (sorted pages and cursors), `facets` (counts), `sync` (load and catch up with
//! the database) and `tasks` (the scheduled sync and change-log pruning).

mod compression;
mod facets;
mod interner;
mod matching;
mod paging;
#[cfg(test)]
mod paging_tests;
mod postings;
mod ref_order;
mod state;
mod sync;
mod tasks;
#[cfg(test)]
mod tests;

use parking_lot::RwLock;
use serde_json::Value;

use super::predicate::Predicate;
use super::stitching::{SearchRow, search_rows};
pub(crate) use compression::Codec;
pub(crate) use matching::entity_matches;
use state::State;
pub(crate) use tasks::{SyncSettings, schedule};

/// A map keyed by the index's own `u32` ids (never by caller text), with a fast hasher.
pub(super) type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A final entity as the stitcher wrote it.
pub(crate) struct IndexedEntity {
    pub(crate) entity_id: String,
    pub(crate) entity_ref: String,
    pub(crate) hash: String,
    /// The entity's JSON text, compressed as the index keeps it (compressed by whoever makes
    /// the entry, outside the index's lock).
    pub(crate) compressed_json: Box<[u8]>,
    /// The search rows.
    pub(crate) rows: Vec<SearchRow>,
}

impl IndexedEntity {
    /// The entry of a final entity with JSON text `json`, compressed with `codec` (the
    /// [`EntityIndex::codec`] of the index it goes to).
    pub(crate) fn new(
        codec: &Codec,
        entity_id: String,
        entity_ref: String,
        hash: String,
        json: &str,
        rows: Vec<SearchRow>,
    ) -> Self {
        let kind = entity_ref.split_once(':').map_or("", |(k, _)| k);
        Self {
            compressed_json: codec.compress(kind, json),
            entity_id,
            entity_ref,
            hash,
            rows,
        }
    }

    /// Builds the entry of a stored final entity.
    pub(crate) fn from_stored(
        codec: &Codec,
        entity_id: String,
        entity_ref: String,
        hash: String,
        json: String,
    ) -> Result<Self, serde_json::Error> {
        let value: Value = serde_json::from_str(&json)?;
        let rows = search_rows(&value);
        Ok(Self::new(codec, entity_id, entity_ref, hash, &json, rows))
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
    /// The `catalog_generation` this index reflects. Lock order: `state`, then this.
    generation: parking_lot::Mutex<i64>,
    /// One [`EntityIndex::sync`] at a time.
    sync_lock: tokio::sync::Mutex<()>,
    /// What the syncs did.
    stats: sync::SyncCounters,
    /// How entity JSON is compressed. Lock order: `state`, then the codec's.
    codec: Codec,
}

impl std::fmt::Debug for EntityIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityIndex")
            .field("entities", &self.len())
            .finish_non_exhaustive()
    }
}

impl EntityIndex {
    /// How the index compresses entity JSON: entries given to it must be made with this.
    pub(crate) fn codec(&self) -> &Codec {
        &self.codec
    }

    /// How many entities the index holds.
    pub(crate) fn len(&self) -> usize {
        self.state.read().live.len() as usize
    }
    /// The JSON text of the entity with canonical ref `entity_ref`, if it matches `scope`
    /// (`None`: any entity).
    pub(crate) fn by_ref(&self, entity_ref: &str, scope: Option<&Predicate>) -> Option<String> {
        let s = self.state.read();
        let slot = s.slot_by_ref(entity_ref)?;
        if scope.is_some_and(|p| !s.slot_matches(slot, p)) {
            return None;
        }
        s.slot(slot).map(|e| self.codec.decompress(&e.json))
    }

    /// The JSON text of the entity with uid `uid`, if it matches `scope` (`None`: any entity).
    pub(crate) fn by_uid(&self, uid: &str, scope: Option<&Predicate>) -> Option<String> {
        let s = self.state.read();
        let slot = s.slot_by_id(uid)?;
        if scope.is_some_and(|p| !s.slot_matches(slot, p)) {
            return None;
        }
        s.slot(slot).map(|e| self.codec.decompress(&e.json))
    }

    /// Whether the entity `entity_ref` is in the index and matches `scope`.
    pub(crate) fn contains(&self, entity_ref: &str, scope: Option<&Predicate>) -> bool {
        let s = self.state.read();
        s.slot_by_ref(entity_ref)
            .is_some_and(|slot| scope.is_none_or(|p| s.slot_matches(slot, p)))
    }

    /// The JSON texts of `refs` (canonical) in request order, `None` for missing ones or
    /// ones the predicate rejects. Each entity is checked on its own fields, so the cost
    /// follows the number of refs, not the size of the catalog.
    pub(crate) fn by_refs(&self, refs: &[String], predicate: &Predicate) -> Vec<Option<String>> {
        let s = self.state.read();
        let everything = predicate.is_everything();
        refs.iter()
            .map(|r| {
                let slot = s.slot_by_ref(r)?;
                if !everything && !s.slot_matches(slot, predicate) {
                    return None;
                }
                s.slot(slot).map(|e| self.codec.decompress(&e.json))
            })
            .collect()
    }

    /// How many entities match.
    #[cfg(test)]
    pub(crate) fn count(&self, predicate: &Predicate) -> u64 {
        self.state.read().eval(predicate).len()
    }
}
