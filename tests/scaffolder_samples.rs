#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! Templates written for Backstage, unchanged: our renditions of Backstage's sample templates
//! (`tests/fixtures/scaffolder/samples/`: the local Go service, the documentation project) and
//! Backstage's own `conditional-output-demo` (read from `../shared/fixtures/`) are registered
//! in the catalog (validated as `Template`s with their `ownedBy` relation), answer
//! `parameter-schema` with their pages, and dry-run to exactly the files and output Backstage
//! gives. The expected file contents were rendered by the real `nunjucks` package configured
//! as Backstage's SecureTemplater (`tests/support/nunjucks/render.js`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::scaffolder::backend::ScaffolderPlugin;
use backlot::testing::{TestBackend, TestClient};
use base64::Engine;
use serde_json::{Value, json};

const USER: &str = "user:default/guest";

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scaffolder/samples")
}

fn shared_templates() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/backstage-examples/templates");
    if p.is_dir() {
        Some(p)
    } else {
        println!("skipped Backstage's own sample: {} is absent", p.display());
        None
    }
}

fn yaml_file(path: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every file below `dir` as `{path: "<prefix>/<rel>", base64Content}`.
fn directory_contents(dir: &Path, prefix: &str) -> Vec<Value> {
    fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<Value>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, prefix, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                out.push(json!({
                    "path": format!("{prefix}/{rel}"),
                    "base64Content": base64::engine::general_purpose::STANDARD
                        .encode(std::fs::read(&p).unwrap()),
                }));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, prefix, &mut out);
    out
}

/// `path → text` of a dry run's files.
fn files_of(dry: &Value) -> std::collections::BTreeMap<String, String> {
    dry["directoryContents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(f["base64Content"].as_str().unwrap())
                .unwrap();
            (
                f["path"].as_str().unwrap().to_string(),
                String::from_utf8(bytes).unwrap(),
            )
        })
        .collect()
}

async fn start() -> TestBackend {
    let mut locations = vec![
        samples().join("go-service/template.yaml"),
        samples().join("docs-site/template.yaml"),
    ];
    if let Some(shared) = shared_templates() {
        locations.push(shared.join("conditional-output-demo/template.yaml"));
    }
    let targets: String = locations
        .iter()
        .map(|p| format!("    - type: file\n      target: {}\n", p.display()))
        .collect();
    // Files only below the templates: a dry run's own files (written to a temp directory) are
    // read without the backend's allow-list.
    let mut roots = vec![samples()];
    roots.extend(shared_templates());
    let roots: Vec<String> = roots.iter().map(|r| format!("'{}'", r.display())).collect();
    TestBackend::builder()
        .config_yaml(format!(
            "backend:\n  reading:\n    fileAllow: [{}]\ncatalog:\n  allowedLocationTypes: [url, file]\n",
            roots.join(", ")
        ))
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ seconds: 1 }}\n  rules:\n    - allow: [Template, Component, Location, User, Group]\n  locations:\n{targets}"
        ))
        .config_yaml("integrations:\n  github:\n    - host: github.com\n")
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(ScaffolderPlugin::new()))
        .start()
        .await
        .expect("backend starts")
}

async fn wait_for(client: &TestClient, path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = client.get(path).await.unwrap();
        if res.status() == 200 {
            return res.json().unwrap();
        }
        assert!(Instant::now() < deadline, "{path}: {}", res.text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn dry_run(client: &TestClient, template: &Value, values: Value, dir: &Path) -> Value {
    let res = client
        .post_json(
            "/api/scaffolder/v2/dry-run",
            &json!({
                "template": template,
                "values": values,
                "secrets": {},
                "directoryContents": directory_contents(&dir.join("skeleton"), "skeleton"),
            }),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json().unwrap()
}

#[tokio::test]
async fn backstage_sample_templates_register_validate_and_dry_run() {
    let backend = start().await;
    let client = backend.client().as_user(USER);

    // Registered and validated as Templates, with their owner.
    let go = wait_for(
        &client,
        "/api/catalog/entities/by-name/template/default/go-service",
    )
    .await;
    assert_eq!(go["apiVersion"], "scaffolder.backstage.io/v1beta3");
    assert!(
        go["relations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "ownedBy" && r["targetRef"] == "group:default/team-a"),
        "{go}"
    );
    wait_for(
        &client,
        "/api/catalog/entities/by-name/template/default/docs-site",
    )
    .await;

    // The parameter schema keeps the pages and their ui: keys.
    let schema = wait_for(
        &client,
        "/api/scaffolder/v2/templates/default/template/go-service/parameter-schema",
    )
    .await;
    assert_eq!(schema["title"], "Go HTTP service");
    let steps = schema["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["title"], "About the service");
    assert_eq!(
        steps[0]["schema"]["properties"]["component_id"]["ui:field"],
        "EntityNamePicker"
    );
    assert_eq!(
        steps[1]["schema"]["properties"]["repoUrl"]["ui:options"]["allowedHosts"],
        json!(["github.com"])
    );

    // Go service: the skeleton rendered, publish and register dry-run.
    let template = yaml_file(&samples().join("go-service/template.yaml"));
    let dry = dry_run(
        &client,
        &template,
        json!({
            "component_id": "orders",
            "module": "example.com/team/orders",
            "go_version": 1.23,
            "description": "Takes orders",
            "owner": "group:default/team-a",
            "port": ":9090",
            "repoUrl": "github.com?owner=acme&repo=orders"
        }),
        &samples().join("go-service"),
    )
    .await;
    let files = files_of(&dry);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["README.md", "catalog-info.yaml", "go.mod", "main.go"],
        "{dry}"
    );
    assert_eq!(
        files["main.go"],
        "package main\n\nimport (\n\t\"net/http\"\n\n\t\"github.com/gin-gonic/gin\"\n)\n\n// orders: Takes orders\nfunc main() {\n\tr := gin.Default()\n\tr.GET(\"/ping\", func(c *gin.Context) {\n\t\tc.JSON(http.StatusOK, gin.H{\"message\": \"pong\"})\n\t})\n\tr.Run(\":9090\")\n}\n"
    );
    assert_eq!(
        files["go.mod"],
        "module example.com/team/orders\n\ngo 1.23\n\nrequire github.com/gin-gonic/gin v1.10.0\n"
    );
    assert_eq!(
        files["catalog-info.yaml"],
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: \"orders\"\n  description: \"Takes orders\"\n  annotations:\n    github.com/project-slug: acme/orders\nspec:\n  type: service\n  lifecycle: experimental\n  owner: \"group:default/team-a\"\n"
    );
    assert_eq!(
        files["README.md"],
        "# orders\n\nRun it with `go run .`, then `curl localhost:9090/ping`.\n"
    );
    let step_ids: Vec<&str> = dry["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(step_ids, ["template", "publish", "register"]);
    assert_eq!(
        dry["output"]["links"][0]["url"], "https://github.com/acme/orders.git",
        "{}",
        dry["output"]
    );

    // Documentation project: rendered files and the output text with a filter.
    let template = yaml_file(&samples().join("docs-site/template.yaml"));
    let dry = dry_run(
        &client,
        &template,
        json!({
            "name": "payments-docs",
            "description": "How payments work",
            "owner": "group:default/team-a",
            "repoUrl": "github.com?owner=acme&repo=payments-docs"
        }),
        &samples().join("docs-site"),
    )
    .await;
    let files = files_of(&dry);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["catalog-info.yaml", "docs/index.md", "mkdocs.yml"]
    );
    assert_eq!(
        files["mkdocs.yml"],
        "site_name: payments-docs\nsite_description: How payments work\nnav:\n  - Home: index.md\nplugins:\n  - techdocs-core\n"
    );
    assert_eq!(
        files["docs/index.md"],
        "# payments-docs\n\nHow payments work\n\nMaintained by `group:default/team-a`.\n"
    );
    assert_eq!(
        files["catalog-info.yaml"],
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: \"payments-docs\"\n  annotations:\n    backstage.io/techdocs-ref: dir:.\n    github.com/project-slug: acme/payments-docs\nspec:\n  type: documentation\n  lifecycle: experimental\n  owner: \"group:default/team-a\"\n"
    );
    assert_eq!(
        dry["output"]["text"][0]["content"],
        "Push the files to `acme/payments-docs` and register `catalog-info.yaml`."
    );
    let logged: Vec<String> = dry["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["body"]["message"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        logged.iter().any(|m| m.contains("docs/index.md")),
        "debug:log lists the workspace: {logged:?}"
    );

    // Backstage's own conditional-output-demo, byte for byte from its repository.
    let Some(shared) = shared_templates() else {
        return;
    };
    wait_for(
        &client,
        "/api/catalog/entities/by-name/template/default/conditional-output-demo",
    )
    .await;
    let template = yaml_file(&shared.join("conditional-output-demo/template.yaml"));
    for (ci, details, links, texts) in [
        (
            "Yes",
            true,
            vec!["Backstage Homepage", "CI Dashboard", "CI Docs"],
            vec!["Summary", "CI Details", "CI Setup Instructions"],
        ),
        ("No", false, vec!["Backstage Homepage"], vec!["Summary"]),
    ] {
        let res = client
            .post_json(
                "/api/scaffolder/v2/dry-run",
                &json!({
                    "template": template,
                    "values": {"name": "svc", "enableCI": ci, "showDetails": details},
                    "directoryContents": [],
                }),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text());
        let dry: Value = res.json().unwrap();
        let titles = |key: &str| -> Vec<String> {
            dry["output"][key]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["title"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(titles("links"), links, "{}", dry["output"]);
        assert_eq!(titles("text"), texts, "{}", dry["output"]);
        assert_eq!(
            dry["output"]["text"][0]["content"],
            "**Component:** `svc`\n"
        );
        if ci == "Yes" {
            assert_eq!(
                dry["output"]["links"][1]["url"],
                "https://ci.example.com/svc"
            );
        }
        assert!(
            dry["log"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["body"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Creating svc")),
            "{}",
            dry["log"]
        );
    }
}
