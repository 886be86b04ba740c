//! Core services: configuration, logging, lifecycle, HTTP routing, discovery, health,
//! databases, caches, the scheduler, the URL reader and metrics.
//!
//! Every service is reached through a typed [`ServiceRef`](crate::backend::ServiceRef) listed in
//! [`core_services`].

pub mod auth;
pub mod cache;
pub mod config;
pub mod core_services;
pub mod database;
pub mod discovery;
pub mod health;
pub mod http_client;
pub mod http_router;
pub mod lifecycle;
pub mod logger;
pub mod metrics;
pub mod permissions;
pub mod scheduler;
pub mod url_reader;
