//! What processing one entity yields: the processed entity, its typed errors and relations,
//! the children it emitted, and the hash that tells whether anything changed.

use std::fmt::Write as _;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;

use crate::plugins::catalog::common::STATUS_TYPE_CATALOG_PROCESSING;
use crate::plugins::catalog::node::ProcessorError;

use super::super::error::chain;
use super::super::locations::sha1_hex;

/// An error of processing one entity, kept in its `status.items` in Backstage's shape:
/// `{"error": {"message", "name"}, "level": "error", "message": "<name>: <message>",
/// "type": "backstage.io/catalog-processing"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessingError {
    /// The error class, as Backstage names it (`InputError`, `NotFoundError`, …).
    pub(crate) name: &'static str,
    pub(crate) message: String,
}

impl ProcessingError {
    /// An error of class `name`.
    pub(crate) fn new(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }

    /// An `InputError`: the entity or what it points at is invalid.
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self::new("InputError", message)
    }

    /// A `NotAllowedError`: catalog rules or location rules forbid it.
    pub(crate) fn not_allowed(message: impl Into<String>) -> Self {
        Self::new("NotAllowedError", message)
    }

    /// The status item as a JSON value (for dry runs, which answer with it).
    pub(crate) fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl From<&ProcessorError> for ProcessingError {
    fn from(err: &ProcessorError) -> Self {
        let name = match err {
            ProcessorError::Invalid { .. } => "InputError",
            ProcessorError::NotFound { .. } => "NotFoundError",
            _ => "Error",
        };
        Self::new(name, chain(err))
    }
}

impl Serialize for ProcessingError {
    /// Keys in sorted order, as the `serde_json::Value` maps this replaced wrote them, so that
    /// stored statuses and result hashes stay byte for byte the same.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Inner<'a>(&'a ProcessingError);
        impl Serialize for Inner<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut s = serializer.serialize_struct("Error", 2)?;
                s.serialize_field("message", &self.0.message)?;
                s.serialize_field("name", self.0.name)?;
                s.end()
            }
        }
        let mut s = serializer.serialize_struct("ProcessingError", 4)?;
        s.serialize_field("error", &Inner(self))?;
        s.serialize_field("level", "error")?;
        s.serialize_field("message", &format!("{}: {}", self.name, self.message))?;
        s.serialize_field("type", STATUS_TYPE_CATALOG_PROCESSING)?;
        s.end()
    }
}

/// A relation processing found: `source` `relation_type` `target`, entity refs in canonical
/// form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub(crate) source: String,
    pub(crate) relation_type: String,
    pub(crate) target: String,
}

/// A child entity emitted while processing.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub(super) entity_ref: String,
    pub(super) json: String,
    pub(super) hash: String,
    pub(super) location_key: String,
}

/// The outcome of processing one entity.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(super) entity_id: String,
    pub(super) entity_ref: String,
    pub(super) old_hash: Option<String>,
    /// The processed entity, `None` when processing failed (or once [`Outcome::seal`]ed).
    pub(crate) processed: Option<Value>,
    /// The processed entity's JSON text, once [`Outcome::seal`]ed.
    pub(super) processed_json: Option<String>,
    /// The result hash, once [`Outcome::seal`]ed; cleared when the write adds an error.
    pub(super) hash: Option<String>,
    pub(super) errors: Vec<ProcessingError>,
    pub(super) relations: Vec<Relation>,
    pub(super) children: Vec<Child>,
    /// A location could not be read completely: earlier children are kept, not orphaned.
    pub(super) read_failed: bool,
}

impl Outcome {
    /// Serialises the processed entity and computes the result hash now, where the outcome is
    /// made, so that the write (one at a time, on the pass's critical path) only binds them.
    /// The text is also smaller to hold than the value until the write. Sealing a sealed
    /// outcome changes nothing.
    pub(super) fn seal(mut self) -> Self {
        if self.hash.is_some() {
            return self;
        }
        if let Some(value) = self.processed.take() {
            self.processed_json = Some(value.to_string());
        }
        self.hash = Some(self.result_hash(self.processed_json.as_deref()));
        self
    }

    /// Whether processing succeeded (there is a processed entity to store), once sealed.
    pub(super) fn succeeded(&self) -> bool {
        self.processed_json.is_some()
    }

    /// What the stored result hash is made of: the processed entity, errors, relations and
    /// children. An unchanged hash means nothing needs writing. `processed` is the processed
    /// entity's JSON text (`self.processed` serialised once by the caller, who stores it too).
    pub(crate) fn result_hash(&self, processed: Option<&str>) -> String {
        let mut s = String::with_capacity(processed.map_or(0, str::len) + 64);
        if let Some(p) = processed {
            s.push_str(p);
        }
        s.push('\u{1}');
        s.push_str(&self.errors_json());
        for r in &self.relations {
            let _ = write!(s, "\u{1}{} {} {}", r.source, r.relation_type, r.target);
        }
        for c in &self.children {
            let _ = write!(s, "\u{2}{} {}", c.entity_ref, c.hash);
        }
        sha1_hex(s.as_bytes())
    }

    /// The errors as the JSON array stored in `refresh_state.errors`.
    pub(crate) fn errors_json(&self) -> String {
        serde_json::to_string(&self.errors).unwrap_or_else(|_| "[]".to_owned())
    }
}
