//! The `fetch:*` actions as `builtin_actions` gives them, run with a real URL reader over
//! skeletons in a temporary directory: the exact files written (names, contents, modes), every
//! way out of the workspace, binary files, and the limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use backlot::plugins::catalog::common::{
    CatalogClientError, Entity, EntityRef, QueryEntitiesRequest, QueryEntitiesResponse,
};
use backlot::plugins::catalog::node::CatalogApi;
use backlot::plugins::scaffolder::backend::{BuiltinActionDeps, builtin_actions};
use backlot::plugins::scaffolder::common::TemplateInfo;
use backlot::plugins::scaffolder::node::{
    ActionContext, ActionError, ActionLogSink, ActionLogger, TemplateAction, TemplatingExtensions,
};
use backlot::services::auth::Credentials;
use backlot::services::config::Config;
use backlot::services::url_reader::UrlReaders;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct NoCatalog;

#[async_trait]
impl CatalogApi for NoCatalog {
    async fn entity_by_ref(
        &self,
        _: &EntityRef,
        _: &Credentials,
    ) -> Result<Option<Entity>, CatalogClientError> {
        Ok(None)
    }
    async fn query_entities(
        &self,
        _: &QueryEntitiesRequest,
        _: &Credentials,
    ) -> Result<QueryEntitiesResponse, CatalogClientError> {
        Ok(QueryEntitiesResponse::default())
    }
}

#[derive(Debug, Default)]
struct Lines(Mutex<Vec<String>>);

impl ActionLogSink for Lines {
    fn log(&self, _level: &str, message: &str) {
        self.0.lock().push(message.to_string());
    }
}

/// An allowed root holding `templates/template.yaml` and its skeletons, and a workspace.
struct Setup {
    root: tempfile::TempDir,
    workspace: tempfile::TempDir,
    temp: tempfile::TempDir,
    config: Value,
}

impl Setup {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("templates")).unwrap();
        std::fs::write(
            root.path().join("templates/template.yaml"),
            "kind: Template\n",
        )
        .unwrap();
        Self {
            root,
            workspace: tempfile::tempdir().unwrap(),
            temp: tempfile::tempdir().unwrap(),
            config: json!({}),
        }
    }

    fn templates(&self) -> PathBuf {
        self.root.path().join("templates")
    }

    /// Writes a file of a skeleton (`skeleton/relative`) with a mode.
    fn file(&self, rel: &str, content: &[u8], mode: u32) {
        let path = self.templates().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn deps(&self) -> BuiltinActionDeps {
        let reader = UrlReaders::builder()
            .base_dir(self.root.path())
            .file_roots([self.root.path().to_path_buf()])
            .build()
            .unwrap();
        BuiltinActionDeps {
            config: Arc::new(Config::from_value(self.config.clone())),
            reader: Arc::new(reader),
            catalog: Arc::new(NoCatalog),
            templating: Arc::new(TemplatingExtensions::default()),
        }
    }

    fn action(&self, id: &str) -> Arc<dyn TemplateAction> {
        builtin_actions(&self.deps())
            .into_iter()
            .find(|a| a.id() == id)
            .unwrap_or_else(|| panic!("{id} is a built-in action"))
    }

    fn context(&self, input: Value) -> (ActionContext, Arc<Lines>) {
        let lines = Arc::new(Lines::default());
        let mut ctx = ActionContext::new(
            input,
            self.workspace.path().to_path_buf(),
            self.temp.path().to_path_buf(),
            ActionLogger::new(lines.clone(), Vec::new()),
            "task".to_string(),
            "step".to_string(),
            CancellationToken::new(),
        );
        let base = url::Url::from_file_path(self.templates().join("template.yaml")).unwrap();
        ctx.template_info = Some(TemplateInfo {
            entity_ref: "template:default/t".to_string(),
            base_url: Some(base.to_string()),
            entity: None,
        });
        (ctx, lines)
    }

    async fn run(&self, id: &str, input: Value) -> Result<Arc<Lines>, ActionError> {
        let (mut ctx, lines) = self.context(input);
        self.action(id).handler(&mut ctx).await.map(|()| lines)
    }

    /// Every file below the workspace: relative path → (content, mode).
    fn written(&self) -> BTreeMap<String, (Vec<u8>, u32)> {
        let mut out = BTreeMap::new();
        walk(self.workspace.path(), self.workspace.path(), &mut out);
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(
                rel,
                (
                    std::fs::read(&path).unwrap(),
                    meta.permissions().mode() & 0o777,
                ),
            );
        }
    }
}

fn copy_fixture(name: &str, to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scaffolder/skeletons")
        .join(name);
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
                std::fs::set_permissions(
                    to.join(e.file_name()),
                    std::fs::Permissions::from_mode(0o644),
                )
                .unwrap();
            }
        }
    }
    copy(&from, to);
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR${{ values.name }}\xff\xfe\x00";

fn values() -> Value {
    json!({
        "name": "payments",
        "description": "Takes money.",
        "owner": "group:default/team-a",
        "public": true,
        "replicas": 3,
        "tags": ["rust", "web"],
        "optional": "",
    })
}

#[tokio::test]
async fn fetch_template_renders_names_and_contents() {
    let s = Setup::new();
    copy_fixture("basic", &s.templates().join("skeleton"));
    s.file("skeleton/bin/logo.png", PNG, 0o644);
    s.file(
        "skeleton/scripts/run.sh",
        b"#!/bin/sh\necho ${{ values.name }}\n",
        0o755,
    );
    s.file(
        "skeleton/${{ values.missing }}",
        b"skipped: the name renders empty",
        0o644,
    );
    let lines = s
        .run(
            "fetch:template",
            json!({
                "url": "./skeleton",
                "values": values(),
                "copyWithoutTemplating": ["static/*"],
            }),
        )
        .await
        .unwrap();
    let written = s.written();
    let expected: BTreeMap<String, (Vec<u8>, u32)> = [
        (
            "README.md",
            b"# payments\n\nTakes money.\n\nThis component is public.\n\nOwner: team-a\n".to_vec(),
            0o644,
        ),
        (
            "payments/index.js",
            b"module.exports = { name: \"payments\", replicas: 3 };\n".to_vec(),
            0o644,
        ),
        (
            "static/payments.txt",
            b"Deploy with ${{ github.token }} as written.\n".to_vec(),
            0o644,
        ),
        ("docs/tags.md", b"- rust\n- web\n".to_vec(), 0o644),
        ("bin/logo.png", PNG.to_vec(), 0o644),
        (
            "scripts/run.sh",
            b"#!/bin/sh\necho payments\n".to_vec(),
            0o755,
        ),
    ]
    .into_iter()
    .map(|(k, c, m)| (k.to_string(), (c, m)))
    .collect();
    assert_eq!(written, expected);
    let lines = lines.0.lock();
    assert!(
        lines.iter().any(|l| l.contains("without processing")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn target_path_replace_and_block_options() {
    let s = Setup::new();
    s.file(
        "skel/a.txt",
        b"{% if values.x %}\n  x=${{ values.x }}\n{% endif %}\n",
        0o644,
    );
    std::fs::create_dir_all(s.workspace.path().join("out")).unwrap();
    std::fs::write(s.workspace.path().join("out/a.txt"), "kept").unwrap();
    let input = json!({"url": "./skel", "targetPath": "out", "values": {"x": 1}});
    s.run("fetch:template", input.clone()).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(s.workspace.path().join("out/a.txt")).unwrap(),
        "kept"
    );

    let mut replace = input.clone();
    replace["replace"] = json!(true);
    s.run("fetch:template", replace.clone()).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(s.workspace.path().join("out/a.txt")).unwrap(),
        "\n  x=1\n\n"
    );

    replace["trimBlocks"] = json!(true);
    replace["lstripBlocks"] = json!(true);
    s.run("fetch:template", replace).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(s.workspace.path().join("out/a.txt")).unwrap(),
        "  x=1\n"
    );
}

#[tokio::test]
async fn template_file_extension_and_copy_without_render() {
    let s = Setup::new();
    s.file(
        "skel/${{ values.name }}.txt.njk",
        b"hello ${{ values.name }}",
        0o644,
    );
    s.file(
        "skel/plain-${{ values.name }}.txt",
        b"raw ${{ values.name }}",
        0o644,
    );
    s.run(
        "fetch:template",
        json!({"url": "./skel", "values": {"name": "n"}, "templateFileExtension": true, "targetPath": "ext"}),
    )
    .await
    .unwrap();
    s.run(
        "fetch:template",
        json!({"url": "./skel", "values": {"name": "n"}, "templateFileExtension": "txt", "targetPath": "txt"}),
    )
    .await
    .unwrap();
    s.run(
        "fetch:template",
        json!({"url": "./skel", "values": {"name": "n"}, "copyWithoutRender": ["plain-*"], "targetPath": "cwr"}),
    )
    .await
    .unwrap();
    let written: BTreeMap<String, String> = s
        .written()
        .into_iter()
        .map(|(k, (c, _))| (k, String::from_utf8(c).unwrap()))
        .collect();
    let expected: BTreeMap<String, String> = [
        ("ext/n.txt", "hello n"),
        ("ext/plain-n.txt", "raw ${{ values.name }}"),
        ("txt/n.txt.njk", "hello ${{ values.name }}"),
        ("txt/plain-n", "raw n"),
        ("cwr/n.txt.njk", "hello n"),
        ("cwr/plain-${{ values.name }}.txt", "raw ${{ values.name }}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(written, expected);

    let err = s
        .run(
            "fetch:template",
            json!({"url": "./skel", "copyWithoutRender": ["a"], "copyWithoutTemplating": ["b"]}),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::InvalidInput(_)), "{err}");
    let err = s
        .run(
            "fetch:template",
            json!({"url": "./skel", "templateFileExtension": true, "cookiecutterCompat": true}),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::InvalidInput(_)), "{err}");
}

#[tokio::test]
async fn cookiecutter_compat() {
    let s = Setup::new();
    s.file(
        "skel/{{ cookiecutter.name }}.md",
        b"# {{ cookiecutter.name }} {{ cookiecutter.tags | jsonify }}",
        0o644,
    );
    s.run(
        "fetch:template",
        json!({"url": "./skel", "cookiecutterCompat": true, "values": {"name": "cc", "tags": ["a"]}}),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(s.workspace.path().join("cc.md")).unwrap(),
        "# cc [\"a\"]"
    );
}

fn assert_escape(r: Result<Arc<Lines>, ActionError>, what: &str) {
    match r {
        Err(ActionError::PathEscape(_)) => {}
        other => panic!("{what}: expected a path escape, got {other:?}"),
    }
}

#[tokio::test]
async fn every_way_out_of_the_workspace_is_refused() {
    let s = Setup::new();
    s.file("skel/${{ values.evil }}", b"pwned", 0o644);
    s.file("skel/ok.txt", b"ok", 0o644);
    let outside = tempfile::tempdir().unwrap();

    for target in ["../x", "/abs", "a/../../x"] {
        for id in ["fetch:template", "fetch:plain", "fetch:plain:file"] {
            let url = if id == "fetch:plain:file" {
                "./skel/ok.txt"
            } else {
                "./skel"
            };
            assert_escape(
                s.run(
                    id,
                    json!({"url": url, "targetPath": target, "values": {"evil": "fine"}}),
                )
                .await,
                &format!("{id} targetPath {target}"),
            );
        }
    }
    for evil in ["../x", "../../x", "a/../../x", "/etc/x", "//x"] {
        assert_escape(
            s.run(
                "fetch:template",
                json!({"url": "./skel", "values": {"evil": evil}}),
            )
            .await,
            &format!("a file name rendering to {evil}"),
        );
    }
    // A symlink in the workspace that leads out of it.
    std::os::unix::fs::symlink(outside.path(), s.workspace.path().join("link")).unwrap();
    for id in ["fetch:template", "fetch:plain"] {
        assert_escape(
            s.run(
                id,
                json!({"url": "./skel", "targetPath": "link", "values": {"evil": "fine"}}),
            )
            .await,
            &format!("{id} into a symlink"),
        );
    }
    assert_escape(
        s.run(
            "fetch:plain:file",
            json!({"url": "./skel/ok.txt", "targetPath": "link/ok.txt"}),
        )
        .await,
        "fetch:plain:file into a symlink",
    );
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "nothing written outside"
    );
    assert!(
        !s.root.path().join("x").exists()
            && !s.workspace.path().parent().unwrap().join("x").exists()
    );
}

#[tokio::test]
async fn symlinks_in_a_skeleton_that_lead_out_of_it_are_refused() {
    let s = Setup::new();
    s.file("skel/ok.txt", b"ok", 0o644);
    // Inside the reader's allowed root but outside the skeleton.
    std::fs::write(s.root.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(
        s.root.path().join("secret.txt"),
        s.templates().join("skel/leak.txt"),
    )
    .unwrap();
    for id in ["fetch:template", "fetch:plain"] {
        assert_escape(s.run(id, json!({"url": "./skel"})).await, id);
    }
    assert!(!s.workspace.path().join("leak.txt").exists());

    // Outside the reader's roots altogether: the reader never reads it.
    let s = Setup::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("passwd"), "root:x").unwrap();
    s.file("skel/ok.txt", b"ok", 0o644);
    std::os::unix::fs::symlink(
        outside.path().join("passwd"),
        s.templates().join("skel/passwd"),
    )
    .unwrap();
    s.run("fetch:plain", json!({"url": "./skel"}))
        .await
        .unwrap();
    assert!(!s.workspace.path().join("passwd").exists());

    // A link to a file inside the skeleton is fine: its content is copied.
    let s = Setup::new();
    s.file("skel/real.txt", b"${{ values.x }}", 0o644);
    std::os::unix::fs::symlink("real.txt", s.templates().join("skel/alias.txt")).unwrap();
    s.run(
        "fetch:template",
        json!({"url": "./skel", "values": {"x": "y"}}),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(s.workspace.path().join("alias.txt")).unwrap(),
        "y"
    );
}

#[tokio::test]
async fn urls_resolve_against_the_template_and_respect_the_reader() {
    let s = Setup::new();
    s.file("skel/ok.txt", b"ok", 0o644);
    let abs = url::Url::from_file_path(s.templates().join("skel"))
        .unwrap()
        .to_string();
    s.run("fetch:plain", json!({"url": abs, "targetPath": "abs"}))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(s.workspace.path().join("abs/ok.txt")).unwrap(),
        "ok"
    );

    let err = s
        .run("fetch:plain", json!({"url": "/etc"}))
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::InvalidInput(_)), "{err}");
    // Outside the reader's fileAllow roots.
    let err = s
        .run("fetch:plain", json!({"url": "../../../../../../etc"}))
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::Failed(_)), "{err}");
    let err = s
        .run(
            "fetch:plain:file",
            json!({"url": "../../../../../../etc/hostname", "targetPath": "h"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ActionError::Failed(_) | ActionError::NotFound(_)),
        "{err}"
    );
    let err = s
        .run(
            "fetch:plain:file",
            json!({"url": "./skel/missing.txt", "targetPath": "m"}),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::NotFound(_)), "{err}");
    assert!(!s.workspace.path().join("h").exists());

    let (mut ctx, _) = s.context(json!({"url": "./skel"}));
    ctx.template_info = None;
    let err = s.action("fetch:plain").handler(&mut ctx).await.unwrap_err();
    assert!(matches!(err, ActionError::InvalidInput(_)), "{err}");
}

#[tokio::test]
async fn fetch_plain_and_plain_file_copy_bytes_and_modes() {
    let s = Setup::new();
    s.file("skel/bin/logo.png", PNG, 0o600);
    s.file("skel/run.sh", b"#!/bin/sh\necho ${{ x }}\n", 0o755);
    s.run("fetch:plain", json!({"url": "./skel", "targetPath": "p"}))
        .await
        .unwrap();
    s.run(
        "fetch:plain:file",
        json!({"url": "./skel/bin/logo.png", "targetPath": "f/logo.png"}),
    )
    .await
    .unwrap();
    let written = s.written();
    assert_eq!(written["p/bin/logo.png"], (PNG.to_vec(), 0o600));
    assert_eq!(
        written["p/run.sh"],
        (b"#!/bin/sh\necho ${{ x }}\n".to_vec(), 0o755)
    );
    assert_eq!(written["f/logo.png"].0, PNG.to_vec());
    assert_eq!(written.len(), 3);
}

#[tokio::test]
async fn limits_from_config() {
    let mut s = Setup::new();
    for i in 0..3 {
        s.file(&format!("skel/f{i}.txt"), b"0123456789", 0o644);
    }
    s.config = json!({"scaffolder": {"fetch": {"maxFiles": 2}}});
    for id in ["fetch:template", "fetch:plain"] {
        let err = s.run(id, json!({"url": "./skel"})).await.unwrap_err();
        assert!(
            err.to_string().contains("scaffolder.fetch.maxFiles"),
            "{id}: {err}"
        );
    }
    s.config = json!({"scaffolder": {"fetch": {"maxBytes": 25}}});
    for id in ["fetch:template", "fetch:plain"] {
        let err = s.run(id, json!({"url": "./skel"})).await.unwrap_err();
        assert!(
            err.to_string().contains("scaffolder.fetch.maxBytes"),
            "{id}: {err}"
        );
    }
    let err = s
        .run(
            "fetch:plain:file",
            json!({"url": "./skel/f0.txt", "targetPath": "x"}),
        )
        .await;
    assert!(err.is_ok(), "one 10-byte file is within 25 bytes");
    assert!(s.written().len() == 1);

    // What rendering produces counts too.
    let mut s = Setup::new();
    s.file(
        "skel/bomb.txt",
        b"{% for i in range(100) %}${{ values.x }}{% endfor %}",
        0o644,
    );
    s.config = json!({"scaffolder": {"fetch": {"maxBytes": 1000}}});
    let err = s
        .run(
            "fetch:template",
            json!({"url": "./skel", "values": {"x": "0123456789abcdef"}}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("scaffolder.fetch.maxBytes"),
        "{err}"
    );
    s.config = json!({"scaffolder": {"templating": {"maxOutputSize": 100}}});
    let err = s
        .run(
            "fetch:template",
            json!({"url": "./skel", "values": {"x": "0123456789abcdef"}}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("maxOutputSize"), "{err}");
    assert!(s.written().is_empty());

    s.config = json!({"scaffolder": {"fetch": {"maxFiles": "many"}}});
    assert!(
        s.run("fetch:plain", json!({"url": "./skel"}))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn cancelled_and_described() {
    let s = Setup::new();
    s.file("skel/a.txt", b"a", 0o644);
    let (mut ctx, _) = s.context(json!({"url": "./skel"}));
    ctx.signal.cancel();
    let err = s
        .action("fetch:template")
        .handler(&mut ctx)
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::Cancelled), "{err}");

    for id in ["fetch:plain", "fetch:plain:file", "fetch:template"] {
        let a = s.action(id);
        assert!(a.supports_dry_run(), "{id}");
        assert!(a.description().is_some(), "{id}");
        assert!(!a.examples().is_empty(), "{id}");
        let schema = a.input_schema().unwrap();
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .contains(&json!("url")),
            "{id}"
        );
        assert!(a.output_schema().is_some(), "{id}");
    }
}
