//! The catalog's model (being built).
