//! JSON Web Tokens as Backstage uses them: ES256 signing keys with a `kid`, public keys as JWKs,
//! and verification of ES256, RS256 and HS256 signatures. Nothing else is accepted: `alg: none`
//! and any algorithm a key was not made for are refused before a signature is looked at.
//!
//! ```
//! use backlot::services::auth::jwt::{EcSigningKey, JwtHeader, Jwk, decode_verified};
//!
//! let key = EcSigningKey::generate("key-1")?;
//! let header = JwtHeader::es256(key.kid()).with_typ("vnd.backstage.plugin");
//! let token = key.sign(&header, &serde_json::json!({"sub": "search", "aud": "catalog"}))?;
//! let jwk: Jwk = key.public_jwk();
//! let (header, claims) = decode_verified(&token, &[jwk])?;
//! assert_eq!(header.typ.as_deref(), Some("vnd.backstage.plugin"));
//! assert_eq!(claims["aud"], "catalog");
//! # Ok::<(), backlot::services::auth::jwt::JwtError>(())
//! ```

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};

/// Why a token could not be made or was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    #[error("malformed token")]
    Malformed,
    /// The header names an algorithm that is not accepted (`none`, or not the key's).
    #[error("token algorithm '{0}' is not accepted")]
    Algorithm(String),
    /// No key with the token's `kid` (and algorithm).
    #[error("no key for the token")]
    UnknownKey,
    /// The signature does not match.
    #[error("invalid token signature")]
    Signature,
    /// A key could not be made or read.
    #[error("key error: {0}")]
    Key(String),
}

/// A JWT header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtHeader {
    /// The algorithm: `ES256`, `RS256` or `HS256`.
    pub alg: String,
    /// The key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The token type (`vnd.backstage.plugin`, `vnd.backstage.limited-user`, `JWT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

impl JwtHeader {
    /// An ES256 header with key id `kid`.
    pub fn es256(kid: &str) -> Self {
        Self {
            alg: "ES256".to_string(),
            kid: Some(kid.to_string()),
            typ: None,
        }
    }

    /// The same header with `typ` set.
    pub fn with_typ(mut self, typ: &str) -> Self {
        self.typ = Some(typ.to_string());
        self
    }
}

/// A public key as a JSON Web Key (`kty` `EC` with `crv`/`x`/`y`, or `RSA` with `n`/`e`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC` or `RSA` (`oct` keys are never published).
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Algorithm (`ES256`, `RS256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Use (`sig`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// EC curve (`P-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JWK set: `{"keys": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// An ES256 (ECDSA P-256, SHA-256) private key with its key id.
pub struct EcSigningKey {
    kid: String,
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl fmt::Debug for EcSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcSigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl EcSigningKey {
    /// A new random key.
    pub fn generate(kid: &str) -> Result<Self, JwtError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| JwtError::Key("cannot generate a P-256 key".to_string()))?;
        Self::from_pkcs8(kid, doc.as_ref())
    }

    /// A key from its PKCS#8 DER bytes.
    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<Self, JwtError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| JwtError::Key(format!("not a PKCS#8 P-256 key: {e}")))?;
        Ok(Self {
            kid: kid.to_string(),
            pair,
            pkcs8: der.to_vec(),
        })
    }

    /// A key from a PEM `PRIVATE KEY` (PKCS#8) block.
    pub fn from_pkcs8_pem(kid: &str, pem: &str) -> Result<Self, JwtError> {
        Self::from_pkcs8(kid, &pem_body(pem, "PRIVATE KEY")?)
    }

    /// The PKCS#8 DER bytes (keep them secret).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty: EC`, `crv: P-256`, `alg: ES256`, `use: sig`).
    pub fn public_jwk(&self) -> Jwk {
        // Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
        let point = self.pair.public_key().as_ref();
        let (x, y) = if point.len() == 65 {
            (&point[1..33], &point[33..65])
        } else {
            (&point[..0], &point[..0])
        };
        Jwk {
            kty: "EC".to_string(),
            kid: Some(self.kid.clone()),
            alg: Some("ES256".to_string()),
            use_: Some("sig".to_string()),
            crv: Some("P-256".to_string()),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            y: Some(URL_SAFE_NO_PAD.encode(y)),
            n: None,
            e: None,
        }
    }

    /// Signs `header.claims`, returning the compact token. The header's `alg` must be `ES256`.
    pub fn sign(&self, header: &JwtHeader, claims: &impl Serialize) -> Result<String, JwtError> {
        if header.alg != "ES256" {
            return Err(JwtError::Algorithm(header.alg.clone()));
        }
        let input = signing_input(header, claims)?;
        let sig = self.sign_bytes(input.as_bytes())?;
        Ok(format!("{input}.{sig}"))
    }

    /// The base64url ES256 signature of `input` (for tokens assembled by hand, such as the
    /// user identity proof of a limited token).
    pub fn sign_bytes(&self, input: &[u8]) -> Result<String, JwtError> {
        let rng = SystemRandom::new();
        let sig = self
            .pair
            .sign(&rng, input)
            .map_err(|_| JwtError::Key("signing failed".to_string()))?;
        Ok(URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// `base64url(header) + "." + base64url(claims)`.
pub fn signing_input(header: &JwtHeader, claims: &impl Serialize) -> Result<String, JwtError> {
    let h = serde_json::to_vec(header).map_err(|_| JwtError::Malformed)?;
    let c = serde_json::to_vec(claims).map_err(|_| JwtError::Malformed)?;
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(h),
        URL_SAFE_NO_PAD.encode(c)
    ))
}

/// An HS256 token signed with a shared `secret` (the legacy external-access scheme).
pub fn sign_hs256(secret: &[u8], claims: &impl Serialize) -> Result<String, JwtError> {
    let header = JwtHeader {
        alg: "HS256".to_string(),
        kid: None,
        typ: Some("JWT".to_string()),
    };
    let input = signing_input(&header, claims)?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref())))
}

/// A token split into its parts, signature not yet checked.
#[derive(Debug, Clone)]
pub struct UnverifiedToken<'a> {
    /// The decoded header.
    pub header: JwtHeader,
    /// The decoded claims.
    pub claims: serde_json::Value,
    /// `header.payload`, what the signature covers.
    pub signing_input: &'a str,
    /// The raw signature bytes.
    pub signature: Vec<u8>,
}

/// The largest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Splits and decodes a token without checking its signature. Only for routing a token to the
/// right verifier; never trust the claims before [`UnverifiedToken::verify`].
pub fn decode_unverified(token: &str) -> Result<UnverifiedToken<'_>, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: JwtHeader = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)?;
    let claims: serde_json::Value = URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)?;
    if !claims.is_object() {
        return Err(JwtError::Malformed);
    }
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    Ok(UnverifiedToken {
        header,
        claims,
        signing_input: &token[..h.len() + 1 + c.len()],
        signature,
    })
}

impl UnverifiedToken<'_> {
    /// Checks the signature against the key of `keys` whose `kid` matches the header's (or the
    /// only key, when the token has no `kid` and there is one key). The algorithm must be the
    /// key's: an EC key only verifies ES256, an RSA key only RS256.
    pub fn verify(&self, keys: &[Jwk]) -> Result<(), JwtError> {
        let alg = self.header.alg.as_str();
        if !matches!(alg, "ES256" | "RS256") {
            return Err(JwtError::Algorithm(alg.to_string()));
        }
        let key = match &self.header.kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid.as_str())),
            None if keys.len() == 1 => keys.first(),
            None => None,
        }
        .ok_or(JwtError::UnknownKey)?;
        if key.alg.as_deref().is_some_and(|a| a != alg) {
            return Err(JwtError::Algorithm(alg.to_string()));
        }
        let b64 = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
                .ok_or(JwtError::UnknownKey)
        };
        let msg = self.signing_input.as_bytes();
        match (key.kty.as_str(), alg) {
            ("EC", "ES256") => {
                if key.crv.as_deref() != Some("P-256") {
                    return Err(JwtError::UnknownKey);
                }
                let mut point = Vec::with_capacity(65);
                point.push(4u8);
                point.extend(b64(&key.x)?);
                point.extend(b64(&key.y)?);
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, &self.signature)
                    .map_err(|_| JwtError::Signature)
            }
            ("RSA", "RS256") => {
                let n = b64(&key.n)?;
                let e = b64(&key.e)?;
                signature::RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &self.signature)
                    .map_err(|_| JwtError::Signature)
            }
            _ => Err(JwtError::Algorithm(alg.to_string())),
        }
    }

    /// Checks an HS256 signature made with `secret`; any other algorithm is refused.
    pub fn verify_hs256(&self, secret: &[u8]) -> Result<(), JwtError> {
        if self.header.alg != "HS256" {
            return Err(JwtError::Algorithm(self.header.alg.clone()));
        }
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        ring::hmac::verify(&key, self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwtError::Signature)
    }
}

/// Decodes `token` and verifies it against `keys` (see [`UnverifiedToken::verify`]).
pub fn decode_verified(
    token: &str,
    keys: &[Jwk],
) -> Result<(JwtHeader, serde_json::Value), JwtError> {
    let t = decode_unverified(token)?;
    t.verify(keys)?;
    Ok((t.header, t.claims))
}

fn pem_body(pem: &str, label: &str) -> Result<Vec<u8>, JwtError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or_else(|| JwtError::Key(format!("no {label} PEM block")))?;
    let rest = &pem[start + begin.len()..];
    let stop = rest
        .find(&end)
        .ok_or_else(|| JwtError::Key(format!("unterminated {label} PEM block")))?;
    let body: String = rest[..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| JwtError::Key(format!("bad base64 in {label} PEM block")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> EcSigningKey {
        EcSigningKey::generate("k1").expect("key")
    }

    #[test]
    fn es256_round_trip_and_tamper() {
        let k = key();
        let token = k
            .sign(&JwtHeader::es256("k1"), &json!({"sub": "a"}))
            .expect("sign");
        let (_, claims) = decode_verified(&token, &[k.public_jwk()]).expect("verify");
        assert_eq!(claims["sub"], "a");
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"b"}"#);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(
            decode_verified(&forged, &[k.public_jwk()]).err(),
            Some(JwtError::Signature)
        );
    }

    #[test]
    fn other_key_and_unknown_kid_are_refused() {
        let k = key();
        let other = EcSigningKey::generate("k1").expect("key");
        let token = k.sign(&JwtHeader::es256("k1"), &json!({})).expect("sign");
        assert_eq!(
            decode_verified(&token, &[other.public_jwk()]).err(),
            Some(JwtError::Signature)
        );
        let token = k.sign(&JwtHeader::es256("k9"), &json!({})).expect("sign");
        assert_eq!(
            decode_verified(&token, &[k.public_jwk()]).err(),
            Some(JwtError::UnknownKey)
        );
    }

    #[test]
    fn alg_none_and_hs256_with_public_key_are_refused() {
        let k = key();
        let jwk = k.public_jwk();
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k1"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#)
        );
        assert_eq!(
            decode_verified(&none, std::slice::from_ref(&jwk)).err(),
            Some(JwtError::Algorithm("none".into()))
        );
        // HS256 "signed" with the public key's JSON as the secret.
        let secret = serde_json::to_vec(&jwk).expect("json");
        let hs = sign_hs256(&secret, &json!({"sub": "x"})).expect("sign");
        assert!(matches!(
            decode_verified(&hs, &[jwk]),
            Err(JwtError::Algorithm(_))
        ));
    }

    #[test]
    fn hs256_round_trip() {
        let t = sign_hs256(b"secret", &json!({"sub": "backstage-server"})).expect("sign");
        let u = decode_unverified(&t).expect("decode");
        assert!(u.verify_hs256(b"secret").is_ok());
        assert_eq!(u.verify_hs256(b"other"), Err(JwtError::Signature));
    }

    #[test]
    fn malformed_tokens() {
        for t in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            &"a".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(decode_unverified(t).is_err(), "{t:.20}");
        }
    }

    #[test]
    fn pkcs8_round_trip() {
        let k = key();
        let again = EcSigningKey::from_pkcs8("k1", k.pkcs8_der()).expect("load");
        assert_eq!(again.public_jwk(), k.public_jwk());
    }
}
