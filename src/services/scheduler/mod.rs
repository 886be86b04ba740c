//! The scheduler service (being built).
