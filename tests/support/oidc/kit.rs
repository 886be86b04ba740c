//! Helpers shared by the auth plugin's integration tests: a catalog of users and groups, a
//! backend with the auth and catalog plugins, and cookie handling for a plain HTTP client.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use backlot::plugins::{auth, catalog};
use backlot::services::auth::jwt;
use backlot::testing::TestBackend;
use serde_json::Value;

/// Users and groups: jane (profile email jane@example.com, member of team-a), john
/// (john@example.com, member of team-b, which is a child of team-a), and the default guest
/// is not in the catalog.
pub const CATALOG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: jane
  annotations:
    corp.example/email: jane@example.com
spec:
  profile:
    email: jane@example.com
    displayName: Jane Doe
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: john
spec:
  profile:
    email: john@example.com
  memberOf: [team-b]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: [team-b]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-b
spec:
  type: team
  parent: team-a
  children: []
"#;

/// Writes [`CATALOG`] into `dir` and returns the catalog config for it.
pub fn catalog_yaml(dir: &Path) -> String {
    let file = dir.join("org.yaml");
    std::fs::write(&file, CATALOG).unwrap();
    format!(
        "catalog:\n  rules:\n    - allow: [User, Group]\n  locations:\n    - type: file\n      target: {}\n",
        file.display()
    )
}

/// A backend with the auth and catalog plugins and `yaml` on top of the catalog config.
pub async fn start(dir: &Path, yaml: &str) -> TestBackend {
    TestBackend::builder()
        .config_yaml(catalog_yaml(dir))
        .config_yaml(yaml.to_string())
        .feature(auth::backend::plugin().into())
        .feature(catalog::backend::plugin().into())
        .start()
        .await
        .expect("backend starts")
}

/// The auth plugin's public keys.
pub async fn jwks(b: &TestBackend) -> Vec<jwt::Jwk> {
    let res = b.client().get("/api/auth/.well-known/jwks.json").await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json::<jwt::JwkSet>().unwrap().keys
}

/// Verifies a Backstage identity token against the auth plugin's published keys.
pub async fn verify(b: &TestBackend, token: &str) -> (jwt::JwtHeader, Value) {
    jwt::decode_verified(token, &jwks(b).await).expect("token verifies against the JWKS")
}

/// A tiny cookie jar: name → (value, path) from `Set-Cookie` headers, dropping removed ones.
#[derive(Debug, Default, Clone)]
pub struct Jar(pub BTreeMap<String, (String, String)>);

impl Jar {
    /// Takes the `Set-Cookie` headers of `headers`.
    pub fn store(&mut self, headers: &reqwest::header::HeaderMap) {
        for v in headers.get_all(reqwest::header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let mut parts = v.split(';').map(str::trim);
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let attrs: Vec<(String, String)> = parts
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.to_ascii_lowercase(), v.to_string())
                })
                .collect();
            let path = attrs
                .iter()
                .find(|(k, _)| k == "path")
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "/".into());
            let removed = attrs.iter().any(|(k, v)| k == "max-age" && v == "0");
            if removed || value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), (value.to_string(), path));
            }
        }
    }

    /// The `Cookie` header for a request to `path`.
    pub fn header_for(&self, path: &str) -> String {
        self.0
            .iter()
            .filter(|(_, (_, p))| path.starts_with(p.as_str()))
            .map(|(n, (v, _))| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `Set-Cookie` headers of a response, for assertions.
pub fn set_cookies(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}
