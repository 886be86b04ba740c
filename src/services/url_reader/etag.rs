//! Content-derived etags for readers whose source has none (files).

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// The etag of one content: `sha256-<hex>`.
pub(crate) fn content_etag(content: &[u8]) -> String {
    format!("sha256-{}", hex(&Sha256::digest(content)))
}

/// Builds the etag of a set of named contents (a tree or a search result): a hash over each
/// name and content hash, in the order given (callers sort).
#[derive(Debug, Default)]
pub(crate) struct SetEtag {
    hasher: Sha256,
}

impl SetEtag {
    pub(crate) fn add(&mut self, name: &str, content: &[u8]) {
        self.hasher.update((name.len() as u64).to_le_bytes());
        self.hasher.update(name.as_bytes());
        self.hasher.update(Sha256::digest(content));
    }

    pub(crate) fn finish(self) -> String {
        format!("sha256-{}", hex(&self.hasher.finalize()))
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_follow_content_and_names() {
        assert_eq!(content_etag(b"a"), content_etag(b"a"));
        assert_ne!(content_etag(b"a"), content_etag(b"b"));
        assert!(content_etag(b"").starts_with("sha256-e3b0c442"));
        let set = |items: &[(&str, &[u8])]| {
            let mut e = SetEtag::default();
            for (n, c) in items {
                e.add(n, c);
            }
            e.finish()
        };
        assert_eq!(set(&[("a", b"1")]), set(&[("a", b"1")]));
        assert_ne!(set(&[("a", b"1")]), set(&[("b", b"1")]));
        assert_ne!(set(&[("a", b"1")]), set(&[("a", b"2")]));
        assert_ne!(set(&[("ab", b"")]), set(&[("a", b"b")]));
    }
}
