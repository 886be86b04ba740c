//! The scaffolder's built-in `fs:*`, `debug:*` and `catalog:*` actions, run as the task engine
//! runs them over a temporary workspace, with a backend's catalog behind `catalog:*`.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "support/git_server/mod.rs"]
mod git_server;

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use backlot::plugins::scaffolder::node::ActionError;
use backlot::testing::mock_credentials;
use git_server::harness::{Harness, RunOpts};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn write(ws: &Path, rel: &str, text: &str) {
    let p = ws.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn names(ws: &Path) -> Vec<String> {
    git_server::files_of(ws)
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

fn user() -> RunOpts {
    RunOpts {
        credentials: Some(mock_credentials::user("user:default/mo")),
        ..RunOpts::default()
    }
}

/// A workspace and, next to it, a directory outside it holding `secret.txt`, linked from the
/// workspace as `link`.
fn workspace_with_escape_hatch() -> (tempfile::TempDir, tempfile::TempDir) {
    let ws = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", "keep me");
    std::os::unix::fs::symlink(outside.path(), ws.path().join("link")).unwrap();
    (ws, outside)
}

#[tokio::test]
async fn fs_delete_removes_files_directories_and_globs() {
    let h = Harness::start("").await;
    let ws = tempfile::tempdir().unwrap();
    for f in [
        "a.txt",
        "keep.txt",
        "b.md",
        "sub/c.md",
        "sub/keep.rs",
        "dir/x",
        "dir/y/z",
    ] {
        write(ws.path(), f, f);
    }
    let run = h
        .run(
            "fs:delete",
            json!({"files": ["a.txt", "**/*.md", "dir", "missing.txt"]}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    run.result.as_ref().unwrap();
    assert_eq!(names(ws.path()), ["keep.txt", "sub/keep.rs"]);
    assert!(
        run.log_text().contains("sub/c.md deleted"),
        "{}",
        run.log_text()
    );

    // `*` stays inside one directory.
    write(ws.path(), "top.rs", "");
    h.run(
        "fs:delete",
        json!({"files": ["*.rs"]}),
        ws.path(),
        RunOpts::default(),
    )
    .await
    .result
    .unwrap();
    assert_eq!(names(ws.path()), ["keep.txt", "sub/keep.rs"]);
}

#[tokio::test]
async fn fs_delete_refuses_every_path_out_of_the_workspace() {
    let h = Harness::start("").await;
    let (ws, outside) = workspace_with_escape_hatch();
    write(ws.path(), "inside.txt", "x");
    let abs = outside.path().join("secret.txt");
    let rel_out = format!(
        "../{}/secret.txt",
        outside.path().file_name().unwrap().to_string_lossy()
    );
    for bad in [
        rel_out.as_str(),
        abs.to_str().unwrap(),
        "link/secret.txt",
        "link",
        "../*",
        "a/../../x",
        "**",
    ] {
        let run = h
            .run(
                "fs:delete",
                json!({"files": [bad]}),
                ws.path(),
                RunOpts::default(),
            )
            .await;
        assert!(
            matches!(run.result, Err(ActionError::PathEscape(_))),
            "{bad}: {:?}",
            run.result
        );
        assert_eq!(std::fs::read_to_string(&abs).unwrap(), "keep me", "{bad}");
    }
    assert!(ws.path().join("inside.txt").exists());
    // Deleting the workspace itself is refused too.
    let run = h
        .run(
            "fs:delete",
            json!({"files": ["."]}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(run.result.is_err());
    assert!(ws.path().exists());
}

#[tokio::test]
async fn fs_rename_moves_files_and_directories_with_overwrite_rules() {
    let h = Harness::start("").await;
    let ws = tempfile::tempdir().unwrap();
    write(ws.path(), "a.txt", "A");
    write(ws.path(), "b.txt", "B");
    write(ws.path(), "docs/index.md", "D");
    let run = h
        .run(
            "fs:rename",
            json!({"files": [
                {"from": "a.txt", "to": "renamed/a2.txt"},
                {"from": "docs", "to": "documentation"}
            ]}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    run.result.as_ref().unwrap();
    assert_eq!(
        git_server::files_of(ws.path()),
        [
            ("b.txt".to_string(), "B".to_string()),
            ("documentation/index.md".to_string(), "D".to_string()),
            ("renamed/a2.txt".to_string(), "A".to_string()),
        ]
    );

    // An existing destination needs overwrite.
    let run = h
        .run(
            "fs:rename",
            json!({"files": [{"from": "b.txt", "to": "renamed/a2.txt"}]}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(run.err().contains("already exists"), "{}", run.err());
    assert_eq!(
        std::fs::read_to_string(ws.path().join("renamed/a2.txt")).unwrap(),
        "A"
    );
    h.run(
        "fs:rename",
        json!({"files": [{"from": "b.txt", "to": "renamed/a2.txt", "overwrite": true}]}),
        ws.path(),
        RunOpts::default(),
    )
    .await
    .result
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(ws.path().join("renamed/a2.txt")).unwrap(),
        "B"
    );

    // A missing source, and an item without `to`.
    let run = h
        .run(
            "fs:rename",
            json!({"files": [{"from": "nope", "to": "x"}]}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(
        matches!(run.result, Err(ActionError::NotFound(_))),
        "{:?}",
        run.result
    );
    let run = h
        .run(
            "fs:rename",
            json!({"files": [{"from": "documentation"}]}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(run.err().contains("from and to"), "{}", run.err());
}

#[tokio::test]
async fn fs_rename_refuses_every_path_out_of_the_workspace() {
    let h = Harness::start("").await;
    let (ws, outside) = workspace_with_escape_hatch();
    write(ws.path(), "inside.txt", "x");
    let abs_out = outside.path().join("stolen.txt");
    let abs_secret = outside.path().join("secret.txt");
    let cases = [
        json!({"from": "inside.txt", "to": "../stolen.txt"}),
        json!({"from": "inside.txt", "to": abs_out.to_str().unwrap()}),
        json!({"from": "inside.txt", "to": "link/stolen.txt"}),
        json!({"from": "link/secret.txt", "to": "got.txt"}),
        json!({"from": abs_secret.to_str().unwrap(), "to": "got.txt"}),
        json!({"from": "../x", "to": "got.txt"}),
    ];
    for case in cases {
        let run = h
            .run(
                "fs:rename",
                json!({"files": [case.clone()]}),
                ws.path(),
                RunOpts::default(),
            )
            .await;
        assert!(
            matches!(run.result, Err(ActionError::PathEscape(_))),
            "{case}: {:?}",
            run.result
        );
    }
    assert!(ws.path().join("inside.txt").exists());
    assert!(!ws.path().join("got.txt").exists());
    assert!(!abs_out.exists());
    assert_eq!(std::fs::read_to_string(&abs_secret).unwrap(), "keep me");
}

#[tokio::test]
async fn debug_log_writes_the_message_and_lists_the_workspace() {
    let h = Harness::start("").await;
    let (ws, _outside) = workspace_with_escape_hatch();
    write(ws.path(), "README.md", "# Hello\nworld");
    write(ws.path(), "src/main.rs", "fn main() {}");
    // A link to a file outside and a FIFO: listed, never read.
    std::os::unix::fs::symlink(_outside.path().join("secret.txt"), ws.path().join("leak")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(ws.path().join("pipe"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let run = h
        .run(
            "debug:log",
            json!({"message": "Hello Backstage!", "listWorkspace": "with-contents", "extra": {"n": 1}}),
            ws.path(),
            RunOpts {
                secrets: vec!["world".to_string()],
                ..RunOpts::default()
            },
        )
        .await;
    run.result.as_ref().unwrap();
    let text = run.log_text();
    assert!(text.contains("Hello Backstage!"), "{text}");
    assert!(text.contains("  - README.md"), "{text}");
    assert!(text.contains("  - src/main.rs"), "{text}");
    assert!(text.contains("fn main() {}"), "{text}");
    assert!(text.contains("\"extra\""), "{text}");
    assert!(text.contains("  - leak\n      <symlink>"), "{text}");
    assert!(
        text.contains("  - pipe\n      <not a regular file>"),
        "{text}"
    );
    assert!(!text.contains("keep me"), "{text}");
    // The task's secrets never reach the log, not even from file contents.
    assert!(!text.contains("world"), "{text}");

    let run = h
        .run(
            "debug:log",
            json!({"listWorkspace": true}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    run.result.as_ref().unwrap();
    assert!(run.log_text().contains("  - src/main.rs"));
    assert!(!run.log_text().contains("fn main"));

    let run = h
        .run(
            "debug:log",
            json!({"listWorkspace": "everything"}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(matches!(run.result, Err(ActionError::InvalidInput(_))));
}

#[tokio::test]
async fn debug_wait_waits_is_capped_and_stops_at_once_when_cancelled() {
    let h =
        Harness::start("scaffolder:\n  actions:\n    debugWait:\n      maxWaitTime: 20s\n").await;
    let ws = tempfile::tempdir().unwrap();

    let started = Instant::now();
    h.run(
        "debug:wait",
        json!({"milliseconds": 200}),
        ws.path(),
        RunOpts::default(),
    )
    .await
    .result
    .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));

    let run = h
        .run(
            "debug:wait",
            json!({"seconds": 21}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(
        run.err().contains("maximum threshold of 20s"),
        "{}",
        run.err()
    );
    let run = h
        .run(
            "debug:wait",
            json!({"minutes": -1}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(matches!(run.result, Err(ActionError::InvalidInput(_))));

    // Cancelled 300 ms into a 19 s wait: it ends right away.
    let signal = CancellationToken::new();
    let cancel = signal.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let run = h
        .run(
            "debug:wait",
            json!({"seconds": 19}),
            ws.path(),
            RunOpts {
                signal: Some(signal),
                ..RunOpts::default()
            },
        )
        .await;
    let took = started.elapsed();
    assert!(
        matches!(run.result, Err(ActionError::Cancelled)),
        "{:?}",
        run.result
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

/// Serves `catalog-info.yaml` of a fake repository at `/repo/…`.
async fn serve_repo(entity_yaml: String) -> String {
    let app = Router::new().route(
        "/repo/catalog-info.yaml",
        get(move || {
            let y = entity_yaml.clone();
            async move { y }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn catalog_write_writes_the_entity_with_its_template() {
    let h = Harness::start("").await;
    let (ws, outside) = workspace_with_escape_hatch();
    let entity = json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "svc", "annotations": {"a": "b"}},
        "spec": {"type": "service", "lifecycle": "experimental", "owner": "team-a"}
    });
    let run = h
        .run(
            "catalog:write",
            json!({"entity": entity}),
            ws.path(),
            RunOpts {
                template_ref: Some("template:default/svc-template".into()),
                ..RunOpts::default()
            },
        )
        .await;
    run.result.as_ref().unwrap();
    let written: Value = serde_yaml::from_str(
        &std::fs::read_to_string(ws.path().join("catalog-info.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(written["metadata"]["name"], "svc");
    assert_eq!(written["metadata"]["annotations"]["a"], "b");
    assert_eq!(
        written["metadata"]["annotations"]["backstage.io/source-template"],
        "template:default/svc-template"
    );

    h.run(
        "catalog:write",
        json!({"filePath": "deploy/entity.yaml", "entity": entity}),
        ws.path(),
        RunOpts::default(),
    )
    .await
    .result
    .unwrap();
    assert!(ws.path().join("deploy/entity.yaml").exists());

    for bad in ["../x.yaml", "/tmp/x.yaml", "link/x.yaml"] {
        let run = h
            .run(
                "catalog:write",
                json!({"filePath": bad, "entity": entity}),
                ws.path(),
                RunOpts::default(),
            )
            .await;
        assert!(
            matches!(run.result, Err(ActionError::PathEscape(_))),
            "{bad}"
        );
    }
    assert!(!outside.path().join("x.yaml").exists());
}

#[tokio::test]
async fn catalog_register_and_fetch_use_the_catalog_as_the_user() {
    let repo = serve_repo(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: registered-svc\nspec:\n  type: service\n  lifecycle: experimental\n  owner: team-a\n"
            .to_string(),
    )
    .await;
    let host = repo.trim_start_matches("http://");
    let h = Harness::start(&format!(
        "backend:\n  reading:\n    allow:\n      - host: '{host}'\n"
    ))
    .await;
    let ws = tempfile::tempdir().unwrap();

    let run = h
        .run(
            "catalog:register",
            json!({"repoContentsUrl": format!("{repo}/repo")}),
            ws.path(),
            user(),
        )
        .await;
    run.result.as_ref().unwrap();
    let url = format!("{repo}/repo/catalog-info.yaml");
    assert_eq!(run.outputs["catalogInfoUrl"], url);
    assert_eq!(run.outputs["entityRef"], "component:default/registered-svc");

    // Registering again is a conflict, unless optional.
    let run = h
        .run(
            "catalog:register",
            json!({"catalogInfoUrl": url}),
            ws.path(),
            user(),
        )
        .await;
    assert!(run.err().contains("409"), "{}", run.err());
    let run = h
        .run(
            "catalog:register",
            json!({"catalogInfoUrl": url, "optional": true}),
            ws.path(),
            user(),
        )
        .await;
    run.result.as_ref().unwrap();
    assert_eq!(run.outputs["entityRef"], "component:default/registered-svc");

    // Without credentials the catalog is not called on anyone's behalf.
    let run = h
        .run(
            "catalog:register",
            json!({"catalogInfoUrl": format!("{repo}/repo/other.yaml")}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(run.result.is_err());

    // The entity appears once processed; catalog:fetch reads it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let entity = loop {
        let run = h
            .run(
                "catalog:fetch",
                json!({"entityRef": "registered-svc", "defaultKind": "component", "optional": true}),
                ws.path(),
                user(),
            )
            .await;
        run.result.as_ref().unwrap();
        if !run.outputs["entity"].is_null() {
            break run.outputs["entity"].clone();
        }
        assert!(Instant::now() < deadline, "the entity never appeared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(entity["spec"]["owner"], "team-a");

    let run = h
        .run(
            "catalog:fetch",
            json!({"entityRefs": ["component:default/registered-svc", "missing"], "defaultKind": "component", "optional": true}),
            ws.path(),
            user(),
        )
        .await;
    run.result.as_ref().unwrap();
    let entities = run.outputs["entities"].as_array().unwrap();
    assert_eq!(entities[0]["metadata"]["name"], "registered-svc");
    assert!(entities[1].is_null());

    let run = h
        .run(
            "catalog:fetch",
            json!({"entityRef": "component:default/missing"}),
            ws.path(),
            user(),
        )
        .await;
    assert!(run.err().contains("not found"), "{}", run.err());
    let run = h
        .run(
            "catalog:fetch",
            json!({"entityRef": "no-kind"}),
            ws.path(),
            user(),
        )
        .await;
    assert!(matches!(run.result, Err(ActionError::InvalidInput(_))));
    let run = h.run("catalog:fetch", json!({}), ws.path(), user()).await;
    assert!(
        run.err().contains("Missing entity reference"),
        "{}",
        run.err()
    );
}

#[tokio::test]
async fn the_actions_describe_themselves_like_backstages() {
    let h = Harness::start("").await;
    for id in [
        "fs:delete",
        "fs:rename",
        "debug:log",
        "debug:wait",
        "catalog:register",
        "catalog:write",
        "catalog:fetch",
        "publish:git",
        "publish:github",
        "publish:gitlab",
    ] {
        let a = h.action(id);
        assert!(a.description().is_some(), "{id}");
        assert!(!a.examples().is_empty(), "{id}");
        let schema = a
            .input_schema()
            .unwrap_or_else(|| panic!("{id} has an input schema"));
        // Every example's step input validates against the schema.
        let validator = jsonschema::validator_for(&schema).unwrap();
        for ex in a.examples() {
            let doc: Value = serde_yaml::from_str(&ex.example).unwrap();
            for step in doc["steps"].as_array().unwrap() {
                assert_eq!(step["action"], id);
                let input = step.get("input").cloned().unwrap_or(json!({}));
                assert!(validator.is_valid(&input), "{id}: {input}");
            }
        }
    }
}

#[tokio::test]
async fn a_limit_set_wrong_in_config_fails_the_action_instead_of_lifting_it() {
    let h = Harness::start(
        "scaffolder:\n  actions:\n    debugWait:\n      maxWaitTime: soon\n    fs:\n      maxEntries: many\n",
    )
    .await;
    let ws = tempfile::tempdir().unwrap();
    let run = h
        .run(
            "debug:wait",
            json!({"milliseconds": 1}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(run.err().contains("maxWaitTime"), "{}", run.err());
    let run = h
        .run(
            "fs:delete",
            json!({"files": ["*.txt"]}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(run.err().contains("maxEntries"), "{}", run.err());
}
