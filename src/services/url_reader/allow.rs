//! The host allow-list of `backend.reading.allow`.

use serde_json::Value;
use url::Url;

use super::UrlReaderError;

/// One entry of `backend.reading.allow`: a host pattern, an optional port or port range and
/// optional path prefixes.
///
/// Matching follows Backstage's `FetchUrlReader`:
///
/// - `example.com` matches exactly that host; `*.example.com` matches any subdomain at any
///   depth (`a.example.com`, `a.b.example.com`) but not `example.com` itself.
/// - Without a port the URL must not name a port other than its scheme's default
///   (`https://example.com:8443` is refused by `example.com`). `host:port` and
///   `host:from-to` match that port or inclusive range, counting the scheme's default port
///   when the URL names none (`https.org:443` matches `https://https.org/` but not
///   `http://https.org/`).
/// - `paths` are prefixes of the normalized URL path (`/dir1/` allows `/dir1/sub` but not
///   `/dir12`); without `paths` every path is allowed. With `paths`, a path holding an
///   encoded slash or backslash (`%2F`, `%5C`) never matches.
///
/// ```
/// use backlot::services::url_reader::AllowRule;
/// use url::Url;
///
/// let rule = AllowRule::parse("*.example.com")?.with_paths(["/docs/"]);
/// assert!(rule.matches(&Url::parse("https://a.b.example.com/docs/x.md")?));
/// assert!(!rule.matches(&Url::parse("https://example.com/docs/x.md")?));
/// assert!(!rule.matches(&Url::parse("https://a.example.com/other")?));
///
/// let local = AllowRule::parse("127.0.0.1:8000-8100")?;
/// assert!(local.matches(&Url::parse("http://127.0.0.1:8080/x")?));
/// assert!(!local.matches(&Url::parse("http://127.0.0.1:9000/x")?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    host: HostPattern,
    ports: Option<(u16, u16)>,
    paths: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// An exact, lowercase host name (IPv6 literals keep their brackets).
    Exact(String),
    /// A suffix starting with `.`, from `*.example.com`.
    Subdomains(String),
}

impl AllowRule {
    /// Parses a `host` value: `example.com`, `*.example.com`, `host:port` or `host:from-to`.
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::InvalidConfig`] (key `host`) for an empty host, a wildcard anywhere
    /// but a leading `*.`, or an invalid port or range.
    pub fn parse(host: &str) -> Result<Self, UrlReaderError> {
        Self::parse_at(host, "host")
    }

    fn parse_at(host: &str, key: &str) -> Result<Self, UrlReaderError> {
        let invalid = |reason: String| UrlReaderError::InvalidConfig {
            key: key.to_owned(),
            reason,
        };
        let host = host.trim();
        let (name, port) = split_host_port(host);
        let name = name.to_ascii_lowercase();
        if name.is_empty() {
            return Err(invalid(format!("host '{host}' has no host name")));
        }
        let pattern = match name.strip_prefix('*') {
            Some(suffix)
                if suffix.starts_with('.') && suffix.len() > 1 && !suffix.contains('*') =>
            {
                HostPattern::Subdomains(suffix.to_owned())
            }
            Some(_) => {
                return Err(invalid(format!(
                    "host '{host}' may only use a wildcard as a leading '*.'"
                )));
            }
            None if name.contains('*') => {
                return Err(invalid(format!(
                    "host '{host}' may only use a wildcard as a leading '*.'"
                )));
            }
            None => HostPattern::Exact(name),
        };
        let ports = port
            .map(|p| {
                parse_port_range(p)
                    .ok_or_else(|| invalid(format!("port '{p}' is not a valid port or range")))
            })
            .transpose()?;
        Ok(Self {
            host: pattern,
            ports,
            paths: None,
        })
    }

    /// Restricts the rule to URLs whose normalized path starts with one of `paths`.
    #[must_use]
    pub fn with_paths<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.paths = Some(paths.into_iter().map(Into::into).collect());
        self
    }

    /// Whether the rule allows the URL.
    pub fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.strip_suffix('.').unwrap_or(host).as_bytes();
        let host_ok = match &self.host {
            HostPattern::Exact(name) => host.eq_ignore_ascii_case(name.as_bytes()),
            HostPattern::Subdomains(suffix) => {
                host.len() > suffix.len()
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
            }
        };
        if !host_ok {
            return false;
        }
        let port_ok = match self.ports {
            None => url.port().is_none(),
            Some((from, to)) => url
                .port_or_known_default()
                .is_some_and(|p| (from..=to).contains(&p)),
        };
        if !port_ok {
            return false;
        }
        match &self.paths {
            None => true,
            Some(prefixes) => {
                // `Url` has already resolved `.` and `..` segments (also `%2e%2e`). Encoded
                // slashes and backslashes could be decoded into separators by the server
                // and so turn `/docs/..%2Fprivate` into `/private`: never allowed here.
                let path = url.path();
                if contains_ignore_case(path, "%2f") || contains_ignore_case(path, "%5c") {
                    return false;
                }
                prefixes
                    .iter()
                    .any(|prefix| path.starts_with(prefix.as_str()))
            }
        }
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Splits `host[:port]`, leaving bracketed IPv6 literals intact.
fn split_host_port(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        if let Some(end) = host.find(']') {
            let (name, rest) = host.split_at(end + 1);
            return (name, rest.strip_prefix(':'));
        }
        return (host, None);
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

/// Parses `443` or `8000-8100` (inclusive, `from <= to`, no zero).
fn parse_port_range(port: &str) -> Option<(u16, u16)> {
    let parse = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0);
    match port.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (parse(from)?, parse(to)?);
            (from <= to).then_some((from, to))
        }
        None => parse(port).map(|p| (p, p)),
    }
}

/// The hosts the generic HTTP reader may fetch (`backend.reading.allow`). Empty by default:
/// nothing is allowed, not even `localhost`.
///
/// ```
/// use backlot::services::url_reader::AllowList;
/// use url::Url;
///
/// let config = serde_json::json!([
///     { "host": "example.com" },
///     { "host": "docs.internal:8443", "paths": ["/public/"] },
/// ]);
/// let allow = AllowList::from_config(Some(&config))?;
/// assert!(allow.allows(&Url::parse("https://example.com/catalog-info.yaml")?));
/// assert!(allow.allows(&Url::parse("https://docs.internal:8443/public/a")?));
/// assert!(!allow.allows(&Url::parse("https://docs.internal:8443/private/a")?));
/// assert!(!allow.allows(&Url::parse("http://localhost/")?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    rules: Vec<AllowRule>,
}

impl AllowList {
    /// An allow-list of the given rules.
    pub fn new(rules: Vec<AllowRule>) -> Self {
        Self { rules }
    }

    /// Reads the value of `backend.reading.allow`: a list of `{ host, paths? }` objects.
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::InvalidConfig`] naming the offending key, e.g.
    /// `backend.reading.allow[1].host`.
    pub fn from_config(value: Option<&Value>) -> Result<Self, UrlReaderError> {
        const KEY: &str = "backend.reading.allow";
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(Self::default());
        };
        let entries = value
            .as_array()
            .ok_or_else(|| UrlReaderError::InvalidConfig {
                key: KEY.to_owned(),
                reason: "expected a list of { host, paths? } objects".to_owned(),
            })?;
        let mut rules = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let host_key = format!("{KEY}[{i}].host");
            let host = entry.get("host").and_then(Value::as_str).ok_or_else(|| {
                UrlReaderError::InvalidConfig {
                    key: host_key.clone(),
                    reason: "expected a host string".to_owned(),
                }
            })?;
            let mut rule = AllowRule::parse_at(host, &host_key)?;
            if let Some(paths) = entry.get("paths").filter(|v| !v.is_null()) {
                let paths_key = format!("{KEY}[{i}].paths");
                let list = paths
                    .as_array()
                    .ok_or_else(|| UrlReaderError::InvalidConfig {
                        key: paths_key.clone(),
                        reason: "expected a list of path prefixes".to_owned(),
                    })?;
                let mut prefixes = Vec::with_capacity(list.len());
                for (j, p) in list.iter().enumerate() {
                    let prefix = p.as_str().filter(|s| s.starts_with('/')).ok_or_else(|| {
                        UrlReaderError::InvalidConfig {
                            key: format!("{paths_key}[{j}]"),
                            reason: "expected a path prefix starting with '/'".to_owned(),
                        }
                    })?;
                    prefixes.push(prefix.to_owned());
                }
                rule = rule.with_paths(prefixes);
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// Adds a rule.
    #[must_use]
    pub fn with_rule(mut self, rule: AllowRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The rules, in configuration order.
    pub fn rules(&self) -> &[AllowRule] {
        &self.rules
    }

    /// Whether any rule allows the URL.
    pub fn allows(&self, url: &Url) -> bool {
        self.rules.iter().any(|r| r.matches(url))
    }

    /// Whether the list has no rules (and so allows nothing).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    /// The matrix of Backstage's own FetchUrlReader predicate test.
    #[test]
    fn backstage_predicate_matrix() {
        let allow = AllowList::from_config(Some(&json!([
            { "host": "example.com" },
            { "host": "example.com:100-200" },
            { "host": "example.com:700" },
            { "host": "*.examples.org" },
            { "host": "*.examples.org:700" },
            { "host": "*.examples.org:900-1000" },
            { "host": "https.org:443" },
            { "host": "http.org:80" },
            { "host": "foobar.org", "paths": ["/dir1/"] },
        ])))
        .unwrap();
        let cases = [
            ("https://example.com/test", true),
            ("https://a.example.com/test", false),
            ("https://example.com:600/test", false),
            ("https://a.example.com:600/test", false),
            ("https://example.com:700/test", true),
            ("https://a.example.com:700/test", false),
            ("https://other.com/test", false),
            ("https://examples.org/test", false),
            ("https://a.examples.org/test", true),
            ("https://a.b.examples.org/test", true),
            ("https://examples.org:600/test", false),
            ("https://a.examples.org:600/test", false),
            ("https://examples.org:700/test", false),
            ("https://a.examples.org:700/test", true),
            ("https://a.b.examples.org:700/test", true),
            ("https://foobar.org/dir1/subpath", true),
            ("https://foobar.org/dir12", false),
            ("https://foobar.org/", false),
            ("https://a.examples.org:900/test", true),
            ("https://a.examples.org:1000/test", true),
            ("https://a.examples.org:950/test", true),
            ("https://a.examples.org:1050/test", false),
            ("https://example.com:150/test", true),
            ("https://example.com:4000/test", false),
            ("https://https.org", true),
            ("http://https.org", false),
            ("http://http.org", true),
            ("https://http.org", false),
        ];
        for (u, expected) in cases {
            assert_eq!(allow.allows(&url(u)), expected, "{u}");
        }
    }

    #[test]
    fn path_prefix_is_checked_after_dot_segment_normalization() {
        let rule = AllowRule::parse("foobar.org")
            .unwrap()
            .with_paths(["/dir1/"]);
        assert!(!rule.matches(&url("https://foobar.org/dir1/../secret")));
        assert!(!rule.matches(&url("https://foobar.org/dir1/%2e%2e/secret")));
        assert!(rule.matches(&url("https://foobar.org/dir1/./a/../b")));
        assert!(!rule.matches(&url("https://foobar.org/dir1/..%2Fsecret")));
        assert!(!rule.matches(&url("https://foobar.org/dir1/..%5csecret")));
        assert!(!rule.matches(&url("https://foobar.org/dir1/..\\secret")));
        // Without path restrictions encoded slashes are the server's business.
        let open = AllowRule::parse("foobar.org").unwrap();
        assert!(open.matches(&url("https://foobar.org/a%2Fb")));
    }

    #[test]
    fn hosts_are_case_insensitive_and_ipv6_works() {
        assert!(
            AllowRule::parse("Example.COM")
                .unwrap()
                .matches(&url("https://EXAMPLE.com/x"))
        );
        let v6 = AllowRule::parse("[::1]:8080").unwrap();
        assert!(v6.matches(&url("http://[::1]:8080/x")));
        assert!(!v6.matches(&url("http://[::1]:8081/x")));
        assert!(
            !AllowRule::parse("[::1]")
                .unwrap()
                .matches(&url("http://[::1]:8081/x"))
        );
    }

    #[test]
    fn malformed_hosts_and_ports_are_config_errors() {
        for bad in [
            "example.com:100-",
            "example.com:-",
            "example.com:100-50",
            "example.com:nb-300",
            "example.com:0",
            "example.com:70000",
            "prod.*.example.com",
            "*example.com",
            "*.",
            "",
            ":80",
        ] {
            assert!(
                matches!(
                    AllowRule::parse(bad),
                    Err(UrlReaderError::InvalidConfig { .. })
                ),
                "{bad:?} should be refused"
            );
        }
        let err =
            AllowList::from_config(Some(&json!([{ "host": "a.com" }, { "host": 3 }]))).unwrap_err();
        assert!(
            matches!(err, UrlReaderError::InvalidConfig { ref key, .. } if key == "backend.reading.allow[1].host")
        );
        let err = AllowList::from_config(Some(&json!([{ "host": "a.com", "paths": ["nope"] }])))
            .unwrap_err();
        assert!(
            matches!(err, UrlReaderError::InvalidConfig { ref key, .. } if key == "backend.reading.allow[0].paths[0]")
        );
    }

    #[test]
    fn empty_list_allows_nothing() {
        let allow = AllowList::from_config(None).unwrap();
        assert!(allow.is_empty());
        assert!(!allow.allows(&url("http://localhost/")));
        assert!(!allow.allows(&url("http://127.0.0.1/")));
    }
}
