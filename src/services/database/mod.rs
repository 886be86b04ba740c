//! The database service (being built).
