//! Postings: the slots holding one value of one key, sized to how many hold it (one slot, a
//! short sorted vector, a roaring bitmap), and the per-key maps of value → posting.

use roaring::RoaringBitmap;

/// The slots holding one value of one key.
pub(super) enum Ids {
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
pub(super) const FEW_SLOTS: usize = 24;

/// One value of one key: its slots, and the original (case-preserved) spelling when every
/// slot spells it the same way, so facets can count without visiting entities.
pub(super) struct Posting {
    pub(super) ids: Ids,
    pub(super) original: u32,
    pub(super) mixed: bool,
}

impl Posting {
    pub(super) fn new(slot: u32, original: u32) -> Self {
        Self {
            ids: Ids::One(slot),
            original,
            mixed: false,
        }
    }

    pub(super) fn insert(&mut self, slot: u32, original: u32) {
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
    pub(super) fn remove(&mut self, slot: u32) -> bool {
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

    #[inline]
    pub(super) fn union_into(&self, out: &mut RoaringBitmap) {
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

    #[inline]
    pub(super) fn len(&self) -> u64 {
        match &self.ids {
            Ids::One(_) => 1,
            Ids::Few(v) => v.len() as u64,
            Ids::Many(b) => b.len(),
        }
    }

    #[inline]
    pub(super) fn count_in(&self, scope: &RoaringBitmap) -> u64 {
        match &self.ids {
            Ids::One(s) => u64::from(scope.contains(*s)),
            Ids::Few(v) => v.iter().filter(|s| scope.contains(**s)).count() as u64,
            Ids::Many(b) => b.intersection_len(scope),
        }
    }

    #[inline]
    pub(super) fn slots_in(&self, scope: &RoaringBitmap) -> RoaringBitmap {
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
pub(super) enum ValueMap {
    Few(Vec<(u32, Posting)>),
    Many(super::IdMap<u32, Posting>),
}

/// Above this many values a key's map becomes a hash map.
const FEW_VALUES: usize = 8;

impl Default for ValueMap {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl ValueMap {
    #[inline]
    pub(super) fn get(&self, value: &u32) -> Option<&Posting> {
        match self {
            Self::Few(v) => v.iter().find(|(k, _)| k == value).map(|(_, p)| p),
            Self::Many(m) => m.get(value),
        }
    }

    pub(super) fn get_mut(&mut self, value: &u32) -> Option<&mut Posting> {
        match self {
            Self::Few(v) => v.iter_mut().find(|(k, _)| k == value).map(|(_, p)| p),
            Self::Many(m) => m.get_mut(value),
        }
    }

    pub(super) fn insert(&mut self, value: u32, slot: u32, original: u32) {
        if let Some(p) = self.get_mut(&value) {
            p.insert(slot, original);
            return;
        }
        match self {
            Self::Few(v) if v.len() < FEW_VALUES => v.push((value, Posting::new(slot, original))),
            Self::Few(v) => {
                let mut m: super::IdMap<u32, Posting> = std::mem::take(v).into_iter().collect();
                m.insert(value, Posting::new(slot, original));
                *self = Self::Many(m);
            }
            Self::Many(m) => {
                m.insert(value, Posting::new(slot, original));
            }
        }
    }

    pub(super) fn remove(&mut self, value: &u32) {
        match self {
            Self::Few(v) => v.retain(|(k, _)| k != value),
            Self::Many(m) => {
                m.remove(value);
            }
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        match self {
            Self::Few(v) => v.len(),
            Self::Many(m) => m.len(),
        }
    }

    #[inline]
    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = (u32, &Posting)> + '_> {
        match self {
            Self::Few(v) => Box::new(v.iter().map(|(k, p)| (*k, p))),
            Self::Many(m) => Box::new(m.iter().map(|(k, p)| (*k, p))),
        }
    }
}

#[derive(Default)]
pub(super) struct KeyIndex {
    /// Slots that have the key at all.
    pub(super) present: RoaringBitmap,
    /// Slots whose values of this key are string items of an array: for them, Backstage's
    /// item keys `<key>.<item>` (value `true`) hold.
    pub(super) items: RoaringBitmap,
    /// Lowercased value id → slots.
    pub(super) values: ValueMap,
}
