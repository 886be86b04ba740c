#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! Signing in to the app in headless Chromium, driven over WebDriver (`chromedriver` from
//! PATH; without it the tests print `skipped: chromedriver not found`): a backend with the
//! catalog, the auth plugin (real `AUTH`, default-deny) and the app.
//!
//! - Guest: open a page, land on `/signin`, click the guest button, see the page and the
//!   name in the sidebar, sign out.
//! - OpenID Connect, when `BACKLOT_TEST_OIDC_URL` points at the test provider
//!   (`tests/support/oidc/provider.js`, started by `.ci/run`): click the SSO button, fill in the
//!   provider's login form, come back signed in as the catalog user with that email. With the
//!   variable set, an unreachable provider fails the test; unset, it prints that it is skipped.

mod support;

use std::path::Path;

use backlot::backend::{Backend, BackendHandle};
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
use backlot::plugins::{auth, catalog};
use support::webdriver::Browser;

/// Jane (email jane@example.com, as the test provider's account `jane`), her team, and a
/// component she owns.
const CATALOG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: jane
spec:
  profile:
    email: jane@example.com
    displayName: Jane Doe
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: parcel-tracker
  title: Parcel Tracker
spec:
  type: service
  lifecycle: production
  owner: group:team-a
"#;

async fn backend(dir: &Path, extra_yaml: &str) -> BackendHandle {
    let file = dir.join("catalog.yaml");
    std::fs::write(&file, CATALOG).unwrap();
    Backend::builder()
        .listen_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\nbackend:\n  database:\n    client: better-sqlite3\n    connection: ':memory:'\nauth:\n  environment: development\ncatalog:\n  rules:\n    - allow: [Component, User, Group]\n  locations:\n    - type: file\n      target: {}\n",
            file.display()
        ))
        .config_yaml(extra_yaml.to_string())
        .add((
            catalog::backend::plugin(),
            auth::backend::plugin(),
            app_plugin(App::builder().feature(catalog_frontend_plugin())),
        ))
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_person_signs_in_as_guest_with_one_click_and_signs_out() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path(), "auth:\n  providers:\n    guest: {}\n").await;
    let Some(browser) = Browser::start().await else {
        backend.stop().await.unwrap();
        return;
    };

    browser.goto(&backend.url("/catalog")).await;
    let url = browser.wait_for_url(|u| u.contains("/signin")).await;
    assert!(url.ends_with("/signin?next=%2Fcatalog"), "{url}");
    assert_eq!(browser.text_of("h1").await, "Sign in");

    browser
        .click(&browser.find("form[action='/signin/guest'] button").await)
        .await;
    browser.wait_for_url(|u| u.ends_with("/catalog")).await;
    assert_eq!(browser.text_of("h1").await, "Catalog");
    assert_eq!(browser.text_of(".bl-user-name").await, "Guest");
    assert!(
        browser
            .text_of("caption")
            .await
            .starts_with("All Components (1)"),
        "{}",
        browser.source().await
    );

    browser
        .click(&browser.find(".bl-signout button").await)
        .await;
    browser.wait_for_url(|u| u.contains("/signin")).await;
    assert!(browser.find_all(".bl-user-name").await.is_empty());
    // Signed out: the catalog asks to sign in again.
    browser.goto(&backend.url("/catalog")).await;
    browser.wait_for_url(|u| u.contains("/signin?next=")).await;

    browser.close().await;
    backend.stop().await.unwrap();
}

/// The test provider's issuer URL, or `None` (skipped) when the variable is unset. A set but
/// unreachable provider fails the test.
async fn oidc_provider() -> Option<String> {
    let Ok(url) = std::env::var("BACKLOT_TEST_OIDC_URL") else {
        println!("skipped: BACKLOT_TEST_OIDC_URL is not set");
        return None;
    };
    let url = url.trim_end_matches('/').to_string();
    let res = reqwest::get(format!("{url}/.well-known/openid-configuration"))
        .await
        .unwrap_or_else(|e| panic!("OIDC provider at {url} is unreachable: {e}"));
    assert!(
        res.status().is_success(),
        "OIDC provider answered {}",
        res.status()
    );
    Some(url)
}

#[tokio::test]
async fn a_person_signs_in_through_the_oidc_providers_login_form() {
    let Some(issuer) = oidc_provider().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(
        dir.path(),
        &format!(
            "auth:\n  session:\n    secret: browser-test-secret\n  providers:\n    guest: {{}}\n    oidc:\n      development:\n        metadataUrl: {issuer}/.well-known/openid-configuration\n        clientId: backlot\n        clientSecret: backlot-secret\n        prompt: login\n        signIn:\n          resolvers:\n            - resolver: emailMatchingUserEntityProfileEmail\n"
        ),
    )
    .await;
    let Some(browser) = Browser::start().await else {
        backend.stop().await.unwrap();
        return;
    };

    browser.goto(&backend.url("/catalog?kind=component")).await;
    browser.wait_for_url(|u| u.contains("/signin")).await;
    // The SSO button first, the guest button last.
    let buttons = browser.find_all(".bl-signin-provider button").await;
    assert_eq!(buttons.len(), 2);
    assert_eq!(
        browser.text(&buttons[0]).await,
        "Sign in with Single sign-on"
    );
    browser.click(&buttons[0]).await;

    // The provider's own login page.
    browser.wait_for_url(|u| u.starts_with(&issuer)).await;
    let login = browser.find("input[name=login]").await;
    browser.type_text(&login, "jane").await;
    browser
        .click(&browser.find("button[type=submit]").await)
        .await;

    // Back through the auth plugin to the landing page, then to the page first asked for.
    let url = browser
        .wait_for_url(|u| u.ends_with("/catalog?kind=component"))
        .await;
    assert!(url.starts_with(&backend.url("/")), "{url}");
    assert_eq!(browser.text_of(".bl-user-name").await, "Jane Doe");
    let title = browser
        .source()
        .await
        .contains(r#"title="user:default/jane""#);
    assert!(title);
    assert!(
        browser
            .text_of("caption")
            .await
            .starts_with("All Components (1)")
    );

    browser.close().await;
    backend.stop().await.unwrap();
}
