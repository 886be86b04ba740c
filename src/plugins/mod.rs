//! Reference plugins.

pub mod app;
pub mod catalog;
pub mod techdocs;
pub mod search;
