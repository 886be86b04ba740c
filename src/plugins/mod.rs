//! Reference plugins.

pub mod app;
pub mod catalog;
