//! The backend system (being built).
