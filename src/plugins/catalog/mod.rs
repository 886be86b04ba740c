//! The software catalog plugin.

pub mod common;
