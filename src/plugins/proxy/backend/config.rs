//! `proxy.*` config read once at start into [`Endpoint`]s: regexes compiled, header names and
//! values parsed, the target split into the parts each request needs, so that forwarding a
//! request allocates only its new URI.

use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, Method};
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::error::ProxyConfigError;
use crate::services::config::{Config, parse_duration_value};

/// Where the plugin is mounted; `pathRewrite` rules see the whole path, as in Backstage.
pub(crate) const MOUNT_PATH: &str = "/api/proxy";

/// The default of `proxy.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The default of `proxy.maxWebSocketConnections`.
pub const DEFAULT_MAX_WEBSOCKETS: usize = 256;
/// The default of `proxy.maxIdleConnectionsPerTarget`.
pub const DEFAULT_MAX_IDLE_PER_TARGET: usize = 32;

/// The size limit of one compiled `pathRewrite` regex.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Headers passed in both directions whatever the endpoint says (Backstage's list: the
/// CORS-safelisted ones, `host`, and a few harmless ones).
pub(crate) const SAFE_HEADERS: [HeaderName; 11] = [
    header::CACHE_CONTROL,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::EXPIRES,
    header::LAST_MODIFIED,
    header::PRAGMA,
    header::HOST,
    header::ACCEPT,
    header::ACCEPT_LANGUAGE,
    header::USER_AGENT,
];

/// Options of `http-proxy-middleware` that Backstage passes on and backlot accepts without
/// acting on them (each is logged once at start).
const IGNORED_OPTIONS: &[&str] = &[
    "ws",
    "secure",
    "xfwd",
    "followRedirects",
    "logLevel",
    "autoRewrite",
    "hostRewrite",
    "protocolRewrite",
    "preserveHeaderKeyCase",
    "reviveRequestBody",
];

/// Who may call an endpoint and whether the caller's Backstage token goes on to the target
/// (`credentials` of an endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsPolicy {
    /// `require` (the default): a user or service token is needed; it is not forwarded.
    Require,
    /// `forward`: a token is needed and forwarded in `Authorization`.
    Forward,
    /// `dangerously-allow-unauthenticated`: anyone may call; `Authorization` is forwarded
    /// only when `allowedHeaders` lists it.
    DangerouslyAllowUnauthenticated,
}

impl CredentialsPolicy {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "require" => Some(Self::Require),
            "forward" => Some(Self::Forward),
            "dangerously-allow-unauthenticated" => Some(Self::DangerouslyAllowUnauthenticated),
            _ => None,
        }
    }
}

/// The plugin-wide settings.
#[derive(Debug, Clone)]
pub(crate) struct ProxySettings {
    pub(crate) skip_invalid: bool,
    pub(crate) timeout: Duration,
    pub(crate) max_websockets: usize,
    pub(crate) max_idle_per_target: usize,
}

impl ProxySettings {
    pub(crate) fn from_config(config: &Config) -> Result<Self, ProxyConfigError> {
        let timeout = match config.get("proxy.timeout") {
            None => DEFAULT_TIMEOUT,
            Some(v) => positive(v).map_err(|reason| ProxyConfigError::Setting {
                key: "proxy.timeout",
                reason,
            })?,
        };
        let count = |key: &'static str, default: usize| -> Result<usize, ProxyConfigError> {
            match config.opt_u64(key)? {
                None => Ok(default),
                Some(0) => Err(ProxyConfigError::Setting {
                    key,
                    reason: "must be at least 1".into(),
                }),
                Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            }
        };
        // Accepted for Backstage compatibility: backlot never consumes a request body before
        // the proxy, so there is nothing to revive.
        config.opt_bool("proxy.reviveConsumedRequestBodies")?;
        Ok(Self {
            skip_invalid: config
                .opt_bool("proxy.skipInvalidProxies")?
                .unwrap_or(false),
            timeout,
            max_websockets: count("proxy.maxWebSocketConnections", DEFAULT_MAX_WEBSOCKETS)?,
            max_idle_per_target: count(
                "proxy.maxIdleConnectionsPerTarget",
                DEFAULT_MAX_IDLE_PER_TARGET,
            )?,
        })
    }
}

fn positive(value: &Value) -> Result<Duration, String> {
    match parse_duration_value(value)? {
        d if d.is_zero() => Err("must be a positive duration".into()),
        d => Ok(d),
    }
}

/// The endpoints of the config: `proxy.endpoints`, or else the legacy keys starting with `/`
/// directly under `proxy`.
pub(crate) fn configured_endpoints(config: &Config) -> (Map<String, Value>, bool) {
    if let Some(Value::Object(map)) = config.get("proxy.endpoints") {
        return (map.clone(), false);
    }
    match config.get("proxy") {
        Some(Value::Object(root)) => {
            let legacy: Map<String, Value> = root
                .iter()
                .filter(|(k, _)| k.starts_with('/'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let is_legacy = !legacy.is_empty();
            (legacy, is_legacy)
        }
        _ => (Map::new(), false),
    }
}

/// One endpoint, ready to forward requests.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The route with a leading and no trailing `/` (`/circleci/api`).
    pub(crate) route: String,
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// The target's path without a trailing `/` (empty for the root).
    pub(crate) base_path: String,
    /// `Host` for the target (`changeOrigin`).
    pub(crate) host: HeaderValue,
    pub(crate) change_origin: bool,
    pub(crate) rewrite: Vec<(Regex, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) request_allow: Vec<HeaderName>,
    pub(crate) response_allow: Vec<HeaderName>,
    pub(crate) methods: Option<Vec<Method>>,
    pub(crate) credentials: CredentialsPolicy,
    pub(crate) timeout: Duration,
    /// Options accepted and not acted on, for a warning at start.
    pub(crate) ignored: Vec<String>,
}

/// Adds a leading `/` and drops trailing ones.
pub(crate) fn normalize_route(route: &str) -> String {
    let trimmed = route.trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

impl Endpoint {
    /// Reads one endpoint; errors name the route.
    pub(crate) fn parse(
        route: &str,
        value: &Value,
        settings: &ProxySettings,
    ) -> Result<Self, ProxyConfigError> {
        let fail = |reason: String| ProxyConfigError::Endpoint {
            route: route.to_string(),
            reason,
        };
        let normalized = normalize_route(route);
        let empty = Map::new();
        let (target, options) = match value {
            Value::String(target) => (target.as_str(), &empty),
            Value::Object(map) => match map.get("target") {
                Some(Value::String(t)) => (t.as_str(), map),
                Some(other) => {
                    return Err(fail(format!(
                        "'target' must be a string, but is {}",
                        kind(other)
                    )));
                }
                None => return Err(fail("'target' is missing".into())),
            },
            other => {
                return Err(fail(format!(
                    "expected a target URL or an object, but got {}",
                    kind(other)
                )));
            }
        };
        let url = url::Url::parse(target)
            .map_err(|e| fail(format!("target is not a valid URL ({e})")))?;
        let scheme = match url.scheme() {
            "http" => Scheme::HTTP,
            "https" => Scheme::HTTPS,
            other => {
                return Err(fail(format!(
                    "target scheme '{other}' is not http or https"
                )));
            }
        };
        let Some(host) = url.host_str() else {
            return Err(fail("target has no host".into()));
        };
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(fail(
                "target must not have a query string, a fragment or user info".into(),
            ));
        }
        let authority_text = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let authority: Authority = authority_text
            .parse()
            .map_err(|e| fail(format!("target host is invalid ({e})")))?;
        let host_value = HeaderValue::from_str(&authority_text)
            .map_err(|e| fail(format!("target host is invalid ({e})")))?;

        let mut ignored = Vec::new();
        let mut change_origin = true;
        let mut rewrite = None;
        let mut headers = HeaderMap::new();
        let mut allowed_headers = Vec::new();
        let mut methods = None;
        let mut credentials = CredentialsPolicy::Require;
        let mut timeout = settings.timeout;
        for (key, v) in options {
            match key.as_str() {
                "target" => {}
                "changeOrigin" => {
                    change_origin = v.as_bool().ok_or_else(|| {
                        fail(format!(
                            "'changeOrigin' must be a boolean, but is {}",
                            kind(v)
                        ))
                    })?;
                }
                "pathRewrite" => {
                    let map = v.as_object().ok_or_else(|| {
                        fail(format!(
                            "'pathRewrite' must be an object of regex → replacement, but is {}",
                            kind(v)
                        ))
                    })?;
                    let mut rules = Vec::new();
                    for (pattern, replacement) in map {
                        let replacement = replacement.as_str().ok_or_else(|| {
                            fail(format!(
                                "'pathRewrite' replacement for '{pattern}' must be a string"
                            ))
                        })?;
                        let regex = RegexBuilder::new(pattern)
                            .size_limit(REGEX_SIZE_LIMIT)
                            .build()
                            .map_err(|e| {
                                fail(format!("'pathRewrite' regex '{pattern}' is invalid: {e}"))
                            })?;
                        rules.push((regex, replacement.to_string()));
                    }
                    rewrite = Some(rules);
                }
                "headers" => {
                    let map = v.as_object().ok_or_else(|| {
                        fail(format!("'headers' must be an object, but is {}", kind(v)))
                    })?;
                    for (name, value) in map {
                        let header_name =
                            HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                                fail(format!("'headers' has an invalid header name '{name}'"))
                            })?;
                        let text = value
                            .as_str()
                            .ok_or_else(|| fail(format!("'headers.{name}' must be a string")))?;
                        // The value may be a secret: never in the message.
                        let header_value = HeaderValue::from_str(text).map_err(|_| {
                            fail(format!("'headers.{name}' is not a valid header value"))
                        })?;
                        headers.insert(header_name, header_value);
                    }
                }
                "allowedHeaders" => {
                    for name in strings(v).ok_or_else(|| {
                        fail("'allowedHeaders' must be a list of header names".into())
                    })? {
                        allowed_headers.push(HeaderName::from_bytes(name.as_bytes()).map_err(
                            |_| {
                                fail(format!(
                                    "'allowedHeaders' has an invalid header name '{name}'"
                                ))
                            },
                        )?);
                    }
                }
                "allowedMethods" => {
                    let mut list = Vec::new();
                    for name in strings(v).ok_or_else(|| {
                        fail("'allowedMethods' must be a list of HTTP methods".into())
                    })? {
                        list.push(Method::from_bytes(name.as_bytes()).map_err(|_| {
                            fail(format!("'allowedMethods' has an invalid method '{name}'"))
                        })?);
                    }
                    methods = Some(list);
                }
                "credentials" => {
                    let text = v.as_str().unwrap_or_default();
                    credentials = CredentialsPolicy::parse(text).ok_or_else(|| {
                        fail(format!(
                            "unknown credentials policy '{text}'; expected one of 'require', 'forward', 'dangerously-allow-unauthenticated'"
                        ))
                    })?;
                }
                "timeout" | "proxyTimeout" => {
                    timeout = positive(v).map_err(|e| fail(format!("'{key}': {e}")))?;
                }
                other => ignored.push(other.to_string()),
            }
        }
        ignored.retain(|k| !IGNORED_OPTIONS.contains(&k.as_str()) || k == "secure");

        let rewrite = match rewrite {
            Some(rules) => rules,
            None => {
                let prefix = if normalized == "/" {
                    MOUNT_PATH.to_string()
                } else {
                    format!("{MOUNT_PATH}{normalized}")
                };
                let pattern = format!("^{}/?", regex::escape(&prefix));
                let regex = Regex::new(&pattern).map_err(|e| fail(e.to_string()))?;
                vec![(regex, "/".to_string())]
            }
        };

        let mut request_allow: Vec<HeaderName> = SAFE_HEADERS.to_vec();
        request_allow.extend(headers.keys().cloned());
        request_allow.extend(allowed_headers.iter().cloned());
        if credentials == CredentialsPolicy::Forward {
            request_allow.push(header::AUTHORIZATION);
        }
        let mut response_allow: Vec<HeaderName> = SAFE_HEADERS.to_vec();
        response_allow.extend(allowed_headers);
        request_allow.dedup();
        response_allow.dedup();

        Ok(Self {
            route: normalized,
            scheme,
            authority,
            base_path: url.path().trim_end_matches('/').to_string(),
            host: host_value,
            change_origin,
            rewrite,
            headers,
            request_allow,
            response_allow,
            methods,
            credentials,
            timeout,
            ignored,
        })
    }

    /// The path of the endpoint's route under the plugin (`/route` or `/route/...`) matches.
    pub(crate) fn matches(&self, path: &str) -> bool {
        if self.route == "/" {
            return true;
        }
        match path.strip_prefix(self.route.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }

    /// The target path for `full_path` (`/api/proxy/...`): the first `pathRewrite` rule that
    /// matches rewrites it, then it is appended to the target's path.
    pub(crate) fn target_path(&self, full_path: &str) -> String {
        let mut rewritten = None;
        for (regex, replacement) in &self.rewrite {
            if regex.is_match(full_path) {
                rewritten = Some(regex.replacen(full_path, 1, replacement.as_str()));
                break;
            }
        }
        let path = rewritten.as_deref().unwrap_or(full_path);
        let mut out = String::with_capacity(self.base_path.len() + path.len() + 1);
        out.push_str(&self.base_path);
        if !path.starts_with('/') {
            out.push('/');
        }
        out.push_str(path);
        out
    }
}

fn strings(value: &Value) -> Option<Vec<&str>> {
    value.as_array()?.iter().map(Value::as_str).collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> ProxySettings {
        ProxySettings {
            skip_invalid: false,
            timeout: DEFAULT_TIMEOUT,
            max_websockets: 1,
            max_idle_per_target: 1,
        }
    }

    #[test]
    fn default_rewrite_strips_the_mount_and_route() {
        let ep =
            Endpoint::parse("larger/v1", &json!("http://h:8080/svc.v1/"), &settings()).unwrap();
        assert_eq!(ep.route, "/larger/v1");
        assert_eq!(
            ep.target_path("/api/proxy/larger/v1/some/path"),
            "/svc.v1/some/path"
        );
        assert_eq!(ep.target_path("/api/proxy/larger/v1"), "/svc.v1/");
        assert!(ep.matches("/larger/v1/x") && ep.matches("/larger/v1"));
        assert!(!ep.matches("/larger/v10"));
        assert_eq!(ep.host, "h:8080");
    }

    #[test]
    fn custom_rewrite_and_errors_name_the_route() {
        let ep = Endpoint::parse(
            "/r",
            &json!({ "target": "http://h", "pathRewrite": { "^/api/proxy/r/(\\w+)": "/v2/$1" } }),
            &settings(),
        )
        .unwrap();
        assert_eq!(ep.target_path("/api/proxy/r/items/3"), "/v2/items/3");
        let err = Endpoint::parse("/bad", &json!({ "target": 3 }), &settings()).unwrap_err();
        assert!(err.to_string().contains("'/bad'"), "{err}");
        let err = Endpoint::parse(
            "/bad",
            &json!({ "target": "http://h", "credentials": "x" }),
            &settings(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown credentials policy 'x'"),
            "{err}"
        );
    }
}
