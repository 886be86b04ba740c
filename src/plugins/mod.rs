//! Reference plugins.

pub mod app;
pub mod auth;
pub mod catalog;
pub mod kubernetes;
pub mod permission;
pub mod proxy;
pub mod scaffolder;
pub mod search;
pub mod techdocs;
