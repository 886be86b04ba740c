//! The pieces of Backstage's OAuth flow that travel through the browser: the `state`
//! parameter and the page that hands the result to the app's window.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::{HeaderValue, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Backstage's `OAuthState`: hex of a query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OAuthState {
    pub(crate) nonce: String,
    pub(crate) env: String,
    pub(crate) origin: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) redirect_url: Option<String>,
    pub(crate) flow: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl OAuthState {
    /// `hex(nonce=..&env=..&origin=..&scope=..&redirectUrl=..&flow=..)`, absent fields left out.
    pub(crate) fn encode(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("nonce", &self.nonce)
            .append_pair("env", &self.env);
        for (k, v) in [
            ("origin", &self.origin),
            ("scope", &self.scope),
            ("redirectUrl", &self.redirect_url),
            ("flow", &self.flow),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        hex(q.finish().as_bytes())
    }

    /// Decodes a state; `None` without `nonce` or `env`.
    pub(crate) fn decode(encoded: &str) -> Option<Self> {
        let raw = unhex(encoded)?;
        let map: BTreeMap<String, String> =
            url::form_urlencoded::parse(&raw).into_owned().collect();
        let get = |k: &str| map.get(k).filter(|v| !v.is_empty()).cloned();
        Some(Self {
            nonce: get("nonce")?,
            env: get("env")?,
            origin: get("origin"),
            scope: get("scope"),
            redirect_url: get("redirectUrl"),
            flow: get("flow"),
        })
    }
}

/// What JavaScript's `encodeURIComponent` leaves alone, minus `'` (as Backstage's
/// `safelyEncodeURIComponent`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'(')
    .remove(b')');

/// The page the popup shows at the end of a sign-in: it posts `message` (an
/// `authorization_response`) to the window that opened it, only to `app_origin`, and closes.
/// Its one script is allowed by hash; the data is percent-encoded so it cannot break out.
pub(crate) fn web_message_response(app_origin: &str, message: &serde_json::Value) -> Response {
    let data = utf8_percent_encode(&message.to_string(), COMPONENT).to_string();
    let origin = utf8_percent_encode(app_origin, COMPONENT).to_string();
    let script = format!(
        "\n    var authResponse = decodeURIComponent('{data}');\n    \
         var origin = decodeURIComponent('{origin}');\n    \
         var originInfo = {{'type': 'config_info', 'targetOrigin': origin}};\n    \
         (window.opener || window.parent).postMessage(originInfo, '*');\n    \
         (window.opener || window.parent).postMessage(JSON.parse(authResponse), origin);\n    \
         setTimeout(() => {{\n      window.close();\n    }}, 100);\n  "
    );
    let hash = base64::engine::general_purpose::STANDARD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        script.as_bytes(),
    ));
    let csp = HeaderValue::from_str(&format!("script-src 'sha256-{hash}'"))
        .unwrap_or(HeaderValue::from_static("script-src 'none'"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html")),
            (
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("sameorigin"),
            ),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        format!("<html><body><script>{script}</script></body></html>"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_as_hex_query() {
        let s = OAuthState {
            nonce: "n1".into(),
            env: "development".into(),
            redirect_url: Some("http://app/x?a=b".into()),
            flow: Some("redirect".into()),
            ..Default::default()
        };
        let e = s.encode();
        assert!(e.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            String::from_utf8(unhex(&e).unwrap()).unwrap(),
            "nonce=n1&env=development&redirectUrl=http%3A%2F%2Fapp%2Fx%3Fa%3Db&flow=redirect"
        );
        assert_eq!(OAuthState::decode(&e), Some(s));
        assert_eq!(OAuthState::decode("zz"), None);
        assert_eq!(OAuthState::decode(&hex(b"env=development")), None);
    }

    #[tokio::test]
    async fn web_message_cannot_break_out_of_its_script() {
        let res = web_message_response(
            "http://localhost:3000",
            &serde_json::json!({"type": "authorization_response", "x": "');alert(1)//</script>"}),
        );
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(!body.contains("</script>\"") && !body.contains("');alert"));
        assert_eq!(body.matches("</script>").count(), 1);
        let script =
            &body["<html><body><script>".len()..body.len() - "</script></body></html>".len()];
        let hash = base64::engine::general_purpose::STANDARD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            script.as_bytes(),
        ));
        assert_eq!(csp, format!("script-src 'sha256-{hash}'"));
    }
}
