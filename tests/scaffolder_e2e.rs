//! End to end, as a user runs Software Templates: a template registered in the catalog from
//! a file, `POST /api/scaffolder/v2/tasks` as a signed-in user, the task followed through
//! `/events`, and then the published repository (on the real git server of
//! tests/support/git_server) holds exactly the rendered files and the new Component is in the
//! catalog with its owner.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

#[path = "support/git_server/mod.rs"]
mod git_server;

use std::path::Path;
use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::scaffolder::backend::ScaffolderPlugin;
use backlot::testing::{TestBackend, TestClient};
use base64::Engine;
use git_server::{GitServer, files_of, git_clone, git_in};
use serde_json::{Value, json};

const USER: &str = "user:default/mo";

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The template: a skeleton rendered by `fetch:template`, the descriptor written by
/// `catalog:write`, the result pushed by `publish:git` and registered by `catalog:register`.
fn write_template(dir: &Path) -> std::path::PathBuf {
    write(
        dir,
        "skeleton/README.md",
        "# ${{ values.name }}\n\nOwned by ${{ values.owner }}.\n",
    );
    write(
        dir,
        "skeleton/src/${{ values.name }}.rs",
        "pub const NAME: &str = \"${{ values.name }}\";\n",
    );
    let template = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "e2e-service", "title": "A service"},
        "spec": {
            "owner": "team-a",
            "type": "service",
            "parameters": [{
                "title": "Service",
                "required": ["name", "owner", "repoUrl"],
                "properties": {
                    "name": {"type": "string"},
                    "owner": {"type": "string", "ui:field": "OwnerPicker"},
                    "repoUrl": {"type": "string", "ui:field": "RepoUrlPicker"}
                }
            }],
            "steps": [
                {"id": "fetch", "name": "Fetch skeleton", "action": "fetch:template",
                 "input": {"url": "./skeleton",
                           "values": {"name": "${{ parameters.name }}", "owner": "${{ parameters.owner }}"}}},
                {"id": "catalog", "name": "Write descriptor", "action": "catalog:write",
                 "input": {"entity": {
                     "apiVersion": "backstage.io/v1alpha1",
                     "kind": "Component",
                     "metadata": {"name": "${{ parameters.name }}", "description": "Made by a template"},
                     "spec": {"type": "service", "lifecycle": "experimental", "owner": "${{ parameters.owner }}"}
                 }}},
                {"id": "publish", "name": "Publish", "action": "publish:git",
                 "input": {"repoUrl": "${{ parameters.repoUrl }}",
                           "gitCommitMessage": "Create ${{ parameters.name }}"}},
                {"id": "register", "name": "Register", "action": "catalog:register",
                 "input": {"repoContentsUrl": "${{ steps.publish.output.repoContentsUrl }}",
                           "catalogInfoPath": "/catalog-info.yaml"}}
            ],
            "output": {
                "links": [
                    {"title": "Repository", "url": "${{ steps.publish.output.remoteUrl }}"},
                    {"title": "Open in catalog", "icon": "catalog",
                     "entityRef": "${{ steps.register.output.entityRef }}"}
                ]
            }
        }
    });
    let file = dir.join("template.yaml");
    std::fs::write(&file, serde_yaml::to_string(&template).unwrap()).unwrap();
    file
}

async fn wait_for_entity(client: &TestClient, path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = client.get(path).await.unwrap();
        if res.status() == 200 {
            return res.json().unwrap();
        }
        assert!(Instant::now() < deadline, "{path} never appeared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Follows `/events` (long-polling with `after`) until the completion event, returning all.
async fn follow_events(client: &TestClient, id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut events: Vec<Value> = Vec::new();
    loop {
        let path = match events.last() {
            Some(e) => format!("/api/scaffolder/v2/tasks/{id}/events?after={}", e["id"]),
            None => format!("/api/scaffolder/v2/tasks/{id}/events"),
        };
        let res = client.get(&path).await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text());
        let page: Vec<Value> = res.json().unwrap();
        events.extend(page);
        if events.iter().any(|e| e["type"] == "completion") {
            return events;
        }
        assert!(Instant::now() < deadline, "no completion event: {events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start_backend(server: &GitServer, template_file: &Path) -> TestBackend {
    TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ seconds: 1 }}\n  rules:\n    - allow: [Template, Component, Location, User, Group]\n  locations:\n    - type: file\n      target: {}\n",
            template_file.display()
        ))
        .config_yaml(format!(
            "backend:\n  reading:\n    allow:\n      - host: '{host}'\nintegrations:\n  gitea:\n    - host: '{host}'\n      baseUrl: '{url}'\n      username: '{user}'\n      password: '{pass}'\nscaffolder:\n  taskSecretsKey: e2e-key\n  defaultAuthor:\n    name: Scaffold Bot\n    email: bot@example.test\n",
            host = server.host(),
            url = server.url,
            user = server.user,
            pass = server.password
        ))
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(ScaffolderPlugin::new()))
        .start()
        .await
        .expect("backend starts")
}

#[tokio::test]
async fn a_template_run_publishes_the_repository_and_registers_the_component() {
    let Some(server) = GitServer::from_env("scaffolder end to end") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let template_file = write_template(dir.path());
    let started = Instant::now();
    let backend = start_backend(&server, &template_file).await;
    let client = backend.client().as_user(USER);
    wait_for_entity(
        &client,
        "/api/catalog/entities/by-name/template/default/e2e-service",
    )
    .await;

    let owner = GitServer::fresh_owner("e2e");
    let name = format!("svc-{}", &owner[4..12]);
    let res = client
        .post_json(
            "/api/scaffolder/v2/tasks",
            &json!({
                "templateRef": "template:default/e2e-service",
                "values": {
                    "name": name,
                    "owner": "team-a",
                    "repoUrl": format!("{}?owner={owner}&repo={name}", server.host())
                }
            }),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text());
    let id = res.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let events = follow_events(&client, &id).await;
    let completion = events.iter().find(|e| e["type"] == "completion").unwrap();
    assert_eq!(
        completion["body"]["status"],
        "completed",
        "{:#}",
        json!(events)
    );
    for step in ["fetch", "catalog", "publish", "register"] {
        assert!(
            events
                .iter()
                .any(|e| e["body"]["stepId"] == step && e["body"]["status"] == "completed"),
            "step {step} did not complete: {:#}",
            json!(events)
        );
    }
    let task: Value = client
        .get(&format!("/api/scaffolder/v2/tasks/{id}"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(task["status"], "completed");
    assert_eq!(task["createdBy"], USER);
    println!(
        "task completed {:?} after the backend started",
        started.elapsed()
    );

    // The repository holds exactly the rendered files, in one commit by the default author.
    let remote = format!("{}/{owner}/{name}.git", server.url);
    let clone = tempfile::tempdir().unwrap();
    git_clone(&remote, clone.path(), None);
    let files = files_of(clone.path());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let code = format!("src/{name}.rs");
    assert_eq!(names, ["README.md", "catalog-info.yaml", code.as_str()]);
    assert_eq!(files[0].1, format!("# {name}\n\nOwned by team-a.\n"));
    assert_eq!(files[2].1, format!("pub const NAME: &str = \"{name}\";\n"));
    let descriptor: Value = serde_yaml::from_str(&files[1].1).unwrap();
    assert_eq!(descriptor["metadata"]["name"], name.as_str());
    assert_eq!(
        git_in(clone.path(), &["log", "--format=%an|%s"]),
        format!("Scaffold Bot|Create {name}")
    );

    // The Component is in the catalog, owned by team-a, from the published descriptor.
    let entity = wait_for_entity(
        &client,
        &format!("/api/catalog/entities/by-name/component/default/{name}"),
    )
    .await;
    assert_eq!(entity["spec"]["owner"], "team-a");
    assert!(
        entity["relations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "ownedBy" && r["targetRef"] == "group:default/team-a"),
        "{entity:#}"
    );
    let annotations = &entity["metadata"]["annotations"];
    assert_eq!(
        annotations["backstage.io/source-template"],
        "template:default/e2e-service"
    );
    assert_eq!(
        annotations["backstage.io/managed-by-location"],
        format!(
            "url:{}/{owner}/{name}/raw/branch/main/catalog-info.yaml",
            server.url
        )
    );

    // The task's output, in its completion event, links to both.
    let links = &completion["body"]["output"]["links"];
    println!("output links: {links}");
    assert!(
        links.to_string().contains(&remote),
        "output links lack the repository: {links}"
    );
    assert!(
        links
            .to_string()
            .contains(&format!("component:default/{name}")),
        "output links lack the entity: {links}"
    );
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn a_dry_run_renders_and_commits_but_pushes_and_registers_nothing() {
    let Some(server) = GitServer::from_env("scaffolder end-to-end dry run") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let template_file = write_template(dir.path());
    let backend = start_backend(&server, &template_file).await;
    let client = backend.client().as_user(USER);

    // The actions list shows the built-in ones with Backstage's schemas.
    let actions: Vec<Value> = client
        .get("/api/scaffolder/v2/actions")
        .await
        .unwrap()
        .json()
        .unwrap();
    let publish = actions.iter().find(|a| a["id"] == "publish:git").unwrap();
    assert_eq!(publish["schema"]["input"]["required"], json!(["repoUrl"]));
    assert!(publish["schema"]["output"]["properties"]["commitHash"].is_object());
    for id in [
        "fs:delete",
        "fs:rename",
        "debug:log",
        "debug:wait",
        "catalog:register",
        "catalog:write",
        "catalog:fetch",
        "publish:github",
        "publish:gitlab",
    ] {
        assert!(actions.iter().any(|a| a["id"] == id), "{id} missing");
    }

    let template: Value =
        serde_yaml::from_str(&std::fs::read_to_string(&template_file).unwrap()).unwrap();
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
    let owner = GitServer::fresh_owner("dry");
    let res = client
        .post_json(
            "/api/scaffolder/v2/dry-run",
            &json!({
                "template": template,
                "values": {"name": "drysvc", "owner": "team-a",
                           "repoUrl": format!("{}?owner={owner}&repo=drysvc", server.host())},
                "directoryContents": [
                    {"path": "skeleton/README.md",
                     "base64Content": b64("# ${{ values.name }}\n")},
                ]
            }),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let body: Value = res.json().unwrap();
    let files: Vec<&str> = body["directoryContents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        files.contains(&"README.md") && files.contains(&"catalog-info.yaml"),
        "{files:?}"
    );
    let log = body["log"].to_string();
    assert!(log.contains("Dry run: committed"), "{log}");
    let links = body["output"]["links"].to_string();
    assert!(
        links.contains(&format!("{}/{owner}/drysvc.git", server.url)),
        "{links}"
    );
    assert!(
        body["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["body"]["stepId"] == "register" && l["body"]["status"] == "skipped"),
        "{log}"
    );
    // Nothing reached the git server.
    let res = reqwest::get(format!(
        "{}/{owner}/drysvc/raw/branch/main/README.md",
        server.url
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
    backend.stop().await.unwrap();
}
