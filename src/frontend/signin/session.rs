//! The app's session cookie, the `next` parameter and the same-origin check of the routes
//! that set or clear the session.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The name of the app's session cookie.
pub(crate) const SESSION_COOKIE: &str = "backlot-session";

/// Longest display name kept in the cookie.
const MAX_NAME: usize = 100;
/// Longest cookie value read (browsers keep at most about 4 KiB per cookie).
const MAX_COOKIE: usize = 4096;

/// What the session cookie holds: the Backstage identity token (verified again on every
/// request; the cookie itself is not trusted), the provider and the display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionCookie {
    /// The identity token.
    #[serde(rename = "t")]
    pub(crate) token: String,
    /// The provider id.
    #[serde(rename = "p")]
    pub(crate) provider: String,
    /// `profile.displayName`, if any.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub(crate) display_name: Option<String>,
}

impl SessionCookie {
    pub(crate) fn new(token: String, provider: String, display_name: Option<String>) -> Self {
        let display_name = display_name
            .map(|n| n.trim().chars().take(MAX_NAME).collect::<String>())
            .filter(|n| !n.is_empty());
        Self {
            token,
            provider,
            display_name,
        }
    }

    /// `v1.` + base64url(JSON): only cookie-safe characters.
    pub(crate) fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("v1.{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub(crate) fn decode(value: &str) -> Option<Self> {
        if value.len() > MAX_COOKIE {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(value.strip_prefix("v1.")?).ok()?;
        let cookie: Self = serde_json::from_slice(&bytes).ok()?;
        (!cookie.token.is_empty()).then_some(cookie)
    }

    /// The session cookie from a request's `Cookie` headers.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        cookie_value(headers, SESSION_COOKIE).and_then(|v| Self::decode(&v))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Path=/, Secure on https. No
/// Max-Age: the token inside expires on its own, and an expired session of a redirect
/// provider is renewed silently from the provider's refresh cookie.
pub(crate) fn set_cookie(cookie: &SessionCookie, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
        cookie.encode()
    ))
    .ok()
}

/// `Set-Cookie` removing the session.
pub(crate) fn clear_cookie(secure: bool) -> HeaderValue {
    let value = if secure {
        "backlot-session=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0"
    } else {
        "backlot-session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    };
    HeaderValue::from_static(value)
}

/// Whether the request came over https through a proxy (`X-Forwarded-Proto: https`).
pub(crate) fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `next` when it is a path of this app (`/catalog?kind=api`), else `/`. Absolute URLs,
/// scheme-relative `//host` and `/\host`, control characters and the sign-in routes
/// themselves are refused, so a link cannot send a person elsewhere after signing in.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else {
        return "/".to_string();
    };
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2048;
    if !ok {
        return "/".to_string();
    }
    // Resolve against a placeholder origin: whatever the browser makes of it, it must stay there.
    let Ok(base) = url::Url::parse("http://app.invalid/") else {
        return "/".to_string();
    };
    match base.join(next) {
        Ok(url) if url.origin() == base.origin() => {
            let path = url.path();
            if path == "/signin" || path.starts_with("/signin/") || path == "/signout" {
                return "/".to_string();
            }
            match url.query() {
                Some(q) => format!("{path}?{q}"),
                None => path.to_string(),
            }
        }
        _ => "/".to_string(),
    }
}

/// Whether a state-changing request (sign-in, sign-out) comes from this app's own pages:
/// `Origin` (sent by browsers on every POST) must be the app's origin — `app.baseUrl` or the
/// request's `Host`; without `Origin`, `Sec-Fetch-Site` must not be `cross-site` /
/// `same-site`. A request with neither header is not from a browser, so no other site could
/// have made a person's browser send it.
pub(crate) fn same_origin(headers: &HeaderMap, app_base_url: Option<&str>) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let Some(origin) = origin {
        let Ok(origin) = url::Url::parse(origin) else {
            return false;
        };
        if let Some(base) = app_base_url.and_then(|b| url::Url::parse(b).ok())
            && base.origin() == origin.origin()
        {
            return true;
        }
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let origin_host = match (origin.host_str(), origin.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return false,
        };
        return host.is_some_and(|h| h.eq_ignore_ascii_case(&origin_host));
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_round_trips_and_junk_is_no_session() {
        let c = SessionCookie::new(
            "a.b.c".into(),
            "oidc".into(),
            Some("  Jane <script> Doe ".into()),
        );
        assert_eq!(c.display_name.as_deref(), Some("Jane <script> Doe"));
        let value = c.encode();
        assert!(
            value
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        );
        assert_eq!(SessionCookie::decode(&value), Some(c.clone()));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; backlot-session={value}; y=2")).unwrap(),
        );
        assert_eq!(SessionCookie::from_headers(&headers), Some(c));
        for junk in ["", "v1.", "v2.abc", "v1.!!!", "v1.e30", &"v1.".repeat(2000)] {
            assert_eq!(SessionCookie::decode(junk), None, "{junk}");
        }
        let set = set_cookie(&SessionCookie::new("t".into(), "guest".into(), None), true).unwrap();
        let set = set.to_str().unwrap();
        for part in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(clear_cookie(false).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn next_stays_inside_the_app() {
        assert_eq!(
            safe_next(Some("/catalog?kind=api&x=1")),
            "/catalog?kind=api&x=1"
        );
        assert_eq!(
            safe_next(Some("/catalog/default/component/shop")),
            "/catalog/default/component/shop"
        );
        assert_eq!(safe_next(Some("/a/../b")), "/b");
        for bad in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/x\r\nSet-Cookie: a=b",
            "/%0d%0a",
            "/signin?next=//evil",
            "/signout",
            "",
        ] {
            let got = safe_next(Some(bad));
            assert!(
                got == "/" || (got.starts_with('/') && !got.starts_with("//")),
                "{bad} -> {got}"
            );
            assert!(
                !got.contains("evil") || got.starts_with("/%"),
                "{bad} -> {got}"
            );
        }
        assert_eq!(safe_next(Some("/%0d%0a")), "/%0d%0a");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn only_this_apps_pages_may_post() {
        let h = |pairs: &[(&'static str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            m
        };
        let own = h(&[
            ("host", "127.0.0.1:7007"),
            ("origin", "http://127.0.0.1:7007"),
        ]);
        assert!(same_origin(&own, None));
        let evil = h(&[
            ("host", "127.0.0.1:7007"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!same_origin(&evil, None));
        assert!(!same_origin(&evil, Some("http://localhost:7007")));
        let null = h(&[("host", "127.0.0.1:7007"), ("origin", "null")]);
        assert!(!same_origin(&null, None));
        let proxied = h(&[
            ("host", "backend:7007"),
            ("origin", "https://portal.example.com"),
        ]);
        assert!(same_origin(&proxied, Some("https://portal.example.com")));
        assert!(!same_origin(&h(&[("sec-fetch-site", "cross-site")]), None));
        assert!(same_origin(&h(&[("sec-fetch-site", "same-origin")]), None));
        assert!(same_origin(&h(&[]), None));
    }
}
