//! A fake Kubernetes API server for tests and benches: Kubernetes' real REST paths and JSON
//! (discovery as kubectl reads it, lists cluster-wide and per namespace with `labelSelector`,
//! single objects, server-side `Table`s for kubectl, `metrics.k8s.io`, custom resources),
//! `Status` bodies for 401 (unknown token), 403 (token without rights), 400 (bad selector) and
//! 404, optional TLS, a "down" mode that drops every connection, and a record of every
//! request so that tests can check which paths were fetched.
//!
//! ```ignore
//! let api = KubeApiBuilder::new()
//!     .token("t0k", Access::Full)
//!     .dataset("petstore", "default", 2, 3)
//!     .start()
//!     .await;
//! // GET {api.url()}/api/v1/namespaces/default/pods?labelSelector=backstage.io/kubernetes-id=petstore
//! ```

mod certs;
mod dataset;
mod discovery;
pub mod kinds;
pub mod selector;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[allow(unused_imports)] // not every test uses TLS
pub use certs::{TestCerts, test_certs};
use discovery::{group_list, resource_list, table};
pub use kinds::Kind;
pub use selector::Selector;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read everything.
    Full,
    /// Authenticated, but every list or get is 403 (discovery stays allowed, as RBAC's
    /// `system:discovery` does).
    NoRights,
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// Every header, lower-cased names.
    pub headers: BTreeMap<String, String>,
}

impl Recorded {
    /// The decoded `labelSelector` parameter.
    pub fn label_selector(&self) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == "labelSelector")
            .map(|(_, v)| v.into_owned())
    }
}

#[derive(Debug, Clone)]
struct Stored {
    kind: usize,
    namespace: Option<String>,
    name: String,
    labels: BTreeMap<String, String>,
    value: Value,
    json: Arc<str>,
}

/// Builds a [`KubeApi`].
#[derive(Debug, Clone)]
pub struct KubeApiBuilder {
    kinds: Vec<Kind>,
    objects: Vec<Value>,
    tokens: HashMap<String, Access>,
    metrics: bool,
    delay: Option<Duration>,
    down: bool,
    tls: Option<(String, String)>,
    client_ca: Option<String>,
}

/// Marks a request whose connection presented a client certificate the CA signed.
#[derive(Debug, Clone, Copy)]
struct ClientCertVerified;

impl Default for KubeApiBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl KubeApiBuilder {
    /// A server with the built-in kinds, `metrics.k8s.io`, no objects and no tokens.
    pub fn new() -> Self {
        Self {
            kinds: kinds::builtin(),
            objects: Vec::new(),
            tokens: HashMap::new(),
            metrics: true,
            delay: None,
            down: false,
            tls: None,
            client_ca: None,
        }
    }

    /// Accepts `token` as a bearer token with `access`.
    pub fn token(mut self, token: &str, access: Access) -> Self {
        self.tokens.insert(token.to_owned(), access);
        self
    }

    /// Serves a custom resource kind.
    pub fn custom_kind(mut self, group: &str, version: &str, plural: &str, kind: &str) -> Self {
        self.kinds
            .push(Kind::new(group, version, plural, kind, &[]));
        self
    }

    /// Adds an object (its `apiVersion` and `kind` pick the resource).
    pub fn object(mut self, value: Value) -> Self {
        self.objects.push(value);
        self
    }

    /// `metrics.k8s.io` is not served (no metrics-server): its paths are 404.
    pub fn without_metrics(mut self) -> Self {
        self.metrics = false;
        self
    }

    /// Waits `delay` before answering each request.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Accepts connections and closes them at once: a cluster that gives no answer.
    pub fn down(mut self) -> Self {
        self.down = true;
        self
    }

    /// Serves HTTPS with this certificate chain and key (PEM).
    pub fn tls(mut self, cert_pem: &str, key_pem: &str) -> Self {
        self.tls = Some((cert_pem.to_owned(), key_pem.to_owned()));
        self
    }

    /// With [`tls`](Self::tls): accepts client certificates signed by `ca_pem`; a request on a
    /// connection with one has full access (connections without one still use tokens).
    pub fn client_ca(mut self, ca_pem: &str) -> Self {
        self.client_ca = Some(ca_pem.to_owned());
        self
    }

    /// Starts the server on `127.0.0.1` with a free port.
    pub async fn start(self) -> KubeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{}", addr.port());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(InFlight::default());
        let kinds: Vec<Kind> = self
            .kinds
            .iter()
            .filter(|k| self.metrics || k.group != "metrics.k8s.io")
            .cloned()
            .collect();
        let mut objects = Vec::new();
        for value in self.objects {
            let api_version = value["apiVersion"].as_str().unwrap_or("");
            let kind_name = value["kind"].as_str().unwrap_or("");
            let Some(kind) = kinds
                .iter()
                .position(|k| k.group_version() == api_version && k.kind == kind_name)
            else {
                // A kind the server does not serve (metrics without metrics-server).
                continue;
            };
            let meta = &value["metadata"];
            let labels = meta["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            objects.push(Stored {
                kind,
                namespace: meta["namespace"].as_str().map(str::to_owned),
                name: meta["name"].as_str().unwrap_or("").to_owned(),
                labels,
                json: Arc::from(value.to_string()),
                value,
            });
        }
        let state = Arc::new(ServerState {
            kinds,
            objects,
            tokens: self.tokens,
            delay: self.delay,
            requests: Arc::clone(&requests),
            port: addr.port(),
            in_flight: Arc::clone(&in_flight),
            lists: Mutex::new(HashMap::new()),
        });
        let router = axum::Router::new().fallback(handle).with_state(state);
        let client_ca = self.client_ca;
        let tls = self
            .tls
            .map(|(cert, key)| tls_acceptor(&cert, &key, client_ca.as_deref()));
        let down = self.down;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                if down {
                    drop(stream);
                    continue;
                }
                let router = router.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let verified = stream
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .is_some_and(|c| !c.is_empty());
                                let router = if verified {
                                    router.layer(axum::Extension(ClientCertVerified))
                                } else {
                                    router
                                };
                                let service = hyper_util::service::TowerToHyperService::new(router);
                                let _ = http
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                        None => {
                            let service = hyper_util::service::TowerToHyperService::new(router);
                            let _ = http
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        KubeApi {
            url,
            requests,
            in_flight,
            task,
        }
    }
}

fn tls_acceptor(
    cert_pem: &str,
    key_pem: &str,
    client_ca: Option<&str>,
) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = rustls::ServerConfig::builder();
    let config = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .allow_unauthenticated()
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    }
    .with_single_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A running fake API server; stops on drop.
#[derive(Debug)]
pub struct KubeApi {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    in_flight: Arc<InFlight>,
    task: JoinHandle<()>,
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KubeApi {
    /// `http://127.0.0.1:<port>` (or `https://`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().clone()
    }

    /// The paths requested so far.
    pub fn paths(&self) -> Vec<String> {
        self.requests
            .lock()
            .iter()
            .map(|r| r.path.clone())
            .collect()
    }

    /// The most requests answered at once so far.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.max.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.requests.lock().clear();
    }
}

/// A URL where nothing listens (a port bound and released).
pub async fn unreachable_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[derive(Debug)]
struct ServerState {
    kinds: Vec<Kind>,
    objects: Vec<Stored>,
    tokens: HashMap<String, Access>,
    delay: Option<Duration>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    port: u16,
    in_flight: Arc<InFlight>,
    /// Encoded list answers by `(kind, namespace, labelSelector)`, as an API server serves
    /// lists from its watch cache: each is encoded once. The objects never change once the
    /// server runs (writes are echoed, not stored), so nothing invalidates an entry.
    lists: Mutex<HashMap<ListKey, axum::body::Bytes>>,
}

/// A list answer's `(kind index, namespace, labelSelector)`.
type ListKey = (usize, Option<String>, String);

/// Requests being answered now, and the most at once.
#[derive(Debug, Default)]
struct InFlight {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

struct InFlightGuard(Arc<InFlight>);

impl InFlightGuard {
    fn new(counter: &Arc<InFlight>) -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let n = counter.now.fetch_add(1, SeqCst) + 1;
        counter.max.fetch_max(n, SeqCst);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A Kubernetes `Status` answer.
pub fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Response {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    if let Some(d) = details {
        body["details"] = d;
    }
    json_response(StatusCode::from_u16(code).unwrap(), body.to_string())
}

fn json_response(code: StatusCode, body: String) -> Response {
    let mut res = (code, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

async fn handle(State(st): State<Arc<ServerState>>, req: Request) -> Response {
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let recorded = Recorded {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().unwrap_or("").to_owned(),
        authorization: headers.get("authorization").cloned(),
        headers,
    };
    st.requests.lock().push(recorded.clone());
    let _guard = InFlightGuard::new(&st.in_flight);
    if let Some(d) = st.delay {
        tokio::time::sleep(d).await;
    }
    let by_cert = req
        .extensions()
        .get::<ClientCertVerified>()
        .map(|_| Access::Full);
    let access = by_cert.or_else(|| {
        recorded
            .authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .and_then(|t| st.tokens.get(t).copied())
    });
    let Some(access) = access else {
        return status(401, "Unauthorized", "Unauthorized", None);
    };
    // Drain the body (the proxy tests send some); answer with its length for POST/PUT.
    let method = req.method().clone();
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let segs: Vec<&str> = recorded.path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["version"] => {
            return json_response(
                StatusCode::OK,
                json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0-backlot-fake", "platform": "linux/amd64"})
                    .to_string(),
            );
        }
        ["api"] => {
            return json_response(
                StatusCode::OK,
                json!({"kind": "APIVersions", "versions": ["v1"],
                       "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": format!("127.0.0.1:{}", st.port)}]})
                .to_string(),
            );
        }
        ["apis"] => return json_response(StatusCode::OK, group_list(&st.kinds).to_string()),
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                None,
            );
        }
    };
    let served: Vec<&Kind> = st
        .kinds
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if served.is_empty() {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        );
    }
    let (namespace, plural, name) = match rest {
        [] => return json_response(StatusCode::OK, resource_list(&served).to_string()),
        [plural] => (None, *plural, None),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural, name] => (None, *plural, Some(*name)),
        _ => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                None,
            );
        }
    };
    let Some(kind_idx) = st
        .kinds
        .iter()
        .position(|k| k.group == group && k.version == version && k.plural == plural)
    else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        );
    };
    let kind = &st.kinds[kind_idx];
    if access == Access::NoRights {
        let verb = if name.is_some() { "get" } else { "list" };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_owned(),
        };
        return status(
            403,
            "Forbidden",
            &format!(
                "{plural} is forbidden: User \"system:serviceaccount:default:no-rights\" cannot {verb} resource \"{plural}\" in API group \"{group}\" {scope}"
            ),
            Some(json!({"kind": plural})),
        );
    }
    if method != axum::http::Method::GET {
        // Writes are accepted and echoed (the proxy tests check bodies arrive whole).
        return json_response(
            StatusCode::CREATED,
            json!({"kind": kind.kind, "apiVersion": kind.group_version(), "receivedBytes": body.len()}).to_string(),
        );
    }
    if let Some(name) = name {
        return match st
            .objects
            .iter()
            .find(|o| o.kind == kind_idx && o.name == name && o.namespace.as_deref() == namespace)
        {
            Some(o) => json_response(StatusCode::OK, o.json.to_string()),
            None => status(
                404,
                "NotFound",
                &format!("{plural} \"{name}\" not found"),
                Some(json!({"name": name, "kind": plural})),
            ),
        };
    }
    let selector_text = recorded.label_selector().unwrap_or_default();
    let params: HashMap<String, String> = url::form_urlencoded::parse(recorded.query.as_bytes())
        .into_owned()
        .collect();
    let watch = params.get("watch").is_some_and(|w| w == "true" || w == "1");
    let table_wanted = accept.contains("as=Table");
    let cache_key = (
        kind_idx,
        namespace.map(str::to_owned),
        selector_text.clone(),
    );
    if !watch
        && !table_wanted
        && let Some(bytes) = st.lists.lock().get(&cache_key)
    {
        return bytes_response(bytes.clone());
    }
    let selector = match Selector::parse(&selector_text) {
        Ok(s) => s,
        Err(e) => {
            return status(
                400,
                "BadRequest",
                &format!("unable to parse requirement: {e}"),
                None,
            );
        }
    };
    let matching: Vec<&Stored> = st
        .objects
        .iter()
        .filter(|o| {
            o.kind == kind_idx
                && namespace.is_none_or(|ns| o.namespace.as_deref() == Some(ns))
                && selector.matches(&o.labels)
        })
        .collect();
    if watch {
        // A watch: an ADDED event per object, then the stream stays open until
        // `timeoutSeconds` (default 60) pass, as the API server does.
        let events: Vec<String> = matching
            .iter()
            .map(|o| format!("{{\"type\":\"ADDED\",\"object\":{}}}\n", o.json))
            .collect();
        let hold = Duration::from_secs(
            params
                .get("timeoutSeconds")
                .and_then(|t| t.parse().ok())
                .unwrap_or(60),
        );
        let stream = futures::stream::iter(
            events
                .into_iter()
                .map(|e| Ok::<_, std::io::Error>(e.into_bytes())),
        )
        .chain(futures::stream::once(async move {
            tokio::time::sleep(hold).await;
            Ok(Vec::new())
        }));
        let mut res = Response::new(Body::from_stream(stream));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return res;
    }
    if table_wanted {
        return json_response(StatusCode::OK, table(kind, &matching).to_string());
    }
    let mut out =
        String::with_capacity(matching.iter().map(|o| o.json.len() + 1).sum::<usize>() + 128);
    out.push_str(&format!(
        "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"1\"}},\"items\":[",
        kind.kind,
        kind.group_version()
    ));
    for (i, o) in matching.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&o.json);
    }
    out.push_str("]}");
    let bytes = axum::body::Bytes::from(out);
    st.lists.lock().insert(cache_key, bytes.clone());
    bytes_response(bytes)
}

fn bytes_response(bytes: axum::body::Bytes) -> Response {
    let mut res = Response::new(Body::from(bytes));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
