//! Reference plugins.

pub mod catalog;
pub mod search;
