//! Fetching an entity's docs source.

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use crate::plugins::catalog::common::{
    ANNOTATION_LOCATION, ANNOTATION_SOURCE_LOCATION, ANNOTATION_TECHDOCS_REF, Entity,
};
use crate::plugins::techdocs::common::{DocsRef, LocationMetadata};
use crate::services::url_reader::{ReadTreeOptions, UrlReaderService};

use super::PreparerError;

/// A docs source written to a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedSource {
    /// The source's etag (for staleness checks).
    pub etag: String,
    /// Where the source was read from.
    pub location: LocationMetadata,
}

impl PreparedSource {
    /// A prepared source with its etag and location.
    pub fn new(etag: impl Into<String>, location: LocationMetadata) -> Self {
        Self {
            etag: etag.into(),
            location,
        }
    }
}

/// Fetches an entity's docs source into a directory (Backstage's `PreparerBase`).
///
/// ```
/// use std::path::Path;
/// use backlot::plugins::catalog::common::Entity;
/// use backlot::plugins::techdocs::common::LocationMetadata;
/// use backlot::plugins::techdocs::node::{PreparedSource, Preparer, PreparerError};
///
/// /// Writes a fixed one-page source.
/// #[derive(Debug)]
/// struct Fixed;
///
/// #[async_trait::async_trait]
/// impl Preparer for Fixed {
///     async fn prepare(&self, _: &Entity, target: &Path, _: Option<&str>) -> Result<PreparedSource, PreparerError> {
///         std::fs::create_dir_all(target.join("docs")).ok();
///         std::fs::write(target.join("mkdocs.yml"), "site_name: Fixed").ok();
///         std::fs::write(target.join("docs/index.md"), "# Fixed").ok();
///         Ok(PreparedSource::new("1", LocationMetadata::new("dir", "/fixed")))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let entity = Entity::new("backstage.io/v1alpha1", "Component", "x");
/// let prepared = Fixed.prepare(&entity, dir.path(), None).await?;
/// assert_eq!(prepared.etag, "1");
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait Preparer: Send + Sync + Debug {
    /// Writes the docs source of `entity` into `target`; fails with
    /// [`PreparerError::NotModified`] when the source still has `etag`.
    async fn prepare(
        &self,
        entity: &Entity,
        target: &Path,
        etag: Option<&str>,
    ) -> Result<PreparedSource, PreparerError>;
}

/// Prepares `dir:` and `url:` references through the URL reader: `dir:<path>` relative to
/// the entity's `backstage.io/managed-by-location` (or `source-location`), `url:<url>` as
/// given. File trees come from the file reader; for URLs the reader must support trees
/// (plain HTTP does not, which is reported as a [`PreparerError::Read`] error).
///
/// ```
/// use std::sync::Arc;
/// use backlot::plugins::catalog::common::Entity;
/// use backlot::plugins::techdocs::node::{Preparer, UrlPreparer};
/// use backlot::services::url_reader::UrlReaders;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let src = tempfile::tempdir()?;
/// std::fs::write(src.path().join("mkdocs.yml"), "site_name: x")?;
/// let readers = UrlReaders::builder().file_roots([src.path()]).build()?;
/// let preparer = UrlPreparer::new(Arc::new(readers));
///
/// let mut entity = Entity::new("backstage.io/v1alpha1", "Component", "x");
/// let annotations = &mut entity.metadata.annotations;
/// annotations.insert("backstage.io/techdocs-ref".into(), "dir:.".into());
/// annotations.insert(
///     "backstage.io/managed-by-location".into(),
///     format!("file:{}", src.path().join("catalog-info.yaml").display()),
/// );
/// let out = tempfile::tempdir()?;
/// let prepared = preparer.prepare(&entity, out.path(), None).await?;
/// assert!(out.path().join("mkdocs.yml").exists());
/// assert_eq!(prepared.location.location_type, "dir");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct UrlPreparer {
    reader: Arc<dyn UrlReaderService>,
}

impl UrlPreparer {
    /// A preparer reading through `reader`.
    pub fn new(reader: Arc<dyn UrlReaderService>) -> Self {
        Self { reader }
    }

    /// Where the entity's docs source is: the `techdocs-ref` annotation resolved against its
    /// location annotations.
    ///
    /// # Errors
    ///
    /// [`PreparerError::NoDocsRef`] or [`PreparerError::Location`].
    pub fn locate(entity: &Entity) -> Result<LocationMetadata, PreparerError> {
        let name = entity.ref_string();
        let value = entity
            .metadata
            .annotation(ANNOTATION_TECHDOCS_REF)
            .ok_or_else(|| PreparerError::NoDocsRef {
                entity: name.clone(),
            })?;
        let location = |source| PreparerError::Location {
            entity: name.clone(),
            source,
        };
        DocsRef::parse(value)
            .map_err(location)?
            .resolve(
                entity.metadata.annotation(ANNOTATION_LOCATION),
                entity.metadata.annotation(ANNOTATION_SOURCE_LOCATION),
            )
            .map_err(location)
    }
}

#[async_trait::async_trait]
impl Preparer for UrlPreparer {
    async fn prepare(
        &self,
        entity: &Entity,
        target: &Path,
        etag: Option<&str>,
    ) -> Result<PreparedSource, PreparerError> {
        let location = Self::locate(entity)?;
        let mut opts = ReadTreeOptions::new();
        if let Some(etag) = etag.filter(|e| !e.is_empty()) {
            opts = opts.etag(etag);
        }
        let read_err = |source: crate::services::url_reader::UrlReaderError| {
            if source.is_not_modified() {
                PreparerError::NotModified {
                    target: location.target.clone(),
                }
            } else {
                PreparerError::Read {
                    target: location.target.clone(),
                    source,
                }
            }
        };
        let tree = self
            .reader
            .read_tree(&location.target, &opts)
            .await
            .map_err(read_err)?;
        tree.dir(target).await.map_err(read_err)?;
        Ok(PreparedSource {
            etag: tree.etag,
            location,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::url_reader::{AllowRule, UrlReaderError, UrlReaders};

    fn entity(annotations: &[(&str, &str)]) -> Entity {
        let mut e = Entity::new("backstage.io/v1alpha1", "Component", "svc");
        for (k, v) in annotations {
            e.metadata
                .annotations
                .insert((*k).to_owned(), (*v).to_owned());
        }
        e
    }

    #[tokio::test]
    async fn http_trees_are_a_clear_unsupported_error() {
        let readers = UrlReaders::builder()
            .allow(AllowRule::parse("example.com").unwrap())
            .build()
            .unwrap();
        let preparer = UrlPreparer::new(Arc::new(readers));
        let e = entity(&[(ANNOTATION_TECHDOCS_REF, "url:https://example.com/repo/docs")]);
        let out = tempfile::tempdir().unwrap();
        let err = preparer.prepare(&e, out.path(), None).await.unwrap_err();
        assert!(
            matches!(
                err,
                PreparerError::Read {
                    source: UrlReaderError::Unsupported { .. },
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn unchanged_sources_are_not_modified_and_missing_refs_are_named() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("mkdocs.yml"), "site_name: x").unwrap();
        let readers = UrlReaders::builder()
            .file_roots([src.path()])
            .build()
            .unwrap();
        let preparer = UrlPreparer::new(Arc::new(readers));
        let location = format!("file:{}", src.path().join("catalog-info.yaml").display());
        let e = entity(&[
            (ANNOTATION_TECHDOCS_REF, "dir:."),
            (ANNOTATION_LOCATION, location.as_str()),
        ]);
        let out = tempfile::tempdir().unwrap();
        let first = preparer.prepare(&e, out.path(), None).await.unwrap();
        let again = preparer
            .prepare(&e, &out.path().join("again"), Some(&first.etag))
            .await;
        assert!(matches!(again, Err(PreparerError::NotModified { .. })));

        let err = preparer
            .prepare(&entity(&[]), out.path(), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, PreparerError::NoDocsRef { ref entity } if entity == "component:default/svc")
        );
    }
}
