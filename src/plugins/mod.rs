//! Reference plugins.

pub mod catalog;
pub mod techdocs;
