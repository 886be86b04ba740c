//! The fake Kubernetes API server of `tests/support/kube_api` is faithful: Debian's real
//! `kubectl` reads it. Skipped (with a message) when kubectl is absent and
//! `BACKLOT_TEST_KUBECTL` is unset; with `BACKLOT_TEST_KUBECTL` set, a missing or broken
//! kubectl fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use support::kube_api::{Access, KubeApi, KubeApiBuilder};

fn kubectl() -> Option<PathBuf> {
    match std::env::var("BACKLOT_TEST_KUBECTL") {
        Ok(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            let out = Command::new(&path)
                .args(["version", "--client"])
                .output()
                .unwrap_or_else(|e| {
                    panic!("BACKLOT_TEST_KUBECTL={} cannot run: {e}", path.display())
                });
            assert!(out.status.success(), "kubectl version failed: {out:?}");
            Some(path)
        }
        _ => {
            let default = PathBuf::from("/usr/bin/kubectl");
            if default.is_file() {
                Some(default)
            } else {
                eprintln!("skipped: kubectl not installed and BACKLOT_TEST_KUBECTL unset");
                None
            }
        }
    }
}

/// kubectl sends a bearer token only over HTTPS: the server gets a self-signed certificate
/// that kubectl verifies (`--certificate-authority`).
fn tls() -> Option<support::kube_api::TestCerts> {
    let pair = support::kube_api::test_certs();
    if pair.is_none() {
        eprintln!("skipped: openssl not installed (needed for the server's certificate)");
    }
    pair
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs kubectl against `api` with no kubeconfig of the user's and a fresh cache.
fn run(kubectl: &PathBuf, api: &(KubeApi, String), token: &str, args: &[&str]) -> Run {
    let (api, ca) = api;
    let home = tempfile::tempdir().unwrap();
    let ca_file = home.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let out = Command::new(kubectl)
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("none"))
        .args([
            "--server",
            api.url(),
            "--token",
            token,
            "--certificate-authority",
            ca_file.to_str().unwrap(),
            "--cache-dir",
            home.path().join("cache").to_str().unwrap(),
            "--request-timeout",
            "20s",
        ])
        .args(args)
        .output()
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn server() -> Option<(KubeApi, String)> {
    let certs = tls()?;
    let api = KubeApiBuilder::new()
        .tls(&certs.cert, &certs.key)
        .token("good", Access::Full)
        .token("no-rights", Access::NoRights)
        .dataset("petstore", "default", 1, 2)
        .dataset("petstore", "shop", 1, 1)
        .dataset("other", "default", 1, 3)
        .start()
        .await;
    Some((api, certs.ca))
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_get_pods_by_label_in_a_namespace() {
    let Some(kubectl) = kubectl() else { return };
    let Some(api) = server().await else { return };
    let out = run(
        &kubectl,
        &api,
        "good",
        &[
            "get",
            "pods",
            "-n",
            "default",
            "-l",
            "backstage.io/kubernetes-id=petstore",
        ],
    );
    assert!(out.ok, "kubectl failed: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("READY") && lines[0].contains("STATUS"),
        "{}",
        out.stdout
    );
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["petstore-d0-5d8f7c-p0", "petstore-d0-5d8f7c-p1"],
        "{}",
        out.stdout
    );
    assert!(
        lines[1].contains("1/1") && lines[1].contains("Running"),
        "{}",
        out.stdout
    );
    let list = api
        .0
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/namespaces/default/pods")
        .expect("kubectl listed pods in the namespace");
    assert_eq!(
        list.label_selector().as_deref(),
        Some("backstage.io/kubernetes-id=petstore")
    );
    assert_eq!(list.authorization.as_deref(), Some("Bearer good"));

    // Set-based selectors, across all namespaces.
    let out = run(
        &kubectl,
        &api,
        "good",
        &[
            "get",
            "pods",
            "-A",
            "-l",
            "backstage.io/kubernetes-id in (petstore),app!=other",
            "-o",
            "name",
        ],
    );
    assert!(out.ok, "kubectl failed: {}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
    let out = run(
        &kubectl,
        &api,
        "good",
        &[
            "get",
            "pods",
            "-A",
            "-l",
            "app notin (petstore)",
            "-o",
            "name",
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
    assert!(
        out.stdout.lines().all(|l| l.starts_with("pod/other-")),
        "{}",
        out.stdout
    );
    let out = run(
        &kubectl,
        &api,
        "good",
        &["get", "pods", "-A", "-l", "!app", "-o", "name"],
    );
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "", "no pod lacks the app label");
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_get_deployments_as_json() {
    let Some(kubectl) = kubectl() else { return };
    let Some(api) = server().await else { return };
    let out = run(
        &kubectl,
        &api,
        "good",
        &[
            "get",
            "deployments",
            "-A",
            "-l",
            "backstage.io/kubernetes-id=petstore",
            "-o",
            "json",
        ],
    );
    assert!(out.ok, "kubectl failed: {}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["kind"], "List");
    let items = v["items"].as_array().unwrap();
    let mut got: Vec<(String, String)> = items
        .iter()
        .map(|d| {
            assert_eq!(d["kind"], "Deployment");
            assert_eq!(d["apiVersion"], "apps/v1");
            (
                d["metadata"]["namespace"].as_str().unwrap().to_owned(),
                d["metadata"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("default".to_owned(), "petstore-d0".to_owned()),
            ("shop".to_owned(), "petstore-d0".to_owned())
        ]
    );
    assert_eq!(
        items[0]["spec"]["replicas"],
        json!(items[0]["status"]["replicas"])
    );
    // One namespace with -n.
    let out = run(
        &kubectl,
        &api,
        "good",
        &["get", "deploy", "-n", "shop", "-o", "json"],
    );
    assert!(out.ok, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert!(
        api.0
            .paths()
            .contains(&"/apis/apps/v1/namespaces/shop/deployments".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_reports_bad_tokens_and_missing_rights() {
    let Some(kubectl) = kubectl() else { return };
    let Some(api) = server().await else { return };
    let out = run(&kubectl, &api, "wrong", &["get", "pods", "-n", "default"]);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("You must be logged in to the server"),
        "kubectl's own 401 message: {}",
        out.stderr
    );
    let out = run(
        &kubectl,
        &api,
        "no-rights",
        &["get", "pods", "-n", "default"],
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains("is forbidden") && out.stderr.contains("cannot list resource \"pods\""),
        "kubectl's 403 message: {}",
        out.stderr
    );
    // A bad selector is the server's 400.
    let out = run(&kubectl, &api, "good", &["get", "pods", "-l", "a in b"]);
    assert!(!out.ok, "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_reads_custom_resources_and_metrics() {
    let Some(kubectl) = kubectl() else { return };
    let Some(certs) = tls() else { return };
    let api = KubeApiBuilder::new()
        .tls(&certs.cert, &certs.key)
        .token("good", Access::Full)
        .custom_kind("argoproj.io", "v1alpha1", "rollouts", "Rollout")
        .object(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "canary", "namespace": "default", "labels": {"backstage.io/kubernetes-id": "petstore"}}}))
        .dataset("petstore", "default", 1, 1)
        .start()
        .await;
    let api = (api, certs.ca);
    let out = run(
        &kubectl,
        &api,
        "good",
        &["get", "rollouts.argoproj.io", "-n", "default", "-o", "json"],
    );
    assert!(out.ok, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["items"][0]["metadata"]["name"], "canary");
    let out = run(
        &kubectl,
        &api,
        "good",
        &[
            "get",
            "--raw",
            "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["kind"], "PodMetricsList");
    assert_eq!(v["items"][0]["containers"][0]["usage"]["memory"], "65536Ki");
}
