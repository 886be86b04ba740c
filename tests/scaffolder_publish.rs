//! The scaffolder's publishers against a real git server (tests/support/git_server: nginx,
//! fcgiwrap and `git http-backend`, started by .ci/run), and `publish:github`/`publish:gitlab`
//! against local fakes of their REST APIs that create the repository on that server.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "support/git_server/mod.rs"]
mod git_server;

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use git_server::harness::{Harness, RunOpts};
use git_server::{GitServer, files_of, git_clone, git_in};
use parking_lot::Mutex;
use serde_json::{Value, json};

fn write(ws: &Path, rel: &str, text: &str) {
    let p = ws.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn gitea_yaml(server: &GitServer, password: &str) -> String {
    format!(
        "integrations:\n  gitea:\n    - host: '{}'\n      baseUrl: '{}'\n      username: '{}'\n      password: '{}'\nscaffolder:\n  defaultAuthor:\n    name: Scaffold Bot\n    email: bot@example.test\n  defaultCommitMessage: Scaffolded\n",
        server.host(),
        server.url,
        server.user,
        password
    )
}

fn sample_workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    write(ws.path(), "README.md", "# app\n");
    write(ws.path(), "src/main.rs", "fn main() {}\n");
    write(
        ws.path(),
        "catalog-info.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: app\n",
    );
    write(ws.path(), "service/only.txt", "sub\n");
    ws
}

#[tokio::test]
async fn publish_git_pushes_the_workspace_as_one_commit() {
    let Some(server) = GitServer::from_env("publish_git_pushes_the_workspace_as_one_commit") else {
        return;
    };
    let h = Harness::start(&gitea_yaml(&server, &server.password)).await;
    let ws = sample_workspace();
    let owner = GitServer::fresh_owner("pub");
    let repo_url = format!("{}?owner={owner}&repo=app", server.host());

    let run = h
        .run(
            "publish:git",
            json!({"repoUrl": repo_url}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    run.result.as_ref().unwrap();
    let remote = format!("{}/{owner}/app.git", server.url);
    let contents = format!("{}/{owner}/app/raw/branch/main", server.url);
    assert_eq!(run.outputs["remoteUrl"], remote);
    assert_eq!(run.outputs["repoContentsUrl"], contents);

    let clone = tempfile::tempdir().unwrap();
    git_clone(&remote, &clone.path().join("c"), None);
    let dir = clone.path().join("c");
    assert_eq!(files_of(&dir), files_of(ws.path()));
    assert_eq!(git_in(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    assert_eq!(git_in(&dir, &["rev-list", "--count", "HEAD"]), "1");
    assert_eq!(
        git_in(&dir, &["log", "-1", "--format=%H|%an|%ae|%s"]),
        format!(
            "{}|Scaffold Bot|bot@example.test|Scaffolded",
            run.outputs["commitHash"].as_str().unwrap()
        )
    );
    // The workspace is left as it was: no .git of the publisher's in it.
    assert!(!ws.path().join(".git").exists());

    // The catalog's plain URL reader can read the descriptor through repoContentsUrl.
    let raw = reqwest::get(format!("{contents}/catalog-info.yaml"))
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert!(raw.text().await.unwrap().contains("name: app"));

    // Publishing an unrelated history over it is refused by the server, and said so.
    write(ws.path(), "NEW.md", "new\n");
    let run = h
        .run(
            "publish:git",
            json!({"repoUrl": repo_url}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(run.err().contains("git push failed"), "{}", run.err());
}

#[tokio::test]
async fn publish_git_takes_source_path_branch_and_author_from_its_input() {
    let Some(server) = GitServer::from_env("publish_git_takes_source_path") else {
        return;
    };
    let h = Harness::start(&gitea_yaml(&server, &server.password)).await;
    let ws = sample_workspace();
    let owner = GitServer::fresh_owner("src");
    let run = h
        .run(
            "publish:git",
            json!({
                "repoUrl": format!("{}?owner={owner}&repo=svc", server.host()),
                "sourcePath": "service",
                "defaultBranch": "trunk",
                "gitCommitMessage": "Create svc",
                "gitAuthorName": "Ada",
                "gitAuthorEmail": "ada@example.test"
            }),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    run.result.as_ref().unwrap();
    assert_eq!(
        run.outputs["repoContentsUrl"],
        format!("{}/{owner}/svc/raw/branch/trunk", server.url)
    );
    let clone = tempfile::tempdir().unwrap();
    git_clone(
        run.outputs["remoteUrl"].as_str().unwrap(),
        clone.path(),
        Some("trunk"),
    );
    assert_eq!(
        files_of(clone.path()),
        [("only.txt".to_string(), "sub\n".to_string())]
    );
    assert_eq!(
        git_in(clone.path(), &["log", "-1", "--format=%an|%ae|%s"]),
        "Ada|ada@example.test|Create svc"
    );

    // sourcePath stays inside the workspace.
    let run = h
        .run(
            "publish:git",
            json!({"repoUrl": format!("{}?owner={owner}&repo=x", server.host()), "sourcePath": "../"}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(run.err().contains("outside"), "{}", run.err());
    // A branch name that is not one.
    let run = h
        .run(
            "publish:git",
            json!({"repoUrl": format!("{}?owner={owner}&repo=x", server.host()), "defaultBranch": "-x"}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(run.err().contains("defaultBranch"), "{}", run.err());
}

#[tokio::test]
async fn publish_git_with_bad_credentials_fails_clearly_without_the_secret() {
    let Some(server) = GitServer::from_env("publish_git_with_bad_credentials") else {
        return;
    };
    let wrong = "not-the-password-7f3a9";
    let h = Harness::start(&gitea_yaml(&server, wrong)).await;
    let ws = sample_workspace();
    let owner = GitServer::fresh_owner("bad");
    let run = h
        .run(
            "publish:git",
            json!({"repoUrl": format!("{}?owner={owner}&repo=app", server.host())}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    let err = run.err();
    println!("the error a user sees: {err}");
    assert!(err.contains("authentication to 127.0.0.1"), "{err}");
    assert!(err.contains("credentials were refused"), "{err}");
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{wrong}", server.user));
    for text in [&err, &run.log_text()] {
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(&encoded), "{text}");
    }
    // Nothing was created.
    let res = reqwest::get(format!(
        "{}/{owner}/app/raw/branch/main/README.md",
        server.url
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 404);

    // A host without an integration.
    let run = h
        .run(
            "publish:git",
            json!({"repoUrl": "nowhere.test?owner=a&repo=b"}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(
        run.err()
            .contains("No matching integration configuration for host nowhere.test")
    );
}

#[tokio::test]
async fn publish_git_dry_run_gives_outputs_without_pushing() {
    let Some(server) = GitServer::from_env("publish_git_dry_run") else {
        return;
    };
    let h = Harness::start(&gitea_yaml(&server, &server.password)).await;
    let ws = sample_workspace();
    let owner = GitServer::fresh_owner("dry");
    let run = h
        .run(
            "publish:git",
            json!({"repoUrl": format!("{}?owner={owner}&repo=app", server.host())}),
            ws.path(),
            RunOpts {
                dry_run: true,
                ..RunOpts::default()
            },
        )
        .await;
    run.result.as_ref().unwrap();
    assert_eq!(
        run.outputs["remoteUrl"],
        format!("{}/{owner}/app.git", server.url)
    );
    assert_eq!(run.outputs["commitHash"].as_str().unwrap().len(), 40);
    let res = reqwest::get(format!(
        "{}/{owner}/app/raw/branch/main/README.md",
        server.url
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 404, "a dry run pushed");
}

/// What a fake REST API saw.
#[derive(Debug, Default)]
struct Seen {
    tokens: Vec<String>,
    bodies: Vec<Value>,
    topics: Option<Value>,
}

#[derive(Clone)]
struct Fake {
    git: GitServer,
    token: String,
    seen: Arc<Mutex<Seen>>,
}

impl Fake {
    /// Creates `owner/repo` on the git server the way the real host would before answering:
    /// an authenticated look at its push endpoint makes the server create the bare repository.
    async fn create_repo(&self, owner: &str, repo: &str) -> String {
        let res = reqwest::Client::new()
            .get(format!(
                "{}/{owner}/{repo}.git/info/refs?service=git-receive-pack",
                self.git.url
            ))
            .basic_auth(&self.git.user, Some(&self.git.password))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        format!("{}/{owner}/{repo}.git", self.git.url)
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn github_auth(fake: &Fake, headers: &HeaderMap) -> Result<(), (StatusCode, Json<Value>)> {
    let got = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    fake.seen.lock().tokens.push(got.clone());
    if got == format!("token {}", fake.token) {
        Ok(())
    } else {
        Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        ))
    }
}

async fn fake_github(fake: Fake) -> String {
    async fn user(
        State(f): State<Fake>,
        headers: HeaderMap,
        UrlPath(owner): UrlPath<String>,
    ) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
        github_auth(&f, &headers)?;
        let kind = if owner.starts_with("org") {
            "Organization"
        } else {
            "User"
        };
        Ok(Json(json!({"login": owner, "type": kind})))
    }
    async fn create(
        f: Fake,
        headers: HeaderMap,
        owner: String,
        body: Value,
    ) -> Result<(StatusCode, Json<Value>), (StatusCode, Json<Value>)> {
        github_auth(&f, &headers)?;
        let name = body["name"].as_str().unwrap_or_default().to_string();
        f.seen.lock().bodies.push(body);
        let clone_url = f.create_repo(&owner, &name).await;
        Ok((
            StatusCode::CREATED,
            Json(json!({
                "clone_url": clone_url,
                "html_url": format!("{}/{owner}/{name}", f.git.url),
            })),
        ))
    }
    let app = Router::new()
        .route("/users/{owner}", get(user))
        .route(
            "/orgs/{org}/repos",
            post(
                |State(f): State<Fake>,
                 headers: HeaderMap,
                 UrlPath(org): UrlPath<String>,
                 Json(body): Json<Value>| async move {
                    create(f, headers, org, body).await
                },
            ),
        )
        .route(
            "/user/repos",
            post(
                |State(f): State<Fake>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    // The fake's authenticated user is user-me.
                    create(f, headers, "user-me".to_string(), body).await
                },
            ),
        )
        .route(
            "/repos/{owner}/{repo}/topics",
            put(
                |State(f): State<Fake>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    github_auth(&f, &headers)?;
                    f.seen.lock().topics = Some(body.clone());
                    Ok::<_, (StatusCode, Json<Value>)>(Json(body))
                },
            ),
        )
        .with_state(fake);
    serve(app).await
}

#[tokio::test]
async fn publish_github_creates_the_repository_through_the_api_then_pushes() {
    let Some(server) = GitServer::from_env("publish_github") else {
        return;
    };
    let fake = Fake {
        git: server.clone(),
        token: server.password.clone(),
        seen: Arc::default(),
    };
    let api = fake_github(fake.clone()).await;
    let h = Harness::start(&format!(
        "integrations:\n  github:\n    - host: github.test\n      token: '{}'\n      apiBaseUrl: '{api}'\n",
        server.password
    ))
    .await;
    let ws = sample_workspace();
    let org = GitServer::fresh_owner("org");
    let run = h
        .run(
            "publish:github",
            json!({
                "repoUrl": format!("github.test?owner={org}&repo=svc"),
                "description": "A service",
                "repoVisibility": "internal",
                "defaultBranch": "main",
                "topics": ["Backstage", "rust"],
                "deleteBranchOnMerge": true
            }),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    run.result.as_ref().unwrap();
    let remote = format!("{}/{org}/svc.git", server.url);
    assert_eq!(run.outputs["remoteUrl"], remote);
    assert_eq!(
        run.outputs["repoContentsUrl"],
        format!("{}/{org}/svc/blob/main", server.url)
    );
    {
        let seen = fake.seen.lock();
        let body = &seen.bodies[0];
        assert_eq!(body["name"], "svc");
        assert_eq!(body["visibility"], "internal");
        assert_eq!(body["private"], false);
        assert_eq!(body["description"], "A service");
        assert_eq!(body["delete_branch_on_merge"], true);
        assert_eq!(seen.topics, Some(json!({"names": ["backstage", "rust"]})));
        assert!(
            seen.tokens
                .iter()
                .all(|t| *t == format!("token {}", server.password))
        );
    }
    let clone = tempfile::tempdir().unwrap();
    git_clone(&remote, clone.path(), Some("main"));
    assert_eq!(files_of(clone.path()), files_of(ws.path()));
    assert_eq!(
        git_in(clone.path(), &["rev-parse", "HEAD"]),
        run.outputs["commitHash"].as_str().unwrap()
    );

    // A user's repository (not an organisation's) is created through /user/repos, private by
    // default.
    let name = GitServer::fresh_owner("mine");
    let run = h
        .run(
            "publish:github",
            json!({"repoUrl": format!("github.test?owner=someone&repo={name}")}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    run.result.as_ref().unwrap();
    assert_eq!(
        run.outputs["remoteUrl"],
        format!("{}/user-me/{name}.git", server.url)
    );
    assert_eq!(
        run.outputs["repoContentsUrl"],
        format!("{}/user-me/{name}/blob/master", server.url)
    );
    {
        let seen = fake.seen.lock();
        let body = &seen.bodies[1];
        assert_eq!(body["private"], true);
        assert!(body.get("visibility").is_none(), "{body}");
    }

    // A wrong token (the step's `token` input wins over the integration's): GitHub's answer,
    // not the token.
    let run = h
        .run(
            "publish:github",
            json!({"repoUrl": "github.test?owner=someone&repo=x", "token": "ghp_wrong_token_123"}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    let err = run.err();
    assert!(
        err.contains("401") && err.contains("Bad credentials"),
        "{err}"
    );
    assert!(!err.contains("ghp_wrong_token_123"), "{err}");
}

async fn fake_gitlab(fake: Fake) -> String {
    fn auth(f: &Fake, headers: &HeaderMap) -> Result<(), (StatusCode, Json<Value>)> {
        let got = headers
            .get("private-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        f.seen.lock().tokens.push(got.clone());
        if got == f.token {
            Ok(())
        } else {
            Err((
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "401 Unauthorized"})),
            ))
        }
    }
    let app = Router::new()
        .route(
            "/api/v4/namespaces/{ns}",
            get(
                |State(f): State<Fake>, headers: HeaderMap, UrlPath(ns): UrlPath<String>| async move {
                    auth(&f, &headers)?;
                    Ok::<_, (StatusCode, Json<Value>)>(Json(
                        json!({"id": 42, "kind": "group", "full_path": ns}),
                    ))
                },
            ),
        )
        .route(
            "/api/v4/projects",
            post(
                |State(f): State<Fake>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    auth(&f, &headers)?;
                    if body["namespace_id"] != 42 {
                        return Err((
                            StatusCode::BAD_REQUEST,
                            Json(json!({"message": "namespace is invalid"})),
                        ));
                    }
                    let name = body["path"].as_str().unwrap_or_default().to_string();
                    f.seen.lock().bodies.push(body);
                    let owner = "gl-group";
                    let clone_url = f.create_repo(owner, &name).await;
                    Ok((
                        StatusCode::CREATED,
                        Json(json!({
                            "id": 7,
                            "http_url_to_repo": clone_url,
                            "web_url": format!("{}/{owner}/{name}", f.git.url),
                        })),
                    ))
                },
            ),
        )
        .with_state(fake);
    serve(app).await
}

#[tokio::test]
async fn publish_gitlab_creates_the_project_in_its_namespace_then_pushes() {
    let Some(server) = GitServer::from_env("publish_gitlab") else {
        return;
    };
    let fake = Fake {
        git: server.clone(),
        token: server.password.clone(),
        seen: Arc::default(),
    };
    let api = fake_gitlab(fake.clone()).await;
    let h = Harness::start(&format!(
        "integrations:\n  gitlab:\n    - host: gitlab.test\n      token: '{}'\n      apiBaseUrl: '{api}/api/v4'\n",
        server.password
    ))
    .await;
    let ws = sample_workspace();
    let repo = GitServer::fresh_owner("proj");
    let run = h
        .run(
            "publish:gitlab",
            json!({
                "repoUrl": format!("gitlab.test?owner=gl-group/sub&repo={repo}"),
                "repoVisibility": "public",
                "topics": ["backstage"]
            }),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    run.result.as_ref().unwrap();
    let remote = format!("{}/gl-group/{repo}.git", server.url);
    assert_eq!(run.outputs["remoteUrl"], remote);
    assert_eq!(
        run.outputs["repoContentsUrl"],
        format!("{}/gl-group/{repo}/-/blob/master", server.url)
    );
    assert_eq!(run.outputs["projectId"], 7);
    {
        let seen = fake.seen.lock();
        assert_eq!(seen.bodies[0]["visibility"], "public");
        assert_eq!(seen.bodies[0]["topics"], json!(["backstage"]));
        assert!(seen.tokens.iter().all(|t| *t == server.password));
    }
    let clone = tempfile::tempdir().unwrap();
    git_clone(&remote, clone.path(), Some("master"));
    assert_eq!(files_of(clone.path()), files_of(ws.path()));

    // Without a token anywhere.
    let h = Harness::start("integrations:\n  gitlab:\n    - host: gitlab.test\n").await;
    let run = h
        .run(
            "publish:gitlab",
            json!({"repoUrl": "gitlab.test?owner=g&repo=r"}),
            ws.path(),
            RunOpts::default(),
        )
        .await;
    assert!(
        run.err()
            .contains("No token available for host gitlab.test"),
        "{}",
        run.err()
    );
}

/// A server that accepts connections and never answers.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    addr.to_string()
}

#[tokio::test]
async fn a_push_that_hangs_is_cancelled_at_once_or_times_out() {
    let host = black_hole().await;
    let yaml = format!(
        "integrations:\n  gitea:\n    - host: '{host}'\n      baseUrl: 'http://{host}'\n      username: u\n      password: p\nscaffolder:\n  actions:\n    publish:\n      timeout: 2s\n"
    );
    let h = Harness::start(&yaml).await;
    let ws = sample_workspace();
    let input = json!({"repoUrl": format!("{host}?owner=o&repo=r")});

    let signal = tokio_util::sync::CancellationToken::new();
    let cancel = signal.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let started = std::time::Instant::now();
    let run = h
        .run(
            "publish:git",
            input.clone(),
            ws.path(),
            RunOpts {
                signal: Some(signal),
                ..RunOpts::default()
            },
        )
        .await;
    assert!(
        matches!(
            run.result,
            Err(backlot::plugins::scaffolder::node::ActionError::Cancelled)
        ),
        "{:?}",
        run.result
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));

    let started = std::time::Instant::now();
    let run = h
        .run("publish:git", input, ws.path(), RunOpts::default())
        .await;
    assert!(
        run.err().contains("did not finish within 2s"),
        "{}",
        run.err()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
