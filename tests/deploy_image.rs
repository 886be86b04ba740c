//! The deployment files under `deploy/` against the backend they deploy:
//!
//! - `deploy/probe.rs` (the image's health prober, included here as a module) against a real
//!   backend's health routes, and against hostile servers (silent, garbage, endless answers);
//! - `deploy/k8s/backlot.yaml`: its ConfigMap is `deploy/app-config.production.yaml`, every
//!   `${VAR}` of that config is set by the Deployment, every secret it names exists, the ports
//!   agree, and every probe path answers 200 on a started backend;
//! - `deploy/compose.yaml` and `deploy/compose.env.example`: the same checks for compose;
//! - `deploy/Containerfile` and `deploy/build-image.sh` describe the same runtime image;
//! - the production config boots the portal's plugins on PostgreSQL and Redis when
//!   `BACKLOT_TEST_POSTGRES_URL` and `BACKLOT_TEST_REDIS_URL` are set (features `postgres`
//!   and `redis`); otherwise that test prints that it is skipped.
//!
//! The image itself is built and run by `.ci/run` (deploy/build-image.sh + `buildah run`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../deploy/probe.rs"]
#[allow(dead_code, unreachable_pub)]
mod probe;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use backlot::backend::{Backend, BackendHandle};
use backlot::services::config::ConfigLoader;
use probe::{ProbeError, Target};
use serde_yaml::Value as Yaml;

const LIVENESS: &str = "/.backstage/health/v1/liveness";
const READINESS: &str = "/.backstage/health/v1/readiness";

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The documents of a multi-document YAML file.
fn yaml_docs(path: &str) -> Vec<Yaml> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(&read(path))
        .map(|d| Yaml::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}")))
        .filter(|d| !d.is_null())
        .collect()
}

fn y<'a>(v: &'a Yaml, path: &str) -> &'a Yaml {
    path.split('.')
        .fold(v, |v, key| match key.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[key],
        })
}

fn ys<'a>(v: &'a Yaml, path: &str) -> &'a str {
    y(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not a string: {:?}", y(v, path)))
}

/// The `${VAR}` names a config file substitutes (`$${VAR}` is a literal, not a variable;
/// comment lines are skipped).
fn config_vars(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)\}").unwrap();
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| re.captures_iter(line))
        .filter(|c| c[1].is_empty())
        .map(|c| c[2].to_owned())
        .collect()
}

/// A backend with no plugins (the health routes are the backend's own) on a free port.
async fn bare_backend() -> BackendHandle {
    Backend::builder()
        .config_value(serde_json::json!({
            "backend": {
                "database": { "client": "better-sqlite3", "connection": ":memory:" },
            }
        }))
        .listen_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap()
}

async fn run_probe(url: String, timeout: Duration) -> Result<(), ProbeError> {
    tokio::task::spawn_blocking(move || probe::probe(&url, timeout))
        .await
        .unwrap()
}

/// A one-connection server on a free port that runs `answer` on the accepted stream.
fn one_shot_server(
    answer: impl FnOnce(std::net::TcpStream) + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            answer(stream);
        }
    });
    (addr, handle)
}

// --- the prober -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_passes_on_the_health_routes_and_fails_on_other_answers() {
    let handle = bare_backend().await;
    let timeout = Duration::from_secs(5);
    run_probe(handle.url(LIVENESS), timeout).await.unwrap();
    run_probe(handle.url(READINESS), timeout).await.unwrap();
    // A path the backend does not serve is refused (default-deny or 404), never a pass.
    match run_probe(handle.url("/.backstage/health/v1/nope"), timeout).await {
        Err(ProbeError::Status(s)) => assert_ne!(s, 200),
        other => panic!("expected a status error, got {other:?}"),
    }
    let port = handle.local_addr().port();
    handle.stop().await.unwrap();
    // The backend is gone: the port refuses.
    let url = format!("http://127.0.0.1:{port}{LIVENESS}");
    assert!(matches!(
        run_probe(url, timeout).await,
        Err(ProbeError::Connect(_))
    ));
}

#[tokio::test]
async fn probe_reports_a_503_readiness_as_a_failure() {
    let (addr, server) = one_shot_server(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let body = r#"{"status":"error","message":"Backend has not started yet"}"#;
        let _ = write!(
            s,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
    });
    let res = run_probe(format!("http://{addr}{READINESS}"), Duration::from_secs(5)).await;
    assert_eq!(res, Err(ProbeError::Status(503)));
    server.join().unwrap();
}

#[tokio::test]
async fn probe_gives_up_on_a_silent_server_at_its_deadline() {
    let (addr, server) = one_shot_server(|mut s| {
        // Read the request, then say nothing until the client hangs up.
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.read(&mut buf);
    });
    let started = Instant::now();
    let res = run_probe(
        format!("http://{addr}{LIVENESS}"),
        Duration::from_millis(300),
    )
    .await;
    let took = started.elapsed();
    assert!(matches!(res, Err(ProbeError::Io(_))), "{res:?}");
    assert!(
        took >= Duration::from_millis(250),
        "gave up early: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "not bounded: {took:?}");
    server.join().unwrap();
}

#[tokio::test]
async fn probe_refuses_garbage_and_reads_a_bounded_answer() {
    let (addr, server) = one_shot_server(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
    });
    let res = run_probe(format!("http://{addr}/"), Duration::from_secs(5)).await;
    assert!(matches!(res, Err(ProbeError::BadResponse(_))), "{res:?}");
    server.join().unwrap();

    // An endless status line: the prober stops after MAX_RESPONSE_HEAD bytes.
    let (addr, server) = one_shot_server(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let chunk = [b'A'; 4096];
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && s.write_all(&chunk).is_ok() {}
    });
    let started = Instant::now();
    let res = run_probe(format!("http://{addr}/"), Duration::from_secs(5)).await;
    assert!(matches!(res, Err(ProbeError::BadResponse(_))), "{res:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    server.join().unwrap();
}

#[test]
fn probe_parses_only_plain_http_urls() {
    assert_eq!(
        probe::parse_url("http://127.0.0.1:7007/.backstage/health/v1/liveness"),
        Ok(Target {
            host: "127.0.0.1".into(),
            port: 7007,
            path: LIVENESS.into(),
        })
    );
    assert_eq!(
        probe::parse_url("http://[::1]:8080/x?y=1").unwrap(),
        Target {
            host: "::1".into(),
            port: 8080,
            path: "/x?y=1".into(),
        }
    );
    assert_eq!(probe::parse_url("http://portal").unwrap().port, 80);
    assert_eq!(probe::parse_url("http://portal").unwrap().path, "/");
    for bad in [
        "https://127.0.0.1/",
        "127.0.0.1:7007/",
        "http://:7007/",
        "http://127.0.0.1:99999/",
        "http://u:p@127.0.0.1/",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/a\r\nX-Injected: 1",
        "http://[::1/",
    ] {
        assert!(
            matches!(probe::parse_url(bad), Err(ProbeError::BadUrl(_))),
            "{bad} was accepted"
        );
    }
    assert_eq!(
        probe::DEFAULT_URL,
        format!("http://127.0.0.1:7007{LIVENESS}")
    );
}

#[test]
fn probe_timeout_comes_from_its_variable_within_bounds() {
    assert_eq!(probe::timeout_from_env(None), Ok(probe::DEFAULT_TIMEOUT));
    assert_eq!(
        probe::timeout_from_env(Some("")),
        Ok(probe::DEFAULT_TIMEOUT)
    );
    assert_eq!(
        probe::timeout_from_env(Some("250")),
        Ok(Duration::from_millis(250))
    );
    for bad in ["0", "60001", "-1", "1s", "abc"] {
        assert!(probe::timeout_from_env(Some(bad)).is_err(), "{bad}");
    }
}

// --- Kubernetes -------------------------------------------------------------------------------

struct Manifest {
    config_map: Yaml,
    secret: Yaml,
    deployment: Yaml,
    service: Yaml,
}

fn manifest() -> Manifest {
    let docs = yaml_docs("deploy/k8s/backlot.yaml");
    let kind = |k: &str| {
        let found: Vec<&Yaml> = docs.iter().filter(|d| d["kind"] == k).collect();
        assert_eq!(found.len(), 1, "one {k} in deploy/k8s/backlot.yaml");
        found[0].clone()
    };
    Manifest {
        config_map: kind("ConfigMap"),
        secret: kind("Secret"),
        deployment: kind("Deployment"),
        service: kind("Service"),
    }
}

/// The ConfigMap's `app-config.yaml` (a key with a dot, so not reachable through [`y`]).
fn configmap_text(m: &Manifest) -> &str {
    m.config_map["data"]["app-config.yaml"]
        .as_str()
        .expect("the ConfigMap has data.app-config.yaml")
}

/// The portal container's environment, secrets resolved from the manifest's Secret.
fn k8s_env(m: &Manifest) -> BTreeMap<String, String> {
    let container = y(&m.deployment, "spec.template.spec.containers.0");
    let secret_name = ys(&m.secret, "metadata.name");
    let mut env = BTreeMap::new();
    for var in container["env"].as_sequence().unwrap() {
        let name = ys(var, "name").to_owned();
        let value = if let Some(v) = var["value"].as_str() {
            v.to_owned()
        } else {
            let sref = y(var, "valueFrom.secretKeyRef");
            assert_eq!(ys(sref, "name"), secret_name, "{name}: secret name");
            let key = ys(sref, "key");
            y(&m.secret, "stringData")[key]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: key {key} is not in the Secret"))
                .to_owned()
        };
        assert!(env.insert(name.clone(), value).is_none(), "{name} twice");
    }
    env
}

#[test]
fn k8s_configmap_is_the_production_config_and_every_variable_is_set() {
    let m = manifest();
    let production = read("deploy/app-config.production.yaml");
    assert_eq!(
        configmap_text(&m),
        production,
        "the ConfigMap's app-config.yaml differs from deploy/app-config.production.yaml"
    );
    let env = k8s_env(&m);
    let vars = config_vars(&production);
    assert!(vars.len() >= 8, "{vars:?}");
    let missing: Vec<&String> = vars.iter().filter(|v| !env.contains_key(*v)).collect();
    assert!(missing.is_empty(), "not set by the Deployment: {missing:?}");
    let unused: Vec<&String> = env.keys().filter(|k| !vars.contains(*k)).collect();
    assert!(unused.is_empty(), "set but never read: {unused:?}");
    // The secrets are secret: passwords and tokens come from the Secret, not from `value:`.
    let container = y(&m.deployment, "spec.template.spec.containers.0");
    for var in container["env"].as_sequence().unwrap() {
        let name = ys(var, "name");
        if ["PASSWORD", "SECRET", "TOKEN"]
            .iter()
            .any(|s| name.contains(s))
        {
            assert!(var["value"].is_null(), "{name} must come from the Secret");
        }
    }
}

#[test]
fn k8s_config_loads_as_app_config_with_the_deployment_env() {
    let m = manifest();
    let env = k8s_env(&m);
    let config = ConfigLoader::new()
        .yaml("configmap:app-config.yaml", configmap_text(&m))
        .env_vars(env.clone())
        .load()
        .unwrap();
    let container = y(&m.deployment, "spec.template.spec.containers.0");
    let port = y(container, "ports.0");
    assert_eq!(ys(port, "name"), "http");
    let container_port = port["containerPort"].as_u64().unwrap();
    assert_eq!(
        u64::from(config.u16("backend.listen.port").unwrap()),
        container_port
    );
    assert_eq!(config.string("backend.listen.host").unwrap(), "0.0.0.0");
    assert_eq!(config.string("backend.database.client").unwrap(), "pg");
    assert_eq!(
        config
            .string("backend.database.connection.password")
            .unwrap(),
        env["POSTGRES_PASSWORD"]
    );
    assert_eq!(config.string("backend.cache.store").unwrap(), "redis");
    assert_eq!(
        config.string("backend.cache.connection").unwrap(),
        format!(
            "redis://:{}@{}:6379",
            env["REDIS_PASSWORD"], env["REDIS_HOST"]
        )
    );
    assert_eq!(
        config.string("auth.session.secret").unwrap(),
        env["AUTH_SESSION_SECRET"]
    );
    let token = config
        .string("backend.auth.externalAccess[0].options.token")
        .unwrap();
    assert!(token.len() >= 8 && !token.contains(char::is_whitespace));
    assert_eq!(
        config.string("backend.baseUrl").unwrap(),
        config.string("app.baseUrl").unwrap()
    );

    // The config file the container reads is the ConfigMap's mount.
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["--config", "/etc/backlot/app-config.yaml"]);
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    let config_mount = mounts.iter().find(|v| v["name"] == "config").unwrap();
    assert_eq!(ys(config_mount, "mountPath"), "/etc/backlot");
    let volumes = y(&m.deployment, "spec.template.spec.volumes")
        .as_sequence()
        .unwrap();
    let config_volume = volumes.iter().find(|v| v["name"] == "config").unwrap();
    assert_eq!(
        ys(config_volume, "configMap.name"),
        ys(&m.config_map, "metadata.name")
    );
    // The data dir is a writable volume; the root filesystem is read-only, /tmp is a volume.
    let data_dir = config.string("backend.dataDir").unwrap();
    for path in [data_dir.as_str(), "/tmp"] {
        assert!(
            mounts.iter().any(|v| v["mountPath"] == path),
            "{path} is not mounted"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k8s_probes_and_service_reach_the_backend_health_routes() {
    let m = manifest();
    let container = y(&m.deployment, "spec.template.spec.containers.0");
    let liveness = ys(container, "livenessProbe.httpGet.path");
    let readiness = ys(container, "readinessProbe.httpGet.path");
    assert_eq!(liveness, LIVENESS);
    assert_eq!(readiness, READINESS);
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(ys(container, &format!("{probe}.httpGet.port")), "http");
    }
    assert_eq!(ys(&m.service, "spec.ports.0.targetPort"), "http");
    assert_eq!(
        y(&m.service, "spec.selector"),
        y(&m.deployment, "spec.selector.matchLabels")
    );
    assert_eq!(
        y(&m.deployment, "spec.selector.matchLabels"),
        y(&m.deployment, "spec.template.metadata.labels")
    );
    // Non-root as the image's user.
    let pod_security = y(&m.deployment, "spec.template.spec.securityContext");
    assert_eq!(pod_security["runAsUser"].as_u64(), Some(10001));
    assert_eq!(pod_security["runAsNonRoot"].as_bool(), Some(true));

    let handle = bare_backend().await;
    let client = reqwest::Client::new();
    for path in [liveness, readiness] {
        let res = client.get(handle.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok", "{path}");
    }
    handle.stop().await.unwrap();
}

// --- compose ----------------------------------------------------------------------------------

#[test]
fn compose_sets_every_variable_and_mounts_the_production_config() {
    let compose = yaml_docs("deploy/compose.yaml").remove(0);
    let portal = y(&compose, "services.portal");
    let env: BTreeSet<String> = portal["environment"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let vars = config_vars(&read("deploy/app-config.production.yaml"));
    assert_eq!(
        env, vars,
        "compose's portal environment vs the config's ${{VAR}}s"
    );

    let command: Vec<&str> = portal["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(command, ["--config", "/etc/backlot/app-config.yaml"]);
    let volumes: Vec<&str> = portal["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(volumes.contains(&"./app-config.production.yaml:/etc/backlot/app-config.yaml:ro"));
    assert!(volumes.contains(&"portal-data:/var/lib/backlot"));
    // The hosts the config names are the compose services.
    assert_eq!(ys(portal, "environment.POSTGRES_HOST"), "postgres");
    assert_eq!(ys(portal, "environment.REDIS_HOST"), "redis");
    for dep in ["postgres", "redis"] {
        assert!(compose["services"][dep].is_mapping(), "service {dep}");
        assert_eq!(
            ys(portal, &format!("depends_on.{dep}.condition")),
            "service_healthy"
        );
    }
    // The portal's healthcheck runs the image's prober on a health route of the listen port.
    let test: Vec<&str> = portal["healthcheck"]["test"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(test[..2], ["CMD", "/usr/local/bin/backlot-probe"]);
    let target = probe::parse_url(test[2]).unwrap();
    assert_eq!(target.port, 7007);
    assert!([LIVENESS, READINESS].contains(&target.path.as_str()));

    // Every variable compose requires (`${X:?...}`) is in the example env file.
    let required: BTreeSet<String> = regex::Regex::new(r"\$\{([A-Z_]+):\?")
        .unwrap()
        .captures_iter(&read("deploy/compose.yaml"))
        .map(|c| c[1].to_owned())
        .collect();
    let example: BTreeSet<String> = read("deploy/compose.env.example")
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap().to_owned())
        .collect();
    let missing: Vec<&String> = required.difference(&example).collect();
    assert!(
        missing.is_empty(),
        "missing in compose.env.example: {missing:?}"
    );
    assert!(required.len() >= 7, "{required:?}");
}

// --- the image --------------------------------------------------------------------------------

#[test]
fn container_config_layers_over_the_demo_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = ConfigLoader::new()
        .file(root.join("app-config.yaml"))
        .file(root.join("deploy/app-config.container.yaml"))
        .env_vars(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    assert_eq!(config.string("backend.listen.host").unwrap(), "0.0.0.0");
    assert_eq!(config.u16("backend.listen.port").unwrap(), 7007);
    assert_eq!(
        config.string("backend.dataDir").unwrap(),
        "/var/lib/backlot"
    );
    // The demo catalog the image ships is where the config looks for it (from /app).
    let target = config.string("catalog.locations[0].target").unwrap();
    assert!(root.join(&target).is_file(), "{target}");
    // CI overrides the listen address through the environment.
    let ci = ConfigLoader::new()
        .file(root.join("app-config.yaml"))
        .file(root.join("deploy/app-config.container.yaml"))
        .env_vars([
            ("APP_CONFIG_backend_listen_host", "127.0.0.1"),
            ("APP_CONFIG_backend_listen_port", "17007"),
        ])
        .load()
        .unwrap();
    assert_eq!(ci.string("backend.listen.host").unwrap(), "127.0.0.1");
    assert_eq!(ci.u16("backend.listen.port").unwrap(), 17007);
}

#[test]
fn containerfile_and_build_script_describe_the_same_runtime_image() {
    let containerfile = read("deploy/Containerfile");
    let script = read("deploy/build-image.sh");
    let rootfs = read("deploy/rootfs.sh");
    let health_url = format!("http://127.0.0.1:7007{LIVENESS}");
    // Containerfile: the runtime stage is FROM scratch around rootfs.sh's tree.
    assert!(containerfile.contains("FROM scratch AS runtime"));
    assert!(containerfile.contains("deploy/rootfs.sh /rootfs"));
    assert!(containerfile.contains("USER 10001:10001"));
    assert!(containerfile.contains("EXPOSE 7007/tcp"));
    assert!(containerfile.contains(&format!(
        r#"CMD ["/usr/local/bin/backlot-probe", "{health_url}"]"#
    )));
    assert!(containerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/portal"]"#));
    assert!(containerfile.contains(
        r#"CMD ["--config", "/app/app-config.yaml", "--config", "/app/app-config.container.yaml"]"#
    ));
    // build-image.sh: the same settings in buildah's words.
    assert!(script.contains("deploy/rootfs.sh \"$WORK/rootfs\""));
    assert!(script.contains("APP_UID=10001") && script.contains("--user \"$APP_UID:$APP_UID\""));
    assert!(script.contains("PORT=7007"));
    assert!(script.contains(&format!(
        "--healthcheck 'CMD /usr/local/bin/backlot-probe {health_url}'"
    )));
    assert!(script.contains(r#"--entrypoint '["/usr/local/bin/portal"]'"#));
    assert!(script.contains(
        r#"--cmd '["--config","/app/app-config.yaml","--config","/app/app-config.container.yaml"]'"#
    ));
    assert!(script.contains("--format docker"));
    // rootfs.sh installs what both point at.
    for installed in [
        "\"$ROOTFS/usr/local/bin/portal\"",
        "\"$ROOTFS/usr/local/bin/backlot-probe\"",
        "\"$ROOTFS/app/app-config.yaml\"",
        "\"$ROOTFS/app/app-config.container.yaml\"",
        "\"$ROOTFS/app/examples/demo-catalog\"",
        "\"$ROOTFS/etc/ssl/certs/ca-certificates.crt\"",
    ] {
        assert!(
            rootfs.contains(installed),
            "rootfs.sh does not install {installed}"
        );
    }
    assert!(rootfs.contains("APP_UID=10001"));
}

// --- the production config on real servers ---------------------------------------------------

#[cfg(all(feature = "postgres", feature = "redis"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_config_boots_the_portal_plugins_on_postgres_and_redis() {
    use backlot::frontend::App;
    use backlot::plugins::search::backend::{
        SearchCatalogCollatorModule, SearchTechdocsCollatorModule,
    };
    use backlot::plugins::{app, auth, catalog, scaffolder, search, techdocs};

    let (Ok(pg), Ok(redis)) = (
        std::env::var("BACKLOT_TEST_POSTGRES_URL"),
        std::env::var("BACKLOT_TEST_REDIS_URL"),
    ) else {
        println!("skipped: BACKLOT_TEST_POSTGRES_URL and BACKLOT_TEST_REDIS_URL are not both set");
        return;
    };
    let pg = url::Url::parse(&pg).unwrap();
    let redis_url = url::Url::parse(&redis).unwrap();
    let m = manifest();
    // The Deployment's env, with the hosts and credentials of the test servers.
    let mut env = k8s_env(&m);
    env.insert("POSTGRES_HOST".into(), pg.host_str().unwrap().into());
    env.insert("POSTGRES_USER".into(), pg.username().into());
    env.insert(
        "POSTGRES_PASSWORD".into(),
        pg.password().unwrap_or_default().into(),
    );
    env.insert("REDIS_HOST".into(), redis_url.host_str().unwrap().into());
    let data = tempfile::tempdir().unwrap();
    let mut loader = ConfigLoader::new()
        .yaml("configmap:app-config.yaml", configmap_text(&m))
        .value(serde_json::json!({
            "backend": {
                "dataDir": data.path().to_str().unwrap(),
                // Databases of their own on the shared test server, fresh for each run: an
                // earlier run's catalog (from another checkout) must not answer for this one.
                "database": {
                    "prefix": format!(
                        "backlot_deploy_image_{}_",
                        &uuid::Uuid::new_v4().simple().to_string()[..10]
                    ),
                    "connection": { "port": pg.port().unwrap_or(5432) },
                },
            },
        }));
    // The test Redis may have no password (the config's URL has one): use its URL as given.
    if redis_url.password().is_none() || redis_url.port() != Some(6379) {
        loader = loader.value(serde_json::json!({"backend": {"cache": {"connection": redis}}}));
    }
    let config = loader.env_vars(env).load().unwrap();

    let app = App::builder()
        .feature(catalog::frontend::plugin())
        .feature(search::frontend::plugin())
        .feature(techdocs::frontend::plugin())
        .feature(scaffolder::frontend::plugin());
    let handle = Backend::builder()
        .config(config)
        .listen_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .add((
            catalog::backend::plugin(),
            auth::backend::plugin(),
            search::backend::plugin(),
            SearchCatalogCollatorModule,
            techdocs::backend::plugin(),
            SearchTechdocsCollatorModule,
            scaffolder::backend::plugin(),
            app::plugin(app),
        ))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();

    // The probes of the manifest answer on the started portal.
    let container = y(&m.deployment, "spec.template.spec.containers.0");
    for probe in ["livenessProbe", "readinessProbe"] {
        let path = ys(container, &format!("{probe}.httpGet.path")).to_owned();
        run_probe(handle.url(&path), Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("{probe} {path}: {e}"));
    }
    // The Secret's catalog token reads the catalog, which ingested the demo catalog.
    let token = y(&m.secret, "stringData.BACKLOT_CATALOG_TOKEN")
        .as_str()
        .unwrap()
        .to_owned();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = client
            .get(handle.url("/api/catalog/entities/by-query?filter=kind=component&limit=5"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        if body["items"].as_array().is_some_and(|i| !i.is_empty()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the demo catalog was not ingested"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Without the token the catalog is closed.
    let res = client
        .get(handle.url("/api/catalog/entities/by-query?limit=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    handle.stop().await.unwrap();
}

#[cfg(not(all(feature = "postgres", feature = "redis")))]
#[test]
fn production_config_boots_the_portal_plugins_on_postgres_and_redis() {
    println!("skipped: needs the 'postgres' and 'redis' features (cargo test --all-features)");
}
