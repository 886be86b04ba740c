//! Secrets derived from `auth.session.secret`: sealing (AES-256-GCM) of what the auth plugin
//! hands to browsers or keeps in its database, keyed derivations (HMAC-SHA256) of per-flow
//! values, and the cookies that carry them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Keys derived from the session secret.
pub(crate) struct SessionKeys {
    seal: LessSafeKey,
    mac: ring::hmac::Key,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys").finish_non_exhaustive()
    }
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `n` random bytes, base64url.
pub(crate) fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // SystemRandom only fails when the OS has no randomness; a zero token is then refused
    // later as a mismatch rather than trusted.
    let _ = SystemRandom::new().fill(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

impl SessionKeys {
    /// Keys for `secret`.
    pub(crate) fn new(secret: &str) -> Option<Self> {
        let seal_key = sha256(&[b"backlot auth seal\0", secret.as_bytes()]);
        let mac_key = sha256(&[b"backlot auth mac\0", secret.as_bytes()]);
        Some(Self {
            seal: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &seal_key).ok()?),
            mac: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &mac_key),
        })
    }

    /// Encrypts and authenticates `plain` for `purpose` (which must be given again to open).
    pub(crate) fn seal(&self, purpose: &str, plain: &[u8]) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut data = plain.to_vec();
        self.seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut data,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend(data);
        Some(URL_SAFE_NO_PAD.encode(out))
    }

    /// The plain text of a [`seal`](Self::seal)ed value, if it is intact and for `purpose`.
    pub(crate) fn open(&self, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }

    /// A value only this backend can compute from `input`, for `label` (base64url).
    pub(crate) fn derive(&self, label: &str, input: &str) -> String {
        let mut msg = label.as_bytes().to_vec();
        msg.push(0);
        msg.extend(input.as_bytes());
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.mac, &msg).as_ref())
    }
}

/// The S256 PKCE challenge of `verifier`.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(&[verifier.as_bytes()]))
}

/// The value of cookie `name` in the request's `Cookie` headers (quotes removed).
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    crate::services::auth::cookie(headers, name)
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// How the auth plugin's cookies are scoped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CookieScope {
    /// `/api/auth`, the path of the auth plugin's external base URL.
    pub(crate) base_path: String,
    /// Whether the auth plugin is served over https.
    pub(crate) secure: bool,
    /// `None` when the app is on another host than the auth plugin (and https).
    pub(crate) same_site_none: bool,
}

impl CookieScope {
    /// A `Set-Cookie` value for `name` under `/api/auth/<provider><suffix>`; `max_age` 0
    /// removes it.
    pub(crate) fn set_cookie(
        &self,
        provider: &str,
        suffix: &str,
        name: &str,
        value: &str,
        max_age: u64,
    ) -> String {
        let mut c = format!(
            "{name}={value}; Max-Age={max_age}; Path={}/{provider}{suffix}; HttpOnly",
            self.base_path.trim_end_matches('/')
        );
        if max_age == 0 {
            c.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        c.push_str(if self.same_site_none {
            "; SameSite=None"
        } else {
            "; SameSite=Lax"
        });
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_purpose_and_secret() {
        let k = SessionKeys::new("s3cret").unwrap();
        let sealed = k.seal("refresh", b"rt-123").unwrap();
        assert_eq!(k.open("refresh", &sealed).unwrap(), b"rt-123");
        assert!(k.open("other", &sealed).is_none());
        assert!(
            SessionKeys::new("other")
                .unwrap()
                .open("refresh", &sealed)
                .is_none()
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(k.open("refresh", &URL_SAFE_NO_PAD.encode(bytes)).is_none());
        assert!(k.open("refresh", "!!").is_none());
    }

    #[test]
    fn derive_is_keyed_and_labelled() {
        let k = SessionKeys::new("a").unwrap();
        assert_eq!(k.derive("pkce", "n"), k.derive("pkce", "n"));
        assert_ne!(k.derive("pkce", "n"), k.derive("nonce", "n"));
        assert_ne!(
            k.derive("pkce", "n"),
            SessionKeys::new("b").unwrap().derive("pkce", "n")
        );
    }

    #[test]
    fn pkce_matches_rfc7636_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn cookies_are_read_and_written() {
        let mut h = HeaderMap::new();
        h.insert(http::header::COOKIE, "a=1; oidc-nonce=xyz".parse().unwrap());
        assert_eq!(cookie(&h, "oidc-nonce").as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
        let scope = CookieScope {
            base_path: "/api/auth".into(),
            secure: true,
            same_site_none: false,
        };
        assert_eq!(
            scope.set_cookie("oidc", "/handler", "oidc-nonce", "n", 600),
            "oidc-nonce=n; Max-Age=600; Path=/api/auth/oidc/handler; HttpOnly; SameSite=Lax; Secure"
        );
    }
}
