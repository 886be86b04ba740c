//! Helpers shared by integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::print_stdout)]

pub mod kube_api;
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

/// The `backend.database` config for MySQL / MariaDB when `BACKLOT_TEST_MYSQL_URL` is set
/// (e.g. `mysql://root@127.0.0.1:3306`): a fresh database name prefix starting with `tag`, so
/// each test backend gets databases of its own.
pub fn mysql_database_yaml(tag: &str) -> Option<String> {
    let url = std::env::var("BACKLOT_TEST_MYSQL_URL").ok()?;
    let prefix = format!("{tag}{}_", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    Some(format!(
        "backend:\n  database:\n    client: mysql2\n    connection: '{url}'\n    prefix: {prefix}\n"
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

// ---------------------------------------------------------------------------------------------
// Credentials for tests that start a real `Backend::builder()` (default-deny auth): a static
// external-access token (`backend.auth.externalAccess`), as an outside caller would use.
// ---------------------------------------------------------------------------------------------

/// The subject of [`test_token`]: its credentials are the service `external:tests`.
pub const TEST_TOKEN_SUBJECT: &str = "tests";

/// This test process's static external-access token: 64 random hex characters, made once.
pub fn test_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    })
}

/// `Bearer <test_token()>`, for an `Authorization` header.
pub fn test_bearer() -> String {
    format!("Bearer {}", test_token())
}

/// Config accepting [`test_token`] as the service `external:tests`
/// (`backend.auth.externalAccess`, type `static`).
pub fn external_access_yaml() -> String {
    format!(
        "backend:\n  auth:\n    externalAccess:\n      - type: static\n        options:\n          token: {}\n          subject: {TEST_TOKEN_SUBJECT}\n",
        test_token()
    )
}

/// A `reqwest` client sending `Authorization: Bearer <test_token()>` on every request.
pub fn authed_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&test_bearer()).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// `GET url` with [`test_token`] (the authenticated `reqwest::get`).
pub async fn authed_get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    authed_client().get(url).send().await
}

/// Checks Backstage's 401 body: `{"error":{"name":"AuthenticationError",...},
/// "response":{"statusCode":401}}` with a JSON content type.
pub fn assert_authentication_error(status: u16, content_type: Option<&str>, body: &str) {
    assert_eq!(status, 401, "{body}");
    assert!(
        content_type.is_some_and(|c| c.starts_with("application/json")),
        "content type {content_type:?}: {body}"
    );
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(v["error"]["name"], "AuthenticationError", "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert_eq!(v["response"], serde_json::json!({"statusCode": 401}), "{v}");
}

/// Sends `GET url` without credentials and checks it gets Backstage's 401 error JSON.
pub async fn assert_unauthenticated_get(url: &str) {
    let res = reqwest::get(url).await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = res.text().await.unwrap();
    assert_authentication_error(status, content_type.as_deref(), &body);
}
