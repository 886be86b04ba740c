//! Reference plugins.

pub mod app;
pub mod auth;
pub mod catalog;
pub mod permission;
pub mod scaffolder;
pub mod search;
pub mod techdocs;
