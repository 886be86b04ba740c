//! Facet counts over the index: per value, how many matching entities hold it, counted from
//! postings when they can be and from the entities' fields when spellings differ.

use super::super::predicate::Predicate;
use super::EntityIndex;

impl EntityIndex {
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
        let mut counts: super::IdMap<u32, u64> = super::IdMap::default();
        // Counts the distinct originals of each entity in `slots`.
        let mut originals = Vec::new();
        let mut visit = |slots: &mut dyn Iterator<Item = u32>,
                         counts: &mut super::IdMap<u32, u64>| {
            for slot in slots {
                s.originals_of(slot, key, k, &mut originals);
                for &original in &originals {
                    *counts.entry(original).or_default() += 1;
                }
            }
        };
        if (k.values.len() as u64) <= scope.len() {
            // Few values: count each value's posting inside the scope.
            for (_, p) in k.values.iter() {
                if p.mixed() {
                    visit(&mut p.slots_in(&scope).iter(), &mut counts);
                    continue;
                }
                let n = if everything {
                    p.len()
                } else {
                    p.count_in(&scope)
                };
                if n > 0 {
                    *counts.entry(p.original()).or_default() += n;
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
