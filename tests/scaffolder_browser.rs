#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! A person runs a template in headless Chromium: a backend with the catalog, the scaffolder
//! backend and the app (guest sign-in), `chromedriver` from PATH (without it the test prints
//! `skipped: chromedriver not found`).
//!
//! Two runs:
//! - a test template whose steps are actions this test registers through
//!   `SCAFFOLDER_ACTIONS` (write a file, "publish", "register"), so the form, review, live
//!   task page and output are checked without any outside service;
//! - the demo catalog's `rust-service` template with the built-in actions (`fetch:template`,
//!   `publish:git` to the git server of `BACKLOT_TEST_GIT_URL`, `catalog:register`), skipped
//!   when that variable is unset (`.ci/run` starts the server on 127.0.0.1:7900, the host
//!   the demo template allows).
//!
//! Screenshots land in `<target tmpdir>/screenshots/`.

mod support;

#[path = "support/git_server/mod.rs"]
mod git_server;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backlot::backend::Feature;
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::scaffolder::node::{
    ActionContext, ActionError, SCAFFOLDER_ACTIONS, TemplateAction,
};
use backlot::testing::TestBackend;
use support::webdriver::Browser;

const TEMPLATE: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: browser-service
  title: Browser service
  description: A service made in the browser test.
  tags: [testing]
spec:
  owner: platform-engineering
  type: service
  parameters:
  - title: Service
    required: [name, owner]
    ui:order: [name, owner]
    properties:
      name:
        title: Name
        type: string
        ui:field: EntityNamePicker
        ui:autofocus: true
      owner:
        title: Owner
        type: string
        ui:field: OwnerPicker
        ui:options:
          catalogFilter:
            kind: Group
  - title: Repository
    required: [repoUrl, token]
    properties:
      repoUrl:
        title: Repository location
        type: string
        ui:field: RepoUrlPicker
        ui:options:
          allowedHosts: [127.0.0.1:7900]
      token:
        title: Token
        type: string
        ui:field: Secret
  steps:
  - id: write
    name: Write files
    action: test:write
    input:
      name: ${{ parameters.name }}
  - id: publish
    name: Publish
    action: test:publish
    input:
      repoUrl: ${{ parameters.repoUrl }}
      token: ${{ secrets.token }}
  - id: register
    name: Register
    action: test:register
    input:
      name: ${{ parameters.name }}
  output:
    links:
    - title: Repository
      url: ${{ steps.publish.output.remoteUrl }}
    - title: Open in catalog
      entityRef: ${{ steps.register.output.entityRef }}
    text:
    - title: Next steps
      content: Clone **${{ parameters.name }}**.
"#;

/// Writes `README.md` naming the service into the workspace.
#[derive(Debug)]
struct Write;
#[async_trait]
impl TemplateAction for Write {
    fn id(&self) -> &str {
        "test:write"
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let name = ctx.input_str("name").unwrap_or("").to_string();
        let path = ctx.workspace_path.join("README.md");
        tokio::fs::write(&path, format!("# {name}\n")).await?;
        ctx.logger.info(&format!("wrote README.md for {name}"));
        Ok(())
    }
}

/// Set by the test once the task page follows the event stream; `test:publish` waits for it
/// (at most 30 s), so the page is seen live however slow the machine is.
static PAGE_IS_LIVE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// "Publishes": checks the secret arrived, waits until the test has seen the task page follow
/// the event stream, and answers the repository URL.
#[derive(Debug)]
struct Publish;
#[async_trait]
impl TemplateAction for Publish {
    fn id(&self) -> &str {
        "test:publish"
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        if ctx.input_str("token") != Some("s3cret-token") {
            return Err(ActionError::Failed(
                "the token secret did not arrive".to_string(),
            ));
        }
        let repo_url = ctx.input_str("repoUrl").unwrap_or("").to_string();
        let (host, query) = repo_url.split_once('?').unwrap_or((&repo_url, ""));
        let q: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
        ctx.logger
            .info(&format!("publishing with token s3cret-token to {repo_url}"));
        for _ in 0..300 {
            if PAGE_IS_LIVE.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ctx.output(
            "remoteUrl",
            format!("http://{host}/{}/{}", q["owner"], q["repo"]),
        );
        Ok(())
    }
}

/// "Registers": answers the entity ref of the new component.
#[derive(Debug)]
struct Register;
#[async_trait]
impl TemplateAction for Register {
    fn id(&self) -> &str {
        "test:register"
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let name = ctx.input_str("name").unwrap_or("").to_string();
        ctx.output("entityRef", format!("component:default/{name}"));
        Ok(())
    }
}

/// Waits up to 10 s until the page source contains `marker` (after a form post).
/// The task status the task page shows (`completed`, …), read from its HTML.
fn task_status(source: &str) -> String {
    source
        .split("class=\"sc-task-status\"")
        .nth(1)
        .and_then(|rest| rest.split("sc-status sc-status-").nth(1))
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string()
}

async fn wait_for(browser: &Browser, marker: &str) {
    for _ in 0..100 {
        if browser.source().await.contains(marker) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never saw {marker}: {}", browser.source().await);
}

async fn source_has(browser: &Browser, marker: &str) -> bool {
    browser.source().await.contains(marker)
}

fn catalog_dir(dir: &Path) -> PathBuf {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog");
    std::fs::copy(demo.join("org.yaml"), dir.join("org.yaml")).unwrap();
    std::fs::write(dir.join("template.yaml"), TEMPLATE).unwrap();
    let all = dir.join("all.yaml");
    std::fs::write(
        &all,
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: t\nspec:\n  targets: [./org.yaml, ./template.yaml]\n",
    )
    .unwrap();
    all
}

#[tokio::test]
async fn a_person_runs_a_template_and_sees_the_task_complete() {
    let dir = tempfile::tempdir().unwrap();
    let all = catalog_dir(dir.path());
    let actions = Feature::module_fn("scaffolder", "browser-test-actions", |reg| {
        reg.init(&SCAFFOLDER_ACTIONS, |actions| async move {
            actions.get()?.add_actions([
                Arc::new(Write) as Arc<dyn TemplateAction>,
                Arc::new(Publish),
                Arc::new(Register),
            ]);
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .real_auth()
        .feature(Feature::plugin(backlot::plugins::auth::backend::plugin()))
        .config_yaml("auth:\n  environment: development\n  providers:\n    guest: {}\n")
        .config_yaml("app:\n  signInPage:\n    userCookiePlugins: [scaffolder]\n")
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(backlot::plugins::scaffolder::backend::plugin()))
        .feature(actions)
        .feature(app_plugin(
            App::builder()
                .feature(backlot::plugins::catalog::frontend::plugin())
                .feature(backlot::plugins::scaffolder::frontend::plugin()),
        ))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\ncatalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {}\n",
            all.display()
        ))
        .start()
        .await
        .unwrap();

    let Some(browser) = Browser::start().await else {
        backend.stop().await.unwrap();
        return;
    };
    browser.set_window_size(1280, 1000).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // The templates, from the nav.
    browser.sign_in_as_guest(&backend.url("")).await;
    browser.goto(&backend.url("/catalog")).await;
    browser
        .click(&browser.find("a.bl-nav-link[href='/create']").await)
        .await;
    assert!(browser.url_reaches("/create").await);
    assert_eq!(
        browser.text_of("[data-template=browser-service] h2").await,
        "Browser service"
    );
    browser
        .screenshot(&shots.join("scaffolder-templates.png"))
        .await;
    browser
        .click(
            &browser
                .find("[data-template=browser-service] a.bl-button")
                .await,
        )
        .await;
    assert!(
        browser
            .url_reaches("/create/templates/default/browser-service")
            .await
    );

    // Step 1: a bad name is refused beside the field; then good values.
    let name = browser.find("input[name='p.name']").await;
    browser.type_text(&name, "Not OK!").await;
    browser
        .click(
            &browser
                .find("select[name='p.owner'] option[value='group:default/platform-engineering']")
                .await,
        )
        .await;
    browser
        .click(&browser.find("button[value=next]").await)
        .await;
    wait_for(&browser, "Name must match the pattern").await;
    let name = browser.find("input[name='p.name']").await;
    // The refused value is shown again: select it all (Ctrl+A), then type the good one.
    browser
        .type_text(&name, "\u{E009}a\u{E000}parcel-pricing")
        .await;
    browser
        .click(&browser.find("button[value=next]").await)
        .await;
    wait_for(&browser, "<li aria-current=\"step\">Repository</li>").await;

    // Step 2: the repository and the secret.
    browser
        .type_text(
            &browser.find("input[name='p.repoUrl.owner']").await,
            "northwind",
        )
        .await;
    browser
        .type_text(
            &browser.find("input[name='p.repoUrl.repo']").await,
            "parcel-pricing",
        )
        .await;
    browser
        .type_text(&browser.find("input[name='p.token']").await, "s3cret-token")
        .await;
    browser.screenshot(&shots.join("scaffolder-form.png")).await;
    browser
        .click(&browser.find("button[value=next]").await)
        .await;
    wait_for(&browser, "<li aria-current=\"step\">Review</li>").await;

    // Review: the secret masked, then Create.
    assert_eq!(
        browser.text_of("dd[data-field=name]").await,
        "parcel-pricing"
    );
    assert_eq!(browser.text_of("dd[data-field=token]").await, "••••••");
    assert!(!browser.source().await.contains("s3cret-token"));
    browser
        .screenshot(&shots.join("scaffolder-review.png"))
        .await;
    browser
        .click(&browser.find("button[value=create]").await)
        .await;
    wait_for(&browser, "Run of Browser service").await;
    let task_url = browser.wait_for_url(|u| u.contains("/create/tasks/")).await;
    println!("task page: {task_url}");

    // The task page follows the task to its end without a reload by the person: it is still
    // running (publish waits for the test) when the page attaches to the event stream.
    let mut followed_stream = false;
    for _ in 0..150 {
        if source_has(&browser, "data-sc-live=\"sse\"").await {
            followed_stream = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    PAGE_IS_LIVE.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut status = String::new();
    for _ in 0..150 {
        // From a snapshot of the page: the live script replaces the status element as the
        // task moves, so an element found first may be gone when its text is asked for.
        status = task_status(&browser.source().await);
        if status == "completed" || status == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.screenshot(&shots.join("scaffolder-task.png")).await;
    assert_eq!(status, "completed", "{}", browser.source().await);
    assert_eq!(browser.url().await, task_url, "no navigation happened");
    assert!(
        followed_stream,
        "the page followed the event stream while the task ran: {}",
        browser.source().await
    );
    let repo = browser.find("ul.sc-output-links a[rel]").await;
    assert_eq!(browser.text(&repo).await, "Repository");
    let entity = browser
        .find("a[data-entity-ref='component:default/parcel-pricing']")
        .await;
    assert_eq!(browser.text(&entity).await, "Open in catalog");
    let source = browser.source().await;
    assert!(source.contains("href=\"/catalog/default/component/parcel-pricing\""));
    assert!(source.contains("href=\"http://127.0.0.1:7900/northwind/parcel-pricing\""));
    assert!(
        source.contains("wrote README.md for parcel-pricing"),
        "the log is shown"
    );
    assert!(
        !source.contains("s3cret-token"),
        "the secret is redacted in the log"
    );
    assert!(
        source.contains("<strong>parcel-pricing</strong>"),
        "output text"
    );
    for step in ["write", "publish", "register"] {
        assert!(
            source.contains(&format!("data-step=\"{step}\" data-status=\"completed\"")),
            "{step}"
        );
    }

    // The task is in the person's list.
    browser.goto(&backend.url("/create/tasks")).await;
    let row = browser.text_of("table.bl-table tbody tr").await;
    assert!(
        row.contains("Browser service") && row.contains("completed"),
        "{row}"
    );

    browser.close().await;
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn a_person_makes_a_rust_service_from_the_demo_template() {
    let Some(server) = git_server::GitServer::from_env("demo template in the browser") else {
        return;
    };
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog/all.yaml");
    let backend = TestBackend::builder()
        .real_auth()
        .feature(Feature::plugin(backlot::plugins::auth::backend::plugin()))
        .config_yaml("auth:\n  environment: development\n  providers:\n    guest: {}\n")
        .config_yaml(support::file_locations_yaml())
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(backlot::plugins::scaffolder::backend::plugin()))
        .feature(app_plugin(
            App::builder()
                .feature(backlot::plugins::catalog::frontend::plugin())
                .feature(backlot::plugins::scaffolder::frontend::plugin()),
        ))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\ncatalog:\n  processingInterval: {{ seconds: 1 }}\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {}\n",
            demo.display()
        ))
        .config_yaml(format!(
            "backend:\n  reading:\n    allow:\n      - host: '{host}'\nintegrations:\n  gitea:\n    - host: '{host}'\n      baseUrl: '{url}'\n      username: '{user}'\n      password: '{pass}'\n",
            host = server.host(),
            url = server.url,
            user = server.user,
            pass = server.password
        ))
        .start()
        .await
        .unwrap();
    let Some(browser) = Browser::start().await else {
        backend.stop().await.unwrap();
        return;
    };
    browser.set_window_size(1280, 1000).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let owner = git_server::GitServer::fresh_owner("ui");
    let name = format!("svc-{}", &owner[3..11]);

    browser.sign_in_as_guest(&backend.url("")).await;
    browser
        .goto(&backend.url("/create/templates/default/rust-service"))
        .await;
    wait_for(&browser, "<li aria-current=\"step\">Service</li>").await;
    browser
        .type_text(&browser.find("input[name='p.name']").await, &name)
        .await;
    browser
        .type_text(
            &browser.find("textarea[name='p.description']").await,
            "Prices parcels",
        )
        .await;
    browser
        .click(
            &browser
                .find("select[name='p.owner'] option[value='group:default/platform-engineering']")
                .await,
        )
        .await;
    browser
        .click(
            &browser
                .find("select[name='p.system'] option[value='system:default/billing']")
                .await,
        )
        .await;
    browser
        .click(&browser.find("button[value=next]").await)
        .await;
    wait_for(&browser, "<li aria-current=\"step\">Repository</li>").await;
    browser
        .type_text(&browser.find("input[name='p.repoUrl.owner']").await, &owner)
        .await;
    browser
        .type_text(&browser.find("input[name='p.repoUrl.repo']").await, &name)
        .await;
    browser
        .click(&browser.find("button[value=next]").await)
        .await;
    wait_for(&browser, "<li aria-current=\"step\">Review</li>").await;
    assert_eq!(browser.text_of("dd[data-field=port]").await, "8080");
    browser
        .click(&browser.find("button[value=create]").await)
        .await;
    wait_for(&browser, "Run of Rust service").await;

    let mut status = String::new();
    for _ in 0..600 {
        // From a snapshot of the page: the live script replaces the status element as the
        // task moves, so an element found first may be gone when its text is asked for.
        status = task_status(&browser.source().await);
        if status == "completed" || status == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser
        .screenshot(&shots.join("scaffolder-demo-task.png"))
        .await;
    let source = browser.source().await;
    assert_eq!(status, "completed", "{source}");
    let remote = format!("{}/{owner}/{name}", server.url);
    assert!(
        source.contains(&format!("href=\"{remote}")),
        "repository link: {source}"
    );
    let entity = format!("component:default/{name}");
    assert!(
        source.contains(&format!("data-entity-ref=\"{entity}\"")),
        "{source}"
    );
    assert!(
        source.contains(&format!("<strong>{name}</strong> is ready")),
        "output text"
    );

    // The new component's page in the catalog, from the output link.
    browser
        .click(
            &browser
                .find(&format!("a[data-entity-ref='{entity}']"))
                .await,
        )
        .await;
    assert!(
        browser
            .url_reaches(&format!("/catalog/default/component/{name}"))
            .await
    );
    for _ in 0..100 {
        if browser.title().await.starts_with(&name) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser.goto(&browser.url().await).await;
    }
    let page = browser.source().await;
    assert!(page.contains("Prices parcels"), "{page}");
    browser
        .screenshot(&shots.join("scaffolder-demo-entity.png"))
        .await;

    browser.close().await;
    backend.stop().await.unwrap();
}
