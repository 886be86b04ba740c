//! Postings: the slots holding one value of one key, sized to how many hold it (one slot, a
//! short sorted vector, a roaring bitmap), and the per-key maps of value → posting.
//!
//! Most values of a large catalog are held by one entity (names, uids, the refs that reverse
//! relations point at), so a posting is 8 bytes: the one slot inline, or the number of a set
//! kept beside the map for values held by more.

use roaring::RoaringBitmap;

/// Marks, in [`Posting::ids`], the number of a set in [`ValueMap`]'s sets instead of a slot.
/// Slots and string ids stay below it (the index's ids are `u32` with the top bit for flags).
const SET: u32 = 1 << 31;
/// Marks, in [`Posting::original`], a value not every holder spells the same way.
const MIXED: u32 = 1 << 31;

/// Most slots a [`Set::Few`] holds before it becomes a bitmap: a roaring bitmap costs a few
/// hundred bytes even for two slots, and most shared values are held by a handful.
pub(super) const FEW_SLOTS: usize = 24;

/// The slots of a value held by more than one entity.
enum Set {
    /// Up to [`FEW_SLOTS`] slots, sorted.
    Few(Vec<u32>),
    Many(RoaringBitmap),
}

/// One value of one key: its slots, and the original (case-preserved) spelling when every
/// slot spells it the same way, so facets can count without visiting entities.
#[derive(Clone, Copy)]
struct Posting {
    /// The one slot, or [`SET`] | the number of its set.
    ids: u32,
    /// The original spelling's string id, with [`MIXED`].
    original: u32,
}

/// What a posting holds, to read.
#[derive(Clone, Copy)]
enum Slots<'a> {
    One(u32),
    Few(&'a [u32]),
    Many(&'a RoaringBitmap),
}

/// A posting, read through its map (its set is looked up only when its slots are read).
#[derive(Clone, Copy)]
pub(super) struct PostingRef<'a> {
    map: &'a ValueMap,
    posting: Posting,
}

impl PostingRef<'_> {
    /// The original spelling (the first holder's, when [`PostingRef::mixed`]).
    #[inline]
    pub(super) fn original(&self) -> u32 {
        self.posting.original & !MIXED
    }

    /// Whether holders spell the value in more than one way.
    #[inline]
    pub(super) fn mixed(&self) -> bool {
        self.posting.original & MIXED != 0
    }

    #[inline]
    fn slots(&self) -> Slots<'_> {
        let ids = self.posting.ids;
        if ids & SET == 0 {
            return Slots::One(ids);
        }
        match self.map.sets.get((ids & !SET) as usize) {
            Some(Set::Few(v)) => Slots::Few(v),
            Some(Set::Many(b)) => Slots::Many(b),
            None => Slots::Few(&[]),
        }
    }

    /// Whether the posting holds [`Set::Many`] (a bitmap).
    #[cfg(test)]
    pub(super) fn is_bitmap(&self) -> bool {
        matches!(self.slots(), Slots::Many(_))
    }

    #[inline]
    pub(super) fn union_into(&self, out: &mut RoaringBitmap) {
        match self.slots() {
            Slots::One(s) => {
                out.insert(s);
            }
            Slots::Few(v) => {
                out.extend(v.iter().copied());
            }
            Slots::Many(b) => *out |= b,
        }
    }

    #[inline]
    pub(super) fn len(&self) -> u64 {
        match self.slots() {
            Slots::One(_) => 1,
            Slots::Few(v) => v.len() as u64,
            Slots::Many(b) => b.len(),
        }
    }

    #[inline]
    pub(super) fn count_in(&self, scope: &RoaringBitmap) -> u64 {
        match self.slots() {
            Slots::One(s) => u64::from(scope.contains(s)),
            Slots::Few(v) => v.iter().filter(|s| scope.contains(**s)).count() as u64,
            Slots::Many(b) => b.intersection_len(scope),
        }
    }

    #[inline]
    pub(super) fn slots_in(&self, scope: &RoaringBitmap) -> RoaringBitmap {
        match self.slots() {
            Slots::One(s) if scope.contains(s) => std::iter::once(s).collect(),
            Slots::One(_) => RoaringBitmap::new(),
            Slots::Few(v) => v.iter().copied().filter(|s| scope.contains(*s)).collect(),
            Slots::Many(b) => b & scope,
        }
    }
}

/// Value id → posting. Most keys have one or a few values (`metadata.tags.java` only ever
/// has `true`), so small maps are a plain vector.
enum Map {
    Few(Vec<(u32, Posting)>),
    Many(super::IdMap<u32, Posting>),
}

/// Above this many values a key's map becomes a hash map.
const FEW_VALUES: usize = 8;

/// The postings of one key: lowercased value id → posting, and the sets of the postings
/// held by more than one slot.
pub(super) struct ValueMap {
    map: Map,
    sets: Vec<Set>,
    /// Numbers of unused sets.
    free: Vec<u32>,
}

impl Default for ValueMap {
    fn default() -> Self {
        Self {
            map: Map::Few(Vec::new()),
            sets: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl ValueMap {
    fn find(&self, value: u32) -> Option<Posting> {
        match &self.map {
            Map::Few(v) => v.iter().find(|(k, _)| *k == value).map(|(_, p)| *p),
            Map::Many(m) => m.get(&value).copied(),
        }
    }

    fn find_mut(map: &mut Map, value: u32) -> Option<&mut Posting> {
        match map {
            Map::Few(v) => v.iter_mut().find(|(k, _)| *k == value).map(|(_, p)| p),
            Map::Many(m) => m.get_mut(&value),
        }
    }

    fn view(&self, posting: Posting) -> PostingRef<'_> {
        PostingRef { map: self, posting }
    }

    #[inline]
    pub(super) fn get(&self, value: &u32) -> Option<PostingRef<'_>> {
        self.find(*value).map(|p| self.view(p))
    }

    /// Adds `slot` to the posting of `value`, spelled `original`. `None` when that made a
    /// new posting (which then refers to `original`); otherwise the posting's own spelling.
    pub(super) fn insert(&mut self, value: u32, slot: u32, original: u32) -> Option<u32> {
        let Self { map, sets, free } = self;
        let Some(p) = Self::find_mut(map, value) else {
            let p = Posting {
                ids: slot,
                original,
            };
            match map {
                Map::Few(v) if v.len() < FEW_VALUES => v.push((value, p)),
                Map::Few(v) => {
                    let mut m: super::IdMap<u32, Posting> = std::mem::take(v).into_iter().collect();
                    m.insert(value, p);
                    *map = Map::Many(m);
                }
                Map::Many(m) => {
                    m.insert(value, p);
                }
            }
            return None;
        };
        let shared = p.original & !MIXED;
        if original != shared {
            p.original |= MIXED;
        }
        if p.ids & SET == 0 {
            if p.ids != slot {
                let mut v = vec![p.ids, slot];
                v.sort_unstable();
                let set = match free.pop() {
                    Some(n) => {
                        if let Some(s) = sets.get_mut(n as usize) {
                            *s = Set::Few(v);
                        }
                        n
                    }
                    None => {
                        sets.push(Set::Few(v));
                        (sets.len() - 1) as u32
                    }
                };
                p.ids = SET | set;
            }
            return Some(shared);
        }
        let Some(set) = sets.get_mut((p.ids & !SET) as usize) else {
            return Some(shared);
        };
        match set {
            Set::Few(v) => {
                if let Err(at) = v.binary_search(&slot) {
                    if v.len() < FEW_SLOTS {
                        v.insert(at, slot);
                    } else {
                        let mut b: RoaringBitmap = v.iter().copied().collect();
                        b.insert(slot);
                        *set = Set::Many(b);
                    }
                }
            }
            Set::Many(b) => {
                b.insert(slot);
            }
        }
        Some(shared)
    }

    /// Removes `slot` from the posting of `value`; when that empties the posting, removes it
    /// and returns the original it referred to.
    pub(super) fn remove(&mut self, value: u32, slot: u32) -> Option<u32> {
        let p = self.find(value)?;
        let empty = if p.ids & SET == 0 {
            p.ids == slot
        } else {
            let n = p.ids & !SET;
            let empty = match self.sets.get_mut(n as usize)? {
                Set::Few(v) => {
                    if let Ok(at) = v.binary_search(&slot) {
                        v.remove(at);
                    }
                    v.is_empty()
                }
                Set::Many(b) => {
                    b.remove(slot);
                    b.is_empty()
                }
            };
            if empty {
                if let Some(s) = self.sets.get_mut(n as usize) {
                    *s = Set::Few(Vec::new());
                }
                self.free.push(n);
            }
            empty
        };
        if !empty {
            return None;
        }
        match &mut self.map {
            Map::Few(v) => v.retain(|(k, _)| *k != value),
            Map::Many(m) => {
                m.remove(&value);
            }
        }
        Some(p.original & !MIXED)
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        match &self.map {
            Map::Few(v) => v.len(),
            Map::Many(m) => m.len(),
        }
    }

    #[inline]
    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = (u32, PostingRef<'_>)> + '_> {
        match &self.map {
            Map::Few(v) => Box::new(v.iter().map(|(k, p)| (*k, self.view(*p)))),
            Map::Many(m) => Box::new(m.iter().map(|(k, p)| (*k, self.view(*p)))),
        }
    }

    /// The value ids in ascending order, for scans that read every value's text. The
    /// interner hands out new ids in the order it stores the strings (an id freed by a
    /// released string is reused for a later one), so reading in id order mostly walks its
    /// table and text forwards; in the hash map's order every value costs a cache miss or
    /// two (a scan of 100,000 names took about 7 ms that way, and 1.6 ms sorted, the sort
    /// included).
    pub(super) fn ids_in_order(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = match &self.map {
            Map::Few(v) => v.iter().map(|(k, _)| *k).collect(),
            Map::Many(m) => m.keys().copied().collect(),
        };
        radix_sort(&mut ids);
        ids
    }
}

/// Sorts `v` ascending, a byte at a time from the lowest (four counting passes; a pass whose
/// byte is the same in every id is skipped).
fn radix_sort(v: &mut Vec<u32>) {
    if v.len() < 64 {
        v.sort_unstable();
        return;
    }
    let mut buf = vec![0u32; v.len()];
    for shift in [0u32, 8, 16, 24] {
        let mut start = [0usize; 257];
        for &x in v.iter() {
            start[((x >> shift) & 0xff) as usize + 1] += 1;
        }
        if start[1..].contains(&v.len()) {
            continue;
        }
        for i in 0..256 {
            start[i + 1] += start[i];
        }
        for &x in v.iter() {
            let b = ((x >> shift) & 0xff) as usize;
            buf[start[b]] = x;
            start[b] += 1;
        }
        std::mem::swap(v, &mut buf);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(m: &ValueMap, value: u32) -> Vec<u32> {
        let mut out = RoaringBitmap::new();
        if let Some(p) = m.get(&value) {
            p.union_into(&mut out);
        }
        out.iter().collect()
    }

    #[test]
    fn radix_sort_agrees_with_the_standard_sort() {
        let mut rng = fastrand::Rng::with_seed(3);
        for n in [0, 1, 63, 64, 65, 1000, 40_000] {
            for spread in [u32::MAX, 1 << 20, 300] {
                let v: Vec<u32> = (0..n).map(|_| rng.u32(..spread)).collect();
                let mut expected = v.clone();
                expected.sort_unstable();
                let mut got = v;
                radix_sort(&mut got);
                assert_eq!(got, expected, "n={n} spread={spread}");
            }
        }
    }

    #[test]
    fn ids_in_order_lists_every_value_once_ascending() {
        let mut m = ValueMap::default();
        for value in (0..5000u32).rev().step_by(7) {
            m.insert(value, value % 13, value);
        }
        let ids = m.ids_in_order();
        let mut expected: Vec<u32> = m.iter().map(|(v, _)| v).collect();
        expected.sort_unstable();
        assert_eq!(ids, expected);
        assert_eq!(ids.len(), m.len());
    }

    #[test]
    fn a_posting_grows_from_one_slot_to_a_set_to_a_bitmap_and_shrinks_back() {
        assert_eq!(std::mem::size_of::<Posting>(), 8);
        let mut m = ValueMap::default();
        assert_eq!(m.insert(7, 3, 70), None);
        assert_eq!(m.insert(7, 3, 70), Some(70));
        assert_eq!(slots(&m, 7), vec![3]);
        let n = FEW_SLOTS as u32 + 5;
        for s in (0..n).rev() {
            assert_eq!(m.insert(7, s, 70), Some(70));
        }
        let p = m.get(&7).unwrap();
        assert!(p.is_bitmap());
        assert_eq!(p.len(), u64::from(n));
        assert_eq!(p.original(), 70);
        assert!(!p.mixed());
        let scope: RoaringBitmap = [1, 2, 1000].into_iter().collect();
        assert_eq!(p.count_in(&scope), 2);
        assert_eq!(p.slots_in(&scope).iter().collect::<Vec<_>>(), vec![1, 2]);
        for s in 1..n {
            assert_eq!(m.remove(7, s), None);
        }
        assert_eq!(slots(&m, 7), vec![0]);
        assert_eq!(m.remove(7, 0), Some(70));
        assert!(m.get(&7).is_none());
        assert_eq!(m.len(), 0);
        // The freed set is used again.
        m.insert(8, 1, 80);
        assert_eq!(m.insert(8, 2, 81), Some(80));
        assert_eq!(m.sets.len(), 1);
        assert!(m.get(&8).unwrap().mixed());
        assert_eq!(m.get(&8).unwrap().original(), 80);
    }

    #[test]
    fn a_map_of_many_values_keeps_each_posting_apart() {
        let mut m = ValueMap::default();
        for v in 0..100u32 {
            m.insert(v, v, 1000 + v);
            m.insert(v, v + 1, 1000 + v);
        }
        assert_eq!(m.len(), 100);
        for v in 0..100u32 {
            assert_eq!(slots(&m, v), vec![v, v + 1]);
            assert_eq!(m.get(&v).unwrap().original(), 1000 + v);
        }
        assert_eq!(m.iter().count(), 100);
        for v in 0..100u32 {
            assert_eq!(m.remove(v, v + 1), None);
            assert_eq!(m.remove(v, v), Some(1000 + v));
        }
        assert_eq!(m.len(), 0);
        assert_eq!(m.free.len(), 100);
    }
}
