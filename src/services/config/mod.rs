//! The configuration service (being built).
