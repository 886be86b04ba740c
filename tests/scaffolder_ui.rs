#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]
//! The scaffolder pages over HTTP: a backend with the catalog (the demo catalog's groups,
//! systems and templates, plus test templates) and the app with the scaffolder frontend
//! plugin. The scaffolder API is a recording stand-in installed as
//! `api:plugin.scaffolder.service`: it answers parameter schemas from the same template
//! YAML the catalog reads, records what the pages send and serves prepared tasks, so these
//! tests check the pages alone (`tests/scaffolder_browser.rs` runs the real backend).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use backlot::backend::Feature;
use backlot::frontend::{ApiBlueprint, ApiFactory, App};
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::common::EntityRef;
use backlot::plugins::scaffolder::common::{SerializedTask, SerializedTaskEvent};
use backlot::plugins::scaffolder::frontend::scaffolder_frontend_plugin;
use backlot::plugins::scaffolder::react::{
    ListTasksRequest, ListTasksResponse, ParameterStep, SCAFFOLDER_API, ScaffoldRequest,
    ScaffolderApi, ScaffolderApiError, TemplateParameterSchema, ValidationError,
};
use backlot::testing::TestBackend;
use serde_json::{Value, json};

const TEST_TEMPLATES: &str = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: kitchen-sink
  title: Kitchen sink
  description: Every kind of field.
  tags: [testing]
spec:
  owner: platform-engineering
  type: library
  parameters:
  - title: Basics
    required: [name, owner, count]
    ui:order: [name, summary, notes, count, ratio, public, language, flavour, targets, settings, owner, system]
    properties:
      name:
        title: Component name
        type: string
        ui:field: EntityNamePicker
        ui:autofocus: true
        ui:help: Lowercase and dashes.
      summary:
        title: Summary
        type: string
        description: One line about it.
        default: A fine library
        minLength: 3
      notes:
        title: Notes
        type: string
        ui:widget: textarea
      count:
        title: Replicas
        type: integer
        minimum: 1
        maximum: 5
      ratio:
        title: Ratio
        type: number
      public:
        title: Public
        type: boolean
      language:
        title: Language
        type: string
        enum: [rust, go]
        enumNames: [Rust, Go]
      flavour:
        title: Flavour
        type: string
        enum: [plain, fancy]
        ui:widget: radio
      targets:
        title: Targets
        type: array
        items:
          type: string
          enum: [linux, macos]
      settings:
        title: Settings
        type: object
        properties:
          verbose:
            title: Verbose
            type: boolean
      owner:
        title: Owner
        type: string
        ui:field: OwnerPicker
        ui:options:
          catalogFilter:
            kind: Group
      system:
        title: System
        type: string
        ui:field: EntityPicker
        ui:options:
          catalogFilter:
            kind: System
          defaultKind: System
      lead:
        title: Lead
        type: string
        ui:field: EntityPicker
        ui:options:
          allowedKinds: [User]
  - title: Publishing
    required: [repoUrl, token]
    properties:
      repoUrl:
        title: Repository
        type: string
        ui:field: RepoUrlPicker
        ui:options:
          allowedHosts: [127.0.0.1:7900]
      token:
        title: Access token
        type: string
        ui:field: Secret
      internal:
        title: Internal note
        type: string
        default: do-not-show
        ui:backstage:
          review:
            show: false
  steps:
  - id: log
    name: Log
    action: debug:log
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: hostile
  title: "<script>alert('title')</script>"
  description: "<img src=x onerror=alert('desc')>"
  tags: [testing]
spec:
  owner: platform-engineering
  type: "<b>type</b>"
  parameters:
  - title: "<i>step</i>"
    properties:
      evil:
        title: "<script>alert('field')</script>"
        type: string
        description: "\"><svg onload=alert(1)>"
  steps:
  - id: log
    action: debug:log
"#;

/// The scaffolder API as the pages see it: schemas from the template YAML, tasks prepared by
/// the test, every call recorded.
#[derive(Debug, Default)]
struct Recorder {
    schemas: HashMap<String, TemplateParameterSchema>,
    tasks: Mutex<HashMap<String, (SerializedTask, Vec<SerializedTaskEvent>)>>,
    scaffolded: Mutex<Vec<ScaffoldRequest>>,
    cancelled: Mutex<Vec<String>>,
    retried: Mutex<Vec<String>>,
    listed: Mutex<Vec<ListTasksRequest>>,
}

impl Recorder {
    fn from_yaml(texts: &[&str]) -> Self {
        let mut schemas = HashMap::new();
        for text in texts {
            for doc in serde_yaml::Deserializer::from_str(text) {
                let v: Value = serde::Deserialize::deserialize(doc).unwrap();
                let name = v["metadata"]["name"].as_str().unwrap().to_string();
                let steps = match &v["spec"]["parameters"] {
                    Value::Array(a) => a.clone(),
                    Value::Null => vec![],
                    other => vec![other.clone()],
                };
                let steps = steps
                    .into_iter()
                    .map(|s| ParameterStep::new(s["title"].as_str().unwrap_or("").to_string(), s))
                    .collect();
                let mut schema = TemplateParameterSchema::new(
                    v["metadata"]["title"].as_str().unwrap_or(&name),
                    steps,
                );
                schema.description = v["metadata"]["description"].as_str().map(str::to_string);
                schemas.insert(format!("template:default/{name}"), schema);
            }
        }
        Self {
            schemas,
            ..Self::default()
        }
    }
}

fn not_found(what: &str) -> ScaffolderApiError {
    ScaffolderApiError::Response {
        url: what.to_string(),
        status: 404,
        name: "NotFoundError".to_string(),
        message: format!("{what} not found"),
    }
}

#[async_trait::async_trait]
impl ScaffolderApi for Recorder {
    async fn get_template_parameter_schema(
        &self,
        template: &EntityRef,
    ) -> Result<TemplateParameterSchema, ScaffolderApiError> {
        self.schemas
            .get(&template.to_string())
            .cloned()
            .ok_or_else(|| not_found(&template.to_string()))
    }

    async fn scaffold(&self, request: &ScaffoldRequest) -> Result<String, ScaffolderApiError> {
        if request.values.get("name") == Some(&json!("taken")) {
            let e: ValidationError = serde_json::from_value(json!({
                "property": "instance.name", "name": "pattern", "message": "is already taken"
            }))
            .unwrap();
            return Err(ScaffolderApiError::Validation { errors: vec![e] });
        }
        let mut all = self.scaffolded.lock().unwrap();
        all.push(request.clone());
        Ok(format!("task-{}", all.len()))
    }

    async fn get_task(&self, task_id: &str) -> Result<SerializedTask, ScaffolderApiError> {
        self.tasks
            .lock()
            .unwrap()
            .get(task_id)
            .map(|t| t.0.clone())
            .ok_or_else(|| not_found(task_id))
    }

    async fn list_tasks(
        &self,
        request: &ListTasksRequest,
    ) -> Result<ListTasksResponse, ScaffolderApiError> {
        self.listed.lock().unwrap().push(request.clone());
        let tasks: Vec<SerializedTask> = self
            .tasks
            .lock()
            .unwrap()
            .values()
            .map(|t| t.0.clone())
            .filter(|t| {
                request.created_by.is_empty()
                    || t.created_by
                        .as_ref()
                        .is_some_and(|c| request.created_by.contains(c))
            })
            .collect();
        Ok(serde_json::from_value(json!({ "tasks": tasks, "totalTasks": tasks.len() })).unwrap())
    }

    async fn cancel_task(&self, task_id: &str) -> Result<(), ScaffolderApiError> {
        self.cancelled.lock().unwrap().push(task_id.to_string());
        Ok(())
    }

    async fn retry(
        &self,
        task_id: &str,
        _secrets: &serde_json::Map<String, Value>,
    ) -> Result<String, ScaffolderApiError> {
        self.retried.lock().unwrap().push(task_id.to_string());
        Ok(task_id.to_string())
    }

    async fn list_events(
        &self,
        task_id: &str,
        _after: Option<i64>,
    ) -> Result<Vec<SerializedTaskEvent>, ScaffolderApiError> {
        Ok(self
            .tasks
            .lock()
            .unwrap()
            .get(task_id)
            .map(|t| t.1.clone())
            .unwrap_or_default())
    }
}

struct Env {
    backend: TestBackend,
    api: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

fn write_catalog(dir: &Path) -> std::path::PathBuf {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog");
    for f in ["org.yaml", "systems.yaml", "templates.yaml"] {
        std::fs::copy(demo.join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("test-templates.yaml"), TEST_TEMPLATES).unwrap();
    let all = dir.join("all.yaml");
    std::fs::write(
        &all,
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: t\nspec:\n  targets: [./org.yaml, ./systems.yaml, ./templates.yaml, ./test-templates.yaml]\n",
    )
    .unwrap();
    all
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let all = write_catalog(dir.path());
    let demo_templates = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog/templates.yaml"),
    )
    .unwrap();
    let api = Arc::new(Recorder::from_yaml(&[&demo_templates, TEST_TEMPLATES]));
    let instance: Arc<dyn ScaffolderApi> = api.clone();
    let backend = TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(app_plugin(
            App::builder()
                .feature(backlot::plugins::catalog::frontend::plugin())
                .feature(scaffolder_frontend_plugin())
                .extension(ApiBlueprint::make(ApiFactory::instance(&SCAFFOLDER_API, instance))),
        ))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\ncatalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {}\n",
            all.display()
        ))
        .start()
        .await
        .unwrap();
    Env {
        backend,
        api,
        _dir: dir,
    }
}

/// Posts a form like the app's own page would (same origin), without following redirects.
async fn post_form(
    env: &Env,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = env.backend.url(path);
    let origin = env.backend.url("").trim_end_matches('/').to_string();
    let res = http
        .post(&url)
        .header("origin", origin)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, location, res.text().await.unwrap())
}

fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn create_lists_the_templates_as_cards_with_filters() {
    let env = env().await;
    let res = env.backend.client().get("/create").await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text();
    assert!(
        body.contains(">Create...</a>") || body.contains("Create..."),
        "nav item"
    );
    for name in ["rust-service", "docs-site", "kitchen-sink", "hostile"] {
        assert!(
            body.contains(&format!("data-template=\"{name}\"")),
            "{name}: {body}"
        );
    }
    assert!(body.contains("Rust service"));
    assert!(body.contains("A new Rust service on the paved road"));
    assert!(body.contains("href=\"/create/templates/default/rust-service\""));
    assert!(
        body.contains("href=\"/catalog/default/group/platform-engineering\""),
        "owner link"
    );
    assert!(body.contains("<li>recommended</li>"), "tags as chips");
    assert!(body.contains("4 of 4 templates"), "{body}");

    let docs = env
        .backend
        .client()
        .get("/create?tag=docs")
        .await
        .unwrap()
        .text();
    assert!(docs.contains("data-template=\"docs-site\""));
    assert!(!docs.contains("data-template=\"rust-service\""));
    let services = env
        .backend
        .client()
        .get("/create?type=service")
        .await
        .unwrap()
        .text();
    assert!(
        services.contains("data-template=\"rust-service\"")
            && services.contains("1 of 4 templates")
    );
    let text = env
        .backend
        .client()
        .get("/create?q=EVERY+kind")
        .await
        .unwrap()
        .text();
    assert!(text.contains("data-template=\"kitchen-sink\"") && text.contains("1 of 4 templates"));
    let none = env
        .backend
        .client()
        .get("/create?q=nothing-like-this")
        .await
        .unwrap()
        .text();
    assert!(none.contains("No templates match"));
}

#[tokio::test]
async fn hostile_template_strings_are_escaped() {
    let env = env().await;
    for path in ["/create", "/create/templates/default/hostile"] {
        let body = env.backend.client().get(path).await.unwrap().text();
        assert!(!body.contains("<script>alert"), "{path}: {body}");
        assert!(!body.contains("<img src=x"), "{path}");
        assert!(!body.contains("<svg onload"), "{path}");
        assert!(
            !body.contains("<b>type</b>") && !body.contains("<i>step</i>"),
            "{path}"
        );
    }
    let form = env
        .backend
        .client()
        .get("/create/templates/default/hostile")
        .await
        .unwrap()
        .text();
    assert!(
        form.contains("&lt;script&gt;alert('field')&lt;/script&gt;"),
        "{form}"
    );
    assert!(form.contains("&lt;i&gt;step&lt;/i&gt;"));
}

#[tokio::test]
async fn the_form_renders_every_field_type_and_extension() {
    let env = env().await;
    let res = env
        .backend
        .client()
        .get("/create/templates/default/kitchen-sink")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let b = res.text();
    // Steps and order.
    assert!(
        b.contains("<li aria-current=\"step\">Basics</li>")
            && b.contains("<li>Publishing</li>")
            && b.contains("<li>Review</li>"),
        "{b}"
    );
    let pos = |s: &str| b.find(s).unwrap_or_else(|| panic!("no {s} in {b}"));
    assert!(
        pos("name=\"p.name\"") < pos("name=\"p.summary\"")
            && pos("name=\"p.settings.verbose\"") < pos("name=\"p.owner\"")
    );
    // EntityNamePicker: pattern, autofocus, help, required.
    assert!(b.contains("<input type=\"text\" id=\"f-name\" name=\"p.name\" value=\"\" required pattern=\"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$\" maxlength=\"63\" autofocus"), "{b}");
    assert!(b.contains("Lowercase and dashes."));
    // default, description, minLength; textarea; integer with bounds; number; checkbox.
    assert!(
        b.contains("name=\"p.summary\" value=\"A fine library\"")
            && b.contains("minlength=\"3\"")
            && b.contains("One line about it.")
    );
    assert!(b.contains("<textarea id=\"f-notes\" name=\"p.notes\""));
    assert!(b.contains("type=\"number\" id=\"f-count\" name=\"p.count\" value=\"\" step=\"1\" min=\"1\" max=\"5\" required"), "{b}");
    assert!(b.contains("type=\"number\" id=\"f-ratio\" name=\"p.ratio\" value=\"\" step=\"any\""));
    assert!(b.contains("type=\"checkbox\" id=\"f-public\" name=\"p.public\" value=\"true\""));
    // enum with names as a select; radio; array of enums as checkboxes; object as fieldset.
    assert!(b.contains("<option value=\"rust\">Rust</option><option value=\"go\">Go</option>"));
    assert!(b.contains("type=\"radio\" name=\"p.flavour\" value=\"fancy\""));
    assert!(b.contains("type=\"checkbox\" name=\"p.targets\" value=\"macos\""));
    assert!(b.contains("<fieldset class=\"sc-object\"><legend>Settings</legend>"));
    // OwnerPicker: groups from the catalog; EntityPicker: systems, shortened with defaultKind.
    assert!(
        b.contains("<option value=\"group:default/platform-engineering\">"),
        "{b}"
    );
    let owner_select = &b[pos("name=\"p.owner\"")..];
    let owner_select = &owner_select[..owner_select.find("</select>").unwrap()];
    assert!(!owner_select.contains("user:"), "groups only");
    assert!(b.contains("<option value=\"system:default/billing\">"));
    // allowedKinds: users only, labelled with their kind.
    assert!(
        b.contains("<option value=\"user:default/ada.okafor\">user:ada.okafor</option>"),
        "{b}"
    );
    // OwnerPicker labels leave out the default kind.
    assert!(
        b.contains(
            "<option value=\"group:default/platform-engineering\">platform-engineering</option>"
        ),
        "{b}"
    );
    // Secrets and the repo picker are on the next step.
    assert!(!b.contains("p.token"));
}

#[tokio::test]
async fn steps_are_checked_on_the_server_and_the_review_masks_secrets() {
    let env = env().await;
    let path = "/create/templates/default/kitchen-sink";
    // Bad values: messages beside the fields, values kept, 422.
    let (status, _, b) = post_form(
        &env,
        path,
        &[
            ("_step", "0"),
            ("_values", "{}"),
            ("_action", "next"),
            ("p.name", "Not a name!"),
            ("p.summary", "ab"),
            ("p.count", "9"),
            ("p.language", "cobol"),
            ("p.owner", "group:default/platform-engineering"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{b}");
    assert!(b.contains("Component name must match the pattern"), "{b}");
    assert!(b.contains("Summary must be at least 3 characters"));
    assert!(b.contains("Replicas must be at most 5"));
    assert!(
        b.contains("Language &#39;cobol&#39; is not one of the choices")
            || b.contains("Language 'cobol' is not one of the choices"),
        "{b}"
    );
    assert!(b.contains("value=\"Not a name!\""), "values are kept");
    let (status, _, b) = post_form(
        &env,
        path,
        &[("_step", "0"), ("_values", "{}"), ("_action", "next")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        b.contains("Component name is required")
            && b.contains("Owner is required")
            && b.contains("Replicas is required")
    );

    // Good values: on to the next step, carried in the hidden field.
    let (status, _, b) = post_form(
        &env,
        path,
        &[
            ("_step", "0"),
            ("_values", "{}"),
            ("_action", "next"),
            ("p.name", "parcel-lib"),
            ("p.summary", "Parcels"),
            ("p.count", "3"),
            ("p.ratio", "0.5"),
            ("p.public", "true"),
            ("p.language", "go"),
            ("p.flavour", "fancy"),
            ("p.targets", "linux"),
            ("p.targets", "macos"),
            ("p.settings.verbose", "true"),
            ("p.owner", "group:default/platform-engineering"),
            ("p.system", "system:default/billing"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert!(b.contains("<li aria-current=\"step\">Publishing</li>"));
    assert!(
        b.contains("<select name=\"p.repoUrl.host\" required><option value=\"127.0.0.1:7900\">"),
        "{b}"
    );
    assert!(
        b.contains(
            "type=\"password\" id=\"f-token\" name=\"p.token\" autocomplete=\"off\" required"
        ),
        "{b}"
    );
    let values: Value = serde_json::from_str(&hidden_value(&b, "_values")).unwrap();
    assert_eq!(
        values,
        json!({
            "name": "parcel-lib", "summary": "Parcels", "count": 3, "ratio": 0.5, "public": true,
            "language": "go", "flavour": "fancy", "targets": ["linux", "macos"],
            "settings": { "verbose": true }, "owner": "group:default/platform-engineering",
            "system": "system:default/billing"
        })
    );

    // A repo on a host that is not allowed is refused.
    let carried = values.to_string();
    let (status, _, b) = post_form(
        &env,
        path,
        &[
            ("_step", "1"),
            ("_values", &carried),
            ("_action", "next"),
            ("p.repoUrl.host", "evil.example"),
            ("p.repoUrl.owner", "northwind"),
            ("p.repoUrl.repo", "parcel-lib"),
            ("p.token", "hunter2-secret"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        b.contains("Repository the host must be one of: 127.0.0.1:7900"),
        "{b}"
    );
    assert!(
        !b.contains("hunter2-secret"),
        "a secret is never written back"
    );
    let draft = hidden_value(&b, "_draft");

    // Then the review: values listed, the secret masked, the hidden-in-review field absent.
    let (status, _, b) = post_form(
        &env,
        path,
        &[
            ("_step", "1"),
            ("_values", &carried),
            ("_draft", &draft),
            ("_action", "next"),
            ("p.repoUrl.host", "127.0.0.1:7900"),
            ("p.repoUrl.owner", "northwind"),
            ("p.repoUrl.repo", "parcel-lib"),
            ("p.internal", "do-not-show"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert!(b.contains("<h2 class=\"bl-card-title\">Review</h2>"), "{b}");
    assert!(b.contains("<dt>Component name</dt><dd data-field=\"name\">parcel-lib</dd>"));
    assert!(b.contains("<dd data-field=\"language\">Go</dd>"));
    assert!(b.contains("<dd data-field=\"targets\">linux, macos</dd>"));
    assert!(b.contains("<dd data-field=\"public\">Yes</dd>"));
    assert!(b.contains(
        "<dd data-field=\"repoUrl\">127.0.0.1:7900?owner=northwind&amp;repo=parcel-lib</dd>"
    ));
    assert!(
        b.contains("<dd data-field=\"token\"><span class=\"sc-masked\">••••••</span></dd>"),
        "{b}"
    );
    assert!(!b.contains("Internal note") && !b.contains("data-field=\"internal\""));
    assert!(!b.contains("hunter2-secret"));
    let values = hidden_value(&b, "_values");
    let carried: Value = serde_json::from_str(&values).unwrap();
    assert_eq!(
        carried["token"], "**************",
        "only a mask in the page"
    );
    let draft = hidden_value(&b, "_draft");

    // Create: the task is started with the values and the secret, then the task page.
    let (status, location, _) = post_form(
        &env,
        path,
        &[
            ("_step", "2"),
            ("_values", &values),
            ("_draft", &draft),
            ("_action", "create"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/create/tasks/task-1"));
    let sent = env.api.scaffolded.lock().unwrap()[0].clone();
    assert_eq!(sent.template_ref, "template:default/kitchen-sink");
    assert_eq!(
        sent.values["repoUrl"],
        "127.0.0.1:7900?owner=northwind&repo=parcel-lib"
    );
    assert_eq!(sent.values["internal"], "do-not-show");
    // The secret in `secrets`, and in `values` for the backend to check and move out.
    assert_eq!(sent.values["token"], "hunter2-secret");
    assert_eq!(sent.secrets["token"], "hunter2-secret");

    // The draft is gone: creating again asks for the secret.
    let (status, _, b) = post_form(
        &env,
        path,
        &[
            ("_step", "2"),
            ("_values", &values),
            ("_draft", &draft),
            ("_action", "create"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(b.contains("Access token is required"), "{b}");

    // Tampered values are checked again before anything is sent.
    let mut tampered: Value = serde_json::from_str(&values).unwrap();
    tampered["count"] = json!(99);
    let (status, _, b) = post_form(
        &env,
        path,
        &[
            ("_step", "2"),
            ("_values", &tampered.to_string()),
            ("_action", "create"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(b.contains("Replicas must be at most 5"));
    assert_eq!(env.api.scaffolded.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn back_keeps_values_and_backend_refusals_show_on_the_review() {
    let env = env().await;
    let path = "/create/templates/default/docs-site";
    let fields = [
        ("_step", "0"),
        ("_values", "{}"),
        ("_action", "next"),
        ("p.name", "taken"),
        ("p.title", "Handbook"),
        ("p.owner", "group:default/platform-engineering"),
        ("p.repoUrl.host", "127.0.0.1:7900"),
        ("p.repoUrl.owner", "northwind"),
        ("p.repoUrl.repo", "handbook"),
    ];
    let (status, _, review) = post_form(&env, path, &fields).await;
    assert_eq!(status, 200, "{review}");
    let values = hidden_value(&review, "_values");
    let (status, _, back) = post_form(
        &env,
        path,
        &[("_step", "1"), ("_values", &values), ("_action", "back")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(back.contains("name=\"p.name\" value=\"taken\""), "{back}");
    let (status, location, b) = post_form(
        &env,
        path,
        &[("_step", "1"), ("_values", &values), ("_action", "create")],
    )
    .await;
    assert_eq!((status, location), (400, None), "{b}");
    assert!(
        b.contains("The task could not be created") && b.contains("name: is already taken"),
        "{b}"
    );
}

#[tokio::test]
async fn posts_from_other_sites_are_refused() {
    let env = env().await;
    let res = reqwest::Client::new()
        .post(env.backend.url("/create/templates/default/docs-site"))
        .header("origin", "https://evil.example")
        .form(&[
            ("_action", "create"),
            ("_step", "1"),
            ("_values", "{\"name\":\"x\"}"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(env.api.scaffolded.lock().unwrap().is_empty());
    // A page that takes no forms answers 405.
    let res = reqwest::Client::new()
        .post(env.backend.url("/create"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // An unknown template is a 404 page.
    let res = env
        .backend
        .client()
        .get("/create/templates/default/nope")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().contains("Template not found"));
}

fn task(id: &str, status: &str, by: &str) -> SerializedTask {
    serde_json::from_value(json!({
        "id": id,
        "status": status,
        "createdAt": "2026-12-06T19:00:00Z",
        "createdBy": by,
        "spec": {
            "apiVersion": "scaffolder.backstage.io/v1beta3",
            "parameters": { "name": "parcel-lib" },
            "steps": [
                { "id": "fetch", "name": "Fetch skeleton", "action": "fetch:template" },
                { "id": "publish", "name": "Publish", "action": "publish:git" },
                { "id": "register", "name": "Register", "action": "catalog:register" }
            ],
            "output": {},
            "templateInfo": {
                "entityRef": "template:default/rust-service",
                "entity": { "metadata": { "name": "rust-service", "title": "Rust <service>" } }
            }
        }
    }))
    .unwrap()
}

fn event(id: i64, ty: &str, body: Value) -> SerializedTaskEvent {
    serde_json::from_value(json!({
        "id": id, "taskId": "t", "type": ty, "body": body, "createdAt": "2026-12-06T19:00:0{id}Z"
    }))
    .unwrap()
}

#[tokio::test]
async fn the_task_page_shows_steps_log_output_and_cancel() {
    let env = env().await;
    {
        let mut tasks = env.api.tasks.lock().unwrap();
        tasks.insert("running".into(), (task("running", "processing", "user:default/jane"), vec![
            event(1, "log", json!({ "message": "Beginning step Fetch skeleton", "stepId": "fetch", "status": "processing" })),
            event(2, "log", json!({ "message": "<b>fetched</b>", "stepId": "fetch" })),
            event(3, "log", json!({ "message": "done", "stepId": "fetch", "status": "completed" })),
            event(4, "log", json!({ "message": "pushing", "stepId": "publish", "status": "processing" })),
        ]));
        tasks.insert("done".into(), (task("done", "completed", "user:default/joe"), vec![
            event(1, "log", json!({ "message": "ok", "stepId": "register", "status": "completed" })),
            event(2, "completion", json!({ "message": "Run completed", "status": "completed", "output": {
                "links": [
                    { "title": "Repository", "url": "http://127.0.0.1:7900/northwind/parcel-lib" },
                    { "title": "Open in catalog", "entityRef": "component:default/parcel-lib" },
                    { "title": "Bad", "url": "javascript:alert(1)" }
                ],
                "text": [{ "title": "Next steps", "content": "**Clone** it. <script>alert(1)</script> [x](javascript:alert(2))" }]
            }})),
        ]));
    }
    let b = env
        .backend
        .client()
        .get("/create/tasks/running")
        .await
        .unwrap()
        .text();
    assert!(b.contains("Run of Rust &lt;service&gt;"), "{b}");
    assert!(b.contains("<li data-step=\"fetch\" data-status=\"completed\">Fetch skeleton"));
    assert!(b.contains("<li data-step=\"publish\" data-status=\"processing\">Publish"));
    assert!(b.contains("<li data-step=\"register\" data-status=\"open\">Register"));
    assert!(
        b.contains("[fetch] &lt;b&gt;fetched&lt;/b&gt;"),
        "log escaped"
    );
    assert!(b.contains("<noscript><meta http-equiv=\"refresh\" content=\"3\"></noscript>"));
    assert!(
        b.contains("data-eventstream=\"") && b.contains("/v2/tasks/running/eventstream\""),
        "{b}"
    );
    assert!(b.contains("value=\"cancel\""));
    assert!(b.contains("href=\"/create/templates/default/rust-service?values=%7B%22name%22%3A%22parcel-lib%22%7D\""), "start over: {b}");

    let (status, location, _) =
        post_form(&env, "/create/tasks/running", &[("_action", "cancel")]).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/create/tasks/running"))
    );
    assert_eq!(*env.api.cancelled.lock().unwrap(), ["running"]);

    let b = env
        .backend
        .client()
        .get("/create/tasks/done")
        .await
        .unwrap()
        .text();
    assert!(
        b.contains("data-final=\"true\"")
            && !b.contains("http-equiv=\"refresh\"")
            && !b.contains("value=\"cancel\"")
            && !b.contains("value=\"retry\""),
        "a completed task offers neither cancel nor retry"
    );
    assert!(b.contains("<a class=\"bl-button\" href=\"http://127.0.0.1:7900/northwind/parcel-lib\" rel=\"noopener noreferrer\">Repository</a>"), "{b}");
    assert!(b.contains("href=\"/catalog/default/component/parcel-lib\" data-entity-ref=\"component:default/parcel-lib\">Open in catalog</a>"), "{b}");
    assert!(!b.contains("javascript:"), "{b}");
    assert!(
        b.contains("<strong>Clone</strong>")
            && b.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && !b.contains("<script>alert(1)")
    );

    let res = env
        .backend
        .client()
        .get("/create/tasks/missing")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_task_list_shows_mine_or_all() {
    let env = env().await;
    {
        let mut tasks = env.api.tasks.lock().unwrap();
        tasks.insert(
            "a".into(),
            (task("a", "completed", "user:default/jane"), vec![]),
        );
        tasks.insert(
            "b".into(),
            (task("b", "failed", "user:default/joe"), vec![]),
        );
    }
    let jane = env.backend.client().as_user("user:default/jane");
    let mine = jane.get("/create/tasks").await.unwrap().text();
    assert!(
        mine.contains("href=\"/create/tasks/a\"") && !mine.contains("href=\"/create/tasks/b\""),
        "{mine}"
    );
    assert!(mine.contains("My tasks"));
    let all = jane.get("/create/tasks?owner=all").await.unwrap().text();
    assert!(all.contains("href=\"/create/tasks/a\"") && all.contains("href=\"/create/tasks/b\""));
    assert!(all.contains("sc-status-failed") && all.contains("Rust &lt;service&gt;"));
    assert_eq!(
        env.api.listed.lock().unwrap()[0].created_by,
        ["user:default/jane"]
    );
}

#[tokio::test]
async fn a_failed_task_can_be_retried_from_its_page() {
    let env = env().await;
    env.api.tasks.lock().unwrap().insert(
        "broken".into(),
        (
            task("broken", "failed", "user:default/jane"),
            vec![
                event(
                    1,
                    "log",
                    json!({ "message": "push refused", "stepId": "publish", "status": "failed" }),
                ),
                event(
                    2,
                    "completion",
                    json!({ "message": "Run completed with status: failed", "status": "failed" }),
                ),
            ],
        ),
    );
    let b = env
        .backend
        .client()
        .get("/create/tasks/broken")
        .await
        .unwrap()
        .text();
    assert!(
        b.contains("value=\"retry\"") && !b.contains("value=\"cancel\""),
        "{b}"
    );
    let (status, location, _) =
        post_form(&env, "/create/tasks/broken", &[("_action", "retry")]).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/create/tasks/broken"))
    );
    assert_eq!(*env.api.retried.lock().unwrap(), ["broken"]);
}
