//! The refcounted string interner of the index: every key and value is stored once and
//! referred to by a `u32` id.

/// A refcounted string interner: keys and values are stored once. The table holds only ids
/// (4 bytes per string) and hashes the strings they point at.
#[derive(Default)]
pub(super) struct Interner {
    table: hashbrown::HashTable<u32>,
    pub(super) items: Vec<(Box<str>, u32)>,
    free: Vec<u32>,
    /// Seeded per process: entity text is hashed, so keep collisions unpredictable.
    hasher: foldhash::quality::RandomState,
}

impl Interner {
    fn hash(&self, s: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, s)
    }

    pub(super) fn intern(&mut self, s: &str) -> u32 {
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

    /// Takes one more reference to the string `id` holds; returns `id`.
    pub(super) fn retain(&mut self, id: u32) -> u32 {
        if let Some(item) = self.items.get_mut(id as usize) {
            item.1 += 1;
        }
        id
    }

    pub(super) fn release(&mut self, id: u32) {
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

    #[inline]
    pub(super) fn lookup(&self, s: &str) -> Option<u32> {
        let items = &self.items;
        self.table
            .find(self.hash(s), |&id| &*items[id as usize].0 == s)
            .copied()
    }

    #[inline]
    pub(super) fn get(&self, id: u32) -> &str {
        self.items.get(id as usize).map_or("", |(s, _)| s)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }
}
