//! Reading locations: confined local files, URLs through the URL reader service, YAML
//! documents within a budget, and `$text`/`$json`/`$yaml` placeholders.

use std::sync::Arc;

use serde_json::Value;
use url::Url;

use crate::plugins::catalog::common::Entity;
use crate::plugins::catalog::node::{CatalogProcessor, Emitter, LocationSpec, ProcessorError};
use crate::services::url_reader::{
    FileUrlReader, ReadUrlOptions, UrlReader as _, UrlReaderError, UrlReaderService,
};

use super::error::{CatalogError, chain};
use super::locations::{check_origin, resolve_relative};
use super::yaml::{parse_documents_parallel, parse_single, redact};

/// What reading a location found.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    /// The content, as text.
    Text(String),
    /// Nothing there.
    NotFound,
    /// A directory within the allowed roots (`file` targets only).
    Directory,
}

/// Reads `file` and `url` locations.
///
/// - `file` targets (absolute paths, as configured and registered targets are made absolute)
///   through a [`FileUrlReader`] confined to `backend.reading.fileAllow` and the directories
///   of the configured `catalog.locations`: symlinks resolved, regular files only, at most
///   `backend.reading.maxSize` bytes, bounded by `backend.reading.timeout`.
/// - `url` targets through the backend's URL reader service, so `backend.reading.allow`
///   decides which hosts may be read; `file:` URLs and plain paths are refused.
#[derive(Debug, Clone)]
pub(crate) struct LocationReader {
    urls: Arc<dyn UrlReaderService>,
    files: FileUrlReader,
    /// `catalog.yaml.maxExpandedSize`.
    yaml_budget: u64,
}

impl LocationReader {
    pub(crate) fn new(
        urls: Arc<dyn UrlReaderService>,
        files: FileUrlReader,
        yaml_budget: u64,
    ) -> Self {
        Self {
            urls,
            files,
            yaml_budget,
        }
    }

    /// The budget of one YAML document (`catalog.yaml.maxExpandedSize`).
    pub(crate) fn yaml_budget(&self) -> u64 {
        self.yaml_budget
    }

    /// Reads a location's contents; `Ok(None)` when it does not exist.
    pub(crate) async fn read(
        &self,
        location: &LocationSpec,
    ) -> Result<Option<String>, CatalogError> {
        match self.read_outcome(location).await? {
            ReadOutcome::Text(text) => Ok(Some(text)),
            ReadOutcome::NotFound => Ok(None),
            ReadOutcome::Directory => Err(CatalogError::Read {
                location: location.to_string(),
                message: "is a directory".into(),
            }),
        }
    }

    /// Reads a location, telling a directory apart from a file.
    pub(crate) async fn read_outcome(
        &self,
        location: &LocationSpec,
    ) -> Result<ReadOutcome, CatalogError> {
        let err = |message: String| CatalogError::Read {
            location: location.to_string(),
            message,
        };
        let result = match location.location_type.as_str() {
            "file" => {
                let url = Url::from_file_path(&location.target)
                    .map_err(|()| err("a file location target must be an absolute path".into()))?;
                self.files.read_url(&url, &ReadUrlOptions::new()).await
            }
            "url" => {
                let remote = Url::parse(&location.target).is_ok_and(|u| u.scheme() != "file");
                if !remote {
                    return Err(err(
                        "a url location target must be an absolute URL, not a file".into(),
                    ));
                }
                self.urls
                    .read_url(&location.target, &ReadUrlOptions::new())
                    .await
            }
            other => return Err(err(format!("unsupported location type {other}"))),
        };
        match result {
            Ok(res) => String::from_utf8(res.bytes.to_vec())
                .map(ReadOutcome::Text)
                .map_err(|e| err(format!("content is not UTF-8 text: {e}"))),
            Err(e) if e.is_not_found() => Ok(ReadOutcome::NotFound),
            Err(UrlReaderError::Io { ref source, .. })
                if source.kind() == std::io::ErrorKind::IsADirectory =>
            {
                Ok(ReadOutcome::Directory)
            }
            Err(e) => Err(err(chain(&e))),
        }
    }
}

/// The built-in reader of `file` and `url` locations holding YAML entities.
#[derive(Debug)]
pub(crate) struct YamlLocationProcessor {
    pub(crate) reader: LocationReader,
}

#[async_trait::async_trait]
impl CatalogProcessor for YamlLocationProcessor {
    fn name(&self) -> &str {
        "builtin-yaml-reader"
    }

    async fn read_location(
        &self,
        location: &LocationSpec,
        optional: bool,
        emit: &mut Emitter,
    ) -> Result<bool, ProcessorError> {
        if location.location_type != "file" && location.location_type != "url" {
            return Ok(false);
        }
        let text = match self.reader.read(location).await {
            Ok(Some(text)) => text,
            Ok(None) if optional => return Ok(true),
            Ok(None) => {
                return Err(ProcessorError::NotFound {
                    location: location.to_string(),
                });
            }
            Err(e) => {
                emit.error(e.to_string(), location.clone());
                return Ok(true);
            }
        };
        // Each document becomes an entity on the parsing threads too; `None` is a document
        // that is not an object.
        let to_entity = |value: Value| match value {
            Value::Object(_) => {
                serde_json::from_value::<Entity>(value).map_err(|e| Some(redact(&e.to_string())))
            }
            _ => Err(None),
        };
        let docs = parse_documents_parallel(text, self.reader.yaml_budget(), to_entity).await;
        for doc in docs {
            match doc {
                Ok(Ok(entity)) => emit.entity(entity, location.clone()),
                Ok(Err(Some(message))) => emit.error(
                    format!("invalid entity in {location}: {message}"),
                    location.clone(),
                ),
                Ok(Err(None)) => emit.error(
                    format!("document in {location} is not an object"),
                    location.clone(),
                ),
                Err(message) => emit.error(format!("{message} of {location}"), location.clone()),
            }
        }
        Ok(true)
    }
}

/// Finds `{ "$text" | "$json" | "$yaml": target }` objects and replaces them with what the
/// target holds, read relative to `base`. Content that did not come from a local file may not
/// refer to local files (see [`check_origin`]).
pub(crate) async fn resolve_placeholders(
    value: &mut Value,
    base: &LocationSpec,
    reader: &LocationReader,
) -> Result<(), String> {
    let mut found = Vec::new();
    collect_placeholders(value, String::new(), &mut found);
    // Many placeholders naming one large file must not multiply it in memory.
    let mut total = 0u64;
    for (pointer, kind, target) in found {
        let location_type = if Url::parse(&target).is_ok_and(|u| u.scheme().starts_with("http")) {
            "url"
        } else {
            base.location_type.as_str()
        };
        let resolved = LocationSpec::new(
            location_type,
            resolve_relative(base, location_type, &target),
        );
        check_origin(base, &resolved).map_err(|e| format!("{kind} placeholder: {e}"))?;
        let text = match reader.read(&resolved).await {
            Ok(Some(text)) => text,
            Ok(None) => return Err(format!("{kind} placeholder target {resolved} not found")),
            Err(e) => return Err(format!("{kind} placeholder: {e}")),
        };
        total = total.saturating_add(text.len() as u64);
        if total > reader.yaml_budget() {
            return Err(format!(
                "{kind} placeholder {resolved}: the placeholders of this entity read more than \
                 catalog.yaml.maxExpandedSize ({} bytes)",
                reader.yaml_budget()
            ));
        }
        let replacement = match kind {
            "$text" => Value::String(text),
            "$json" => serde_json::from_str(&text)
                .map_err(|e| format!("$json placeholder {resolved}: {}", redact(&e.to_string())))?,
            _ => parse_single(&text, reader.yaml_budget())
                .map_err(|e| format!("$yaml placeholder {resolved}: {e}"))?,
        };
        if let Some(slot) = value.pointer_mut(&pointer) {
            *slot = replacement;
        }
    }
    Ok(())
}

fn collect_placeholders(
    value: &Value,
    pointer: String,
    out: &mut Vec<(String, &'static str, String)>,
) {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                for kind in ["$text", "$json", "$yaml"] {
                    if let Some(Value::String(target)) = map.get(kind) {
                        out.push((pointer, kind, target.clone()));
                        return;
                    }
                }
            }
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                collect_placeholders(v, format!("{pointer}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_placeholders(v, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_found_at_any_depth() {
        let v = json!({ "spec": { "definition": { "$text": "./api.yaml" }, "x": [ { "$json": "a.json" } ] } });
        let mut out = Vec::new();
        collect_placeholders(&v, String::new(), &mut out);
        assert_eq!(out.len(), 2);
        assert!(
            out.iter()
                .any(|(p, k, t)| p == "/spec/definition" && *k == "$text" && t == "./api.yaml")
        );
    }

    #[tokio::test]
    async fn url_content_cannot_read_local_files() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("secret.txt");
        std::fs::write(&secret, "secret").unwrap();
        let urls = crate::services::url_reader::UrlReaders::builder()
            .build()
            .unwrap();
        let reader = LocationReader::new(Arc::new(urls), FileUrlReader::new([tmp.path()]), 1 << 20);
        let base = LocationSpec::new("url", "https://example.com/all.yaml");
        let file_url = Url::from_file_path(&secret).unwrap().to_string();
        let mut value = json!({ "spec": { "x": { "$text": file_url } } });
        let err = resolve_placeholders(&mut value, &base, &reader)
            .await
            .unwrap_err();
        assert!(err.contains("may not refer to local files"), "{err}");
        assert!(!value.to_string().contains("secret\""));
        // The same placeholder in a local file is read.
        let base = LocationSpec::new("file", tmp.path().join("all.yaml").display().to_string());
        resolve_placeholders(&mut value, &base, &reader)
            .await
            .unwrap();
        assert_eq!(value["spec"]["x"], "secret");
        // Placeholders together may not read more than the budget.
        let small = LocationReader::new(
            Arc::new(
                crate::services::url_reader::UrlReaders::builder()
                    .build()
                    .unwrap(),
            ),
            FileUrlReader::new([tmp.path()]),
            10,
        );
        let mut value =
            json!({ "a": { "$text": "./secret.txt" }, "b": { "$text": "./secret.txt" } });
        let err = resolve_placeholders(&mut value, &base, &small)
            .await
            .unwrap_err();
        assert!(err.contains("maxExpandedSize"), "{err}");
    }
}
