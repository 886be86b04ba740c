//! The url_reader service (being built).
