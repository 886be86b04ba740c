//! Core services: configuration, logging, lifecycle, HTTP routing, discovery, health,
//! databases, caches, the scheduler and the URL reader.

pub mod cache;
pub mod config;
pub mod database;
pub mod scheduler;
pub mod url_reader;
