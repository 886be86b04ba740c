//! The search plugin: Backstage's search, with a pluggable [`SearchEngine`](node::SearchEngine).
//!
//! - [`common`]: documents, queries and result sets as they travel over the wire;
//! - [`node`]: the traits modules implement ([`SearchEngine`](node::SearchEngine),
//!   [`DocumentCollator`](node::DocumentCollator), [`DocumentDecorator`](node::DocumentDecorator))
//!   and the extension points they register with;
//! - [`backend`]: the [`SearchPlugin`](backend::SearchPlugin) itself (query API at
//!   `/api/search/query`, index builder on the scheduler), the embedded tantivy engine, the
//!   PostgreSQL engine (cargo feature `postgres`) and the catalog collator.
//!
//! - [`react`]: the [`SearchApi`](react::SearchApi) utility API and safe highlighting;
//! - [`frontend`]: the `/search` page and the sidebar search box.
//!
//! See `docs/search.md` for the config keys.

pub mod backend;
pub mod common;
pub mod frontend;
pub mod node;
pub mod react;
