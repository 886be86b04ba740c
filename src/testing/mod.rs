//! Test kit (being built).
