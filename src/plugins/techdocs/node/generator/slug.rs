//! Heading anchors: slugs like mkdocs' `toc` extension, deduplicated per page.

use std::collections::HashSet;

/// Hands out unique anchor ids within one page.
#[derive(Debug, Default)]
pub(crate) struct Slugger {
    used: HashSet<String>,
}

impl Slugger {
    /// A unique id for a heading text (or a requested id).
    pub(crate) fn unique(&mut self, text: &str) -> String {
        let mut base = slugify(text);
        if base.is_empty() {
            base = "section".to_owned();
        }
        let mut candidate = base.clone();
        let mut n = 1;
        while self.used.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.used.insert(candidate.clone());
        candidate
    }
}

/// Lowercases, keeps letters, digits, `_` and `-`, turns whitespace runs into `-`.
pub(crate) fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_dash = false;
    for c in text.trim().chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.extend(c.to_lowercase());
        } else if c.is_whitespace() {
            pending_dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_stable_and_unique() {
        let mut s = Slugger::default();
        assert_eq!(s.unique("Getting Started!"), "getting-started");
        assert_eq!(s.unique("Getting  started"), "getting-started_1");
        assert_eq!(s.unique("Getting started"), "getting-started_2");
        assert_eq!(s.unique("`code` & <b>"), "code-b");
        assert_eq!(s.unique("!!!"), "section");
        assert_eq!(slugify("Ünïcode Tïtle"), "ünïcode-tïtle");
    }
}
