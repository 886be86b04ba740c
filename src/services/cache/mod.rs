//! The cache service (being built).
