//! Task secrets at rest: sealed with AES-256-GCM before they are stored, bound to their task.
//!
//! The key comes from `scaffolder.taskSecretsKey`, else is derived from the first
//! `backend.auth.keys[].secret`, else is random for this process. A sealed value names its
//! key (a short fingerprint), so a process holding another key — a replica without shared
//! config, or a restart with a per-process key — fails the task with a message saying so
//! instead of decrypting garbage.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use crate::services::config::Config;

/// Where the sealing key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `scaffolder.taskSecretsKey`.
    Configured,
    /// Derived from `backend.auth.keys`.
    BackendAuthKeys,
    /// Random, known to this process only.
    PerProcess,
}

/// Seals and opens task secrets.
pub(crate) struct SecretsSealer {
    key: LessSafeKey,
    fingerprint: String,
    source: KeySource,
    rng: SystemRandom,
}

impl fmt::Debug for SecretsSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsSealer")
            .field("fingerprint", &self.fingerprint)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Why secrets could not be sealed or opened. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SecretsError(pub(crate) String);

const VERSION: &str = "v1";

impl SecretsSealer {
    /// The sealer of this backend's config.
    pub(crate) fn from_config(
        config: &Config,
        configured: Option<&str>,
    ) -> Result<Self, SecretsError> {
        if let Some(k) = configured.filter(|k| !k.is_empty()) {
            return Self::from_material(
                b"backlot-scaffolder-task-secrets/configured",
                k.as_bytes(),
                KeySource::Configured,
            );
        }
        let auth_secret = config
            .opt_config_array("backend.auth.keys")
            .ok()
            .flatten()
            .and_then(|keys| {
                keys.into_iter()
                    .find_map(|k| k.opt_string("secret").ok().flatten())
            })
            .filter(|s| !s.is_empty());
        if let Some(secret) = auth_secret {
            return Self::from_material(
                b"backlot-scaffolder-task-secrets/backend-auth-keys",
                secret.as_bytes(),
                KeySource::BackendAuthKeys,
            );
        }
        let rng = SystemRandom::new();
        let mut random = [0u8; 32];
        rng.fill(&mut random)
            .map_err(|_| SecretsError("no randomness for the task secrets key".into()))?;
        Self::from_material(
            b"backlot-scaffolder-task-secrets/random",
            &random,
            KeySource::PerProcess,
        )
    }

    fn from_material(
        purpose: &[u8],
        material: &[u8],
        source: KeySource,
    ) -> Result<Self, SecretsError> {
        let mut h = Sha256::new();
        h.update(purpose);
        h.update([0u8]);
        h.update(material);
        let key_bytes = h.finalize();
        let fingerprint = {
            let mut f = Sha256::new();
            f.update(b"fingerprint");
            f.update(key_bytes);
            let d = f.finalize();
            d.iter()
                .take(6)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let unbound = UnboundKey::new(&AES_256_GCM, &key_bytes)
            .map_err(|_| SecretsError("invalid task secrets key".into()))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            fingerprint,
            source,
            rng: SystemRandom::new(),
        })
    }

    /// Where the key came from.
    pub(crate) fn source(&self) -> KeySource {
        self.source
    }

    /// `secrets` sealed for task `task_id`: `v1.<key fingerprint>.<base64(nonce ‖ ciphertext)>`.
    pub(crate) fn seal(
        &self,
        task_id: &str,
        secrets: &BTreeMap<String, String>,
    ) -> Result<String, SecretsError> {
        let mut data = serde_json::to_vec(secrets)
            .map_err(|e| SecretsError(format!("could not encode task secrets: {e}")))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SecretsError("no randomness for a nonce".into()))?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(task_id.as_bytes()),
                &mut data,
            )
            .map_err(|_| SecretsError("could not seal task secrets".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!(
            "{VERSION}.{}.{}",
            self.fingerprint,
            STANDARD_NO_PAD.encode(out)
        ))
    }

    /// Opens what [`seal`](Self::seal) made for `task_id`.
    pub(crate) fn open(
        &self,
        task_id: &str,
        sealed: &str,
    ) -> Result<BTreeMap<String, String>, SecretsError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(version), Some(fingerprint), Some(body)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretsError(
                "the task's stored secrets are malformed".into(),
            ));
        };
        if version != VERSION {
            return Err(SecretsError(format!(
                "the task's secrets were sealed in an unknown format '{version}'"
            )));
        }
        if fingerprint != self.fingerprint {
            return Err(SecretsError(
                "the task's secrets were sealed with another key (a per-process key of the \
                 backend that created the task, or a different scaffolder.taskSecretsKey); set \
                 the same scaffolder.taskSecretsKey on every backend instance so that tasks \
                 needing secrets can be recovered"
                    .into(),
            ));
        }
        let raw = STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| SecretsError("the task's stored secrets are malformed".into()))?;
        if raw.len() < NONCE_LEN {
            return Err(SecretsError(
                "the task's stored secrets are malformed".into(),
            ));
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| SecretsError("the task's stored secrets are malformed".into()))?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(task_id.as_bytes()), &mut data)
            .map_err(|_| SecretsError("the task's stored secrets could not be opened".into()))?;
        serde_json::from_slice(plain)
            .map_err(|_| SecretsError("the task's stored secrets are malformed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> BTreeMap<String, String> {
        BTreeMap::from([("token".to_string(), "hunter2".to_string())])
    }

    #[test]
    fn seals_and_opens_bound_to_the_task() {
        let config = Config::from_value(serde_json::json!({}));
        let s = SecretsSealer::from_config(&config, Some("k")).unwrap();
        let sealed = s.seal("t1", &secrets()).unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_eq!(s.open("t1", &sealed).unwrap(), secrets());
        assert!(s.open("t2", &sealed).is_err(), "bound to its task");
        let other = SecretsSealer::from_config(&config, Some("other")).unwrap();
        let err = other.open("t1", &sealed).unwrap_err();
        assert!(err.0.contains("scaffolder.taskSecretsKey"), "{err}");
    }

    #[test]
    fn key_sources() {
        let c = Config::from_value(
            serde_json::json!({"backend": {"auth": {"keys": [{"secret": "s"}]}}}),
        );
        let a = SecretsSealer::from_config(&c, None).unwrap();
        assert_eq!(a.source(), KeySource::BackendAuthKeys);
        let b = SecretsSealer::from_config(&c, None).unwrap();
        let sealed = a.seal("t", &secrets()).unwrap();
        assert_eq!(b.open("t", &sealed).unwrap(), secrets());
        let empty = Config::from_value(serde_json::json!({}));
        let p = SecretsSealer::from_config(&empty, None).unwrap();
        let q = SecretsSealer::from_config(&empty, None).unwrap();
        assert_eq!(p.source(), KeySource::PerProcess);
        assert!(q.open("t", &p.seal("t", &secrets()).unwrap()).is_err());
    }
}
