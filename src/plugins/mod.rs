//! Reference plugins.

pub mod catalog;
