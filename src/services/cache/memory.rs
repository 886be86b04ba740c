//! The in-process memory store: bounded, least-recently-used eviction, TTL on read.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::{CacheError, CacheStore};

/// Fixed per-entry bookkeeping counted against `maxBytes` besides key and value bytes.
const ENTRY_OVERHEAD: usize = 64;
/// Entry count from which the store splits into shards (each with its own lock).
const SHARDING_THRESHOLD: usize = 4096;
const SHARDS: usize = 16;
const NIL: usize = usize::MAX;

/// Limits of a [`MemoryStore`] (`backend.cache.memory.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStoreOptions {
    /// Maximum number of entries (`backend.cache.memory.maxItems`, default 100 000).
    pub max_items: usize,
    /// Maximum bytes of keys + values + 64 bytes per entry
    /// (`backend.cache.memory.maxBytes`, default 128 MiB).
    pub max_bytes: usize,
}

impl Default for MemoryStoreOptions {
    fn default() -> Self {
        Self {
            max_items: 100_000,
            max_bytes: 128 * 1024 * 1024,
        }
    }
}

/// The in-process cache store (`backend.cache.store: memory`, the default).
///
/// Entries expire after their TTL (checked on read) and the least recently used entries are
/// evicted when `max_items` or `max_bytes` would be exceeded. Stores with 4096 or more
/// entries allowed are split into 16 shards with one lock each, so concurrent callers rarely
/// contend; the limits then apply per shard (a sixteenth each).
///
/// ```
/// use backlot::services::cache::{CacheStore, MemoryStore, MemoryStoreOptions};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), backlot::services::cache::CacheError> {
/// let store = MemoryStore::new(MemoryStoreOptions { max_items: 2, ..Default::default() });
/// store.set("a", b"1".to_vec(), None).await?;
/// store.set("b", b"2".to_vec(), None).await?;
/// store.get("a").await?; // "a" is now the most recently used
/// store.set("c", b"3".to_vec(), None).await?; // evicts "b"
/// assert_eq!(store.get("b").await?, None);
/// assert_eq!(store.get("a").await?, Some(b"1".to_vec()));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl MemoryStore {
    /// Creates an empty store with the given limits (a limit of 0 is treated as 1).
    pub fn new(options: MemoryStoreOptions) -> Self {
        let max_items = options.max_items.max(1);
        let max_bytes = options.max_bytes.max(1);
        let count = if max_items >= SHARDING_THRESHOLD {
            SHARDS
        } else {
            1
        };
        let shards = (0..count)
            .map(|_| {
                Mutex::new(Shard::new(
                    max_items.div_ceil(count),
                    max_bytes.div_ceil(count),
                ))
            })
            .collect();
        Self {
            shards,
            hasher: RandomState::new(),
        }
    }

    /// The number of live or not yet collected expired entries.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map.len()).sum()
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        if self.shards.len() == 1 {
            return &self.shards[0];
        }
        let hash = self.hasher.hash_one(key) as usize;
        &self.shards[hash % self.shards.len()]
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(MemoryStoreOptions::default())
    }
}

#[async_trait::async_trait]
impl CacheStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Ok(self.shard(key).lock().get(key, Instant::now()))
    }

    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let expires = ttl.and_then(|ttl| Instant::now().checked_add(ttl));
        self.shard(key).lock().set(key, value, expires);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.shard(key).lock().delete(key);
        Ok(())
    }
}

#[derive(Debug)]
struct Node {
    key: Arc<str>,
    value: Vec<u8>,
    expires: Option<Instant>,
    prev: usize,
    next: usize,
}

impl Node {
    fn cost(&self) -> usize {
        self.key.len() + self.value.len() + ENTRY_OVERHEAD
    }
}

/// One LRU list: a slab of nodes linked by index, most recently used at `head`.
#[derive(Debug)]
struct Shard {
    map: HashMap<Arc<str>, usize>,
    nodes: Vec<Node>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
}

impl Shard {
    fn new(max_items: usize, max_bytes: usize) -> Self {
        Self {
            map: HashMap::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            bytes: 0,
            max_items,
            max_bytes,
        }
    }

    fn get(&mut self, key: &str, now: Instant) -> Option<Vec<u8>> {
        let idx = *self.map.get(key)?;
        if self.nodes[idx].expires.is_some_and(|e| e <= now) {
            self.remove(idx);
            return None;
        }
        self.unlink(idx);
        self.push_front(idx);
        Some(self.nodes[idx].value.clone())
    }

    fn set(&mut self, key: &str, value: Vec<u8>, expires: Option<Instant>) {
        let cost = key.len() + value.len() + ENTRY_OVERHEAD;
        if let Some(&idx) = self.map.get(key) {
            if cost > self.max_bytes {
                self.remove(idx);
                return;
            }
            let node = &mut self.nodes[idx];
            self.bytes = self.bytes - node.cost() + cost;
            node.value = value;
            node.expires = expires;
            self.unlink(idx);
            self.push_front(idx);
        } else {
            if cost > self.max_bytes {
                return;
            }
            let key: Arc<str> = Arc::from(key);
            let node = Node {
                key: key.clone(),
                value,
                expires,
                prev: NIL,
                next: NIL,
            };
            let idx = match self.free.pop() {
                Some(idx) => {
                    self.nodes[idx] = node;
                    idx
                }
                None => {
                    self.nodes.push(node);
                    self.nodes.len() - 1
                }
            };
            self.map.insert(key, idx);
            self.bytes += cost;
            self.push_front(idx);
        }
        while self.map.len() > self.max_items || self.bytes > self.max_bytes {
            let lru = self.tail;
            if lru == NIL {
                break;
            }
            self.remove(lru);
        }
    }

    fn delete(&mut self, key: &str) {
        if let Some(&idx) = self.map.get(key) {
            self.remove(idx);
        }
    }

    fn remove(&mut self, idx: usize) {
        self.unlink(idx);
        let node = &mut self.nodes[idx];
        self.bytes -= node.cost();
        self.map.remove(&node.key);
        node.value = Vec::new();
        node.key = Arc::from("");
        self.free.push(idx);
    }

    fn unlink(&mut self, idx: usize) {
        let (prev, next) = (self.nodes[idx].prev, self.nodes[idx].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
        self.nodes[idx].prev = NIL;
        self.nodes[idx].next = NIL;
    }

    fn push_front(&mut self, idx: usize) {
        self.nodes[idx].next = self.head;
        self.nodes[idx].prev = NIL;
        if self.head != NIL {
            self.nodes[self.head].prev = idx;
        }
        self.head = idx;
        if self.tail == NIL {
            self.tail = idx;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(max_items: usize, max_bytes: usize) -> MemoryStoreOptions {
        MemoryStoreOptions {
            max_items,
            max_bytes,
        }
    }

    #[tokio::test]
    async fn evicts_least_recently_used_by_count() {
        let store = MemoryStore::new(opts(3, usize::MAX));
        for k in ["a", "b", "c"] {
            store.set(k, k.as_bytes().to_vec(), None).await.unwrap();
        }
        assert!(store.get("a").await.unwrap().is_some());
        store.set("d", b"d".to_vec(), None).await.unwrap();
        assert_eq!(store.get("b").await.unwrap(), None);
        for k in ["a", "c", "d"] {
            assert_eq!(store.get(k).await.unwrap(), Some(k.as_bytes().to_vec()));
        }
        assert_eq!(store.len(), 3);
    }

    #[tokio::test]
    async fn evicts_by_bytes_and_skips_oversized_values() {
        let store = MemoryStore::new(opts(100, 3 * (ENTRY_OVERHEAD + 11)));
        for k in ["k1", "k2", "k3", "k4"] {
            store.set(k, vec![7; 9], None).await.unwrap();
        }
        assert_eq!(store.len(), 3);
        assert_eq!(store.get("k1").await.unwrap(), None);
        store.set("big", vec![0; 10_000], None).await.unwrap();
        assert_eq!(store.get("big").await.unwrap(), None);
        // replacing an entry by an oversized value drops the old one
        store.set("k4", vec![0; 10_000], None).await.unwrap();
        assert_eq!(store.get("k4").await.unwrap(), None);
        assert_eq!(store.len(), 2);
    }

    #[tokio::test]
    async fn expires_entries_after_ttl() {
        let store = MemoryStore::default();
        store
            .set("t", b"v".to_vec(), Some(Duration::from_millis(300)))
            .await
            .unwrap();
        store.set("forever", b"v".to_vec(), None).await.unwrap();
        assert!(store.get("t").await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(320)).await;
        assert_eq!(store.get("t").await.unwrap(), None);
        assert!(store.get("forever").await.unwrap().is_some());
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn overwrite_and_delete_keep_accounting_consistent() {
        let store = MemoryStore::new(opts(10, 10_000));
        store.set("a", vec![1; 100], None).await.unwrap();
        store.set("a", vec![2; 10], None).await.unwrap();
        assert_eq!(store.get("a").await.unwrap(), Some(vec![2; 10]));
        store.delete("a").await.unwrap();
        store.delete("missing").await.unwrap();
        assert!(store.is_empty());
        let shard = store.shards[0].lock();
        assert_eq!(shard.bytes, 0);
        assert_eq!((shard.head, shard.tail), (NIL, NIL));
    }

    #[tokio::test]
    async fn sharded_store_keeps_every_key_under_concurrency() {
        let store = Arc::new(MemoryStore::default());
        assert_eq!(store.shards.len(), SHARDS);
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..500 {
                        let key = format!("{t}-{i}");
                        store
                            .set(&key, key.clone().into_bytes(), None)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(store.len(), 4000);
        assert_eq!(store.get("7-499").await.unwrap(), Some(b"7-499".to_vec()));
    }
}
