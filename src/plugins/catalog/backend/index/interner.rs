//! The refcounted string interner of the index: every key and value is stored once and
//! referred to by a `u32` id.
//!
//! The texts lie back to back in chunks of [`CHUNK`] bytes instead of one allocation each:
//! a catalog of 100,000 entities interns about half a million short strings, and an
//! allocation per string costs its header, its rounding and a 16-byte pointer. Released
//! texts leave holes; when the holes outweigh the live text, the chunks are rewritten
//! (ids do not change, only where their text lies).

/// Bytes per text chunk (a longer string gets a chunk of its own).
const CHUNK: usize = 1 << 20;

/// Where an id's text lies, and how many hold it (0: a free id).
#[derive(Clone, Copy, Default)]
struct Item {
    chunk: u32,
    start: u32,
    len: u32,
    refs: u32,
}

/// A refcounted string interner: keys and values are stored once. The table holds only ids
/// (4 bytes per string) and hashes the strings they point at.
///
/// Ids stay below `1 << 30`: the index keeps flags in the top bits of the ids it stores.
#[derive(Default)]
pub(super) struct Interner {
    table: hashbrown::HashTable<u32>,
    items: Vec<Item>,
    chunks: Vec<String>,
    /// Bytes of text stored in the chunks, and how many of them released strings left unused.
    used: usize,
    dead: usize,
    free: Vec<u32>,
    /// Seeded per process: entity text is hashed, so keep collisions unpredictable.
    hasher: foldhash::quality::RandomState,
}

impl Interner {
    fn hash(&self, s: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, s)
    }

    #[inline]
    fn text<'a>(chunks: &'a [String], item: &Item) -> &'a str {
        let start = item.start as usize;
        chunks
            .get(item.chunk as usize)
            .and_then(|c| c.get(start..start + item.len as usize))
            .unwrap_or("")
    }

    /// Copies `s` into the chunks; returns where it lies.
    fn store(&mut self, s: &str) -> Item {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= s.len());
        if !fits {
            self.chunks.push(String::with_capacity(CHUNK.max(s.len())));
        }
        let chunk = self.chunks.len().saturating_sub(1);
        let Some(text) = self.chunks.last_mut() else {
            return Item::default();
        };
        let start = text.len();
        text.push_str(s);
        self.used += s.len();
        Item {
            chunk: chunk as u32,
            start: start as u32,
            len: s.len() as u32,
            refs: 1,
        }
    }

    pub(super) fn intern(&mut self, s: &str) -> u32 {
        let hash = self.hash(s);
        let (items, chunks) = (&self.items, &self.chunks);
        if let Some(&id) = self
            .table
            .find(hash, |&id| Self::text(chunks, &items[id as usize]) == s)
        {
            self.items[id as usize].refs += 1;
            return id;
        }
        let item = self.store(s);
        let id = match self.free.pop() {
            Some(id) => {
                self.items[id as usize] = item;
                id
            }
            None => {
                self.items.push(item);
                (self.items.len() - 1) as u32
            }
        };
        let (items, chunks, hasher) = (&self.items, &self.chunks, &self.hasher);
        self.table.insert_unique(hash, id, |&id| {
            std::hash::BuildHasher::hash_one(hasher, Self::text(chunks, &items[id as usize]))
        });
        id
    }

    /// Takes one more reference to the string `id` holds; returns `id`.
    pub(super) fn retain(&mut self, id: u32) -> u32 {
        if let Some(item) = self.items.get_mut(id as usize) {
            item.refs += 1;
        }
        id
    }

    pub(super) fn release(&mut self, id: u32) {
        let Some(item) = self.items.get_mut(id as usize) else {
            return;
        };
        if item.refs == 0 {
            return;
        }
        item.refs -= 1;
        if item.refs > 0 {
            return;
        }
        let item = std::mem::take(item);
        let hash = self.hash(Self::text(&self.chunks, &item));
        if let Ok(entry) = self.table.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        self.free.push(id);
        self.dead += item.len as usize;
        if self.dead >= CHUNK && self.dead * 2 >= self.used {
            self.compact();
        }
    }

    /// Rewrites the chunks with only the live texts.
    fn compact(&mut self) {
        let old = std::mem::take(&mut self.chunks);
        self.used = 0;
        for i in 0..self.items.len() {
            let item = self.items[i];
            if item.refs == 0 {
                continue;
            }
            let moved = self.store(Self::text(&old, &item));
            self.items[i] = Item {
                refs: item.refs,
                ..moved
            };
        }
        self.dead = 0;
    }

    #[inline]
    pub(super) fn lookup(&self, s: &str) -> Option<u32> {
        let (items, chunks) = (&self.items, &self.chunks);
        self.table
            .find(self.hash(s), |&id| {
                Self::text(chunks, &items[id as usize]) == s
            })
            .copied()
    }

    #[inline]
    pub(super) fn get(&self, id: u32) -> &str {
        self.items
            .get(id as usize)
            .map_or("", |item| Self::text(&self.chunks, item))
    }

    /// The length of the string `id` holds, without reading it: scans that need a minimum
    /// length skip short strings without touching their text.
    #[inline]
    pub(super) fn len_of(&self, id: u32) -> usize {
        self.items
            .get(id as usize)
            .map_or(0, |item| item.len as usize)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes of live text.
    #[cfg(test)]
    pub(super) fn text_bytes(&self) -> usize {
        self.used - self.dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_stored_once_released_by_count_and_compacted_without_changing_ids() {
        let mut i = Interner::default();
        let a = i.intern("alpha");
        assert_eq!(i.intern("alpha"), a);
        let b = i.intern("beta");
        assert_ne!(a, b);
        assert_eq!(i.get(a), "alpha");
        assert_eq!(i.lookup("beta"), Some(b));
        i.release(a);
        assert_eq!(i.get(a), "alpha");
        i.release(a);
        assert_eq!(i.lookup("alpha"), None);
        // A freed id is used again.
        assert_eq!(i.intern("gamma"), a);
        // Enough released text to compact, with strings longer than a chunk among them.
        let long = "x".repeat(CHUNK + 10);
        let kept: Vec<(u32, String)> = (0..2000)
            .map(|n| {
                let s = format!("kept-{n}");
                (i.intern(&s), s)
            })
            .collect();
        let big = i.intern(&long);
        let gone: Vec<u32> = (0..40_000)
            .map(|n| i.intern(&format!("gone-{n:040}")))
            .collect();
        for id in gone {
            i.release(id);
        }
        assert!(i.dead < CHUNK, "compacted");
        assert_eq!(i.get(big), long);
        for (id, s) in &kept {
            assert_eq!(i.get(*id), s);
            assert_eq!(i.lookup(s), Some(*id));
        }
        assert_eq!(i.get(b), "beta");
        assert_eq!(i.len(), 2000 + 3);
        assert_eq!(
            i.text_bytes(),
            long.len() + "betagamma".len() + kept.iter().map(|(_, s)| s.len()).sum::<usize>()
        );
    }
}
