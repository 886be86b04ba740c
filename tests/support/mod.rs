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
