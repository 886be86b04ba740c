//! Helpers shared by integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::print_stdout)]

pub mod webdriver;

/// The `backend.database` config for PostgreSQL when `BACKLOT_TEST_POSTGRES_URL` is set: a
/// fresh table prefix starting with `tag`, so each test backend gets databases of its own.
pub fn postgres_database_yaml(tag: &str) -> Option<String> {
    let url = std::env::var("BACKLOT_TEST_POSTGRES_URL").ok()?;
    let prefix = format!("{tag}{}_", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    Some(format!(
        "backend:\n  database:\n    client: pg\n    connection: '{url}'\n    prefix: {prefix}\n"
    ))
}

/// Config letting the catalog API register `file` locations (`catalog.allowedLocationTypes`)
/// and read files below the system temp directory and the working directory
/// (`backend.reading.fileAllow`), for tests that register files they write to temp dirs.
pub fn file_locations_yaml() -> String {
    let tmp = std::env::temp_dir();
    let tmp = std::fs::canonicalize(&tmp).unwrap_or(tmp);
    format!(
        "backend:\n  reading:\n    fileAllow: ['.', '{}']\ncatalog:\n  allowedLocationTypes: [url, file]\n",
        tmp.display()
    )
}
