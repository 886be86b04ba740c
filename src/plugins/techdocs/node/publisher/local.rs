//! The local directory publisher.

use std::path::{Path, PathBuf};

use super::{
    METADATA_FILE, PublishResponse, Publisher, StaticFile, content_type_for, list_files,
    safe_file_path,
};
use crate::plugins::techdocs::common::{DocsEntity, TechDocsMetadata};
use crate::plugins::techdocs::node::PublisherError;

/// Publishes into a directory (`techdocs.publisher.local.publishDirectory`), one folder
/// per entity: `<namespace>/<kind>/<name>`, lowercased unless case-sensitive paths are on
/// (`techdocs.legacyUseCaseSensitiveTripletPaths`).
///
/// ```
/// use backlot::plugins::techdocs::common::DocsEntity;
/// use backlot::plugins::techdocs::node::{LocalPublisher, Publisher};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let site = tempfile::tempdir()?;
/// std::fs::write(site.path().join("index.html"), "<h1>hi</h1>")?;
/// std::fs::write(site.path().join("techdocs_metadata.json"), r#"{"site_name":"x"}"#)?;
/// let root = tempfile::tempdir()?;
/// let publisher = LocalPublisher::new(root.path());
/// let entity: DocsEntity = "default/Component/Foo".parse()?;
/// publisher.publish(&entity, site.path()).await?;
/// assert!(root.path().join("default/component/foo/index.html").exists());
/// let file = publisher.read_file(&entity, "").await?;
/// assert_eq!(file.content_type, "text/html; charset=utf-8");
/// assert_eq!(publisher.fetch_metadata(&entity).await?.site_name, "x");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LocalPublisher {
    root: PathBuf,
    case_sensitive: bool,
}

impl LocalPublisher {
    /// A publisher storing below `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            case_sensitive: false,
        }
    }

    /// Keeps the letter case of namespace, kind and name in folder names.
    #[must_use]
    pub fn case_sensitive(mut self, yes: bool) -> Self {
        self.case_sensitive = yes;
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of an entity's site.
    pub fn entity_dir(&self, entity: &DocsEntity) -> PathBuf {
        self.root.join(entity.storage_path(self.case_sensitive))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PublisherError + '_ {
    move |source| PublisherError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn publish_blocking(source: &Path, dest: &Path) -> Result<PublishResponse, PublisherError> {
    let files = list_files(source)?;
    let old: Vec<String> = std::fs::read(dest.join(METADATA_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<TechDocsMetadata>(&b).ok())
        .map(|m| m.files)
        .unwrap_or_default();
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    // The metadata goes last, so a reader that sees it sees a complete site.
    let ordered = files
        .iter()
        .filter(|f| f.as_str() != METADATA_FILE)
        .chain(files.iter().filter(|f| f.as_str() == METADATA_FILE));
    for rel in ordered {
        let target = dest.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let tmp = target.with_extension("backlot-tmp");
        std::fs::copy(source.join(rel), &tmp).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &target).map_err(io(&target))?;
    }
    for stale in old.iter().filter(|f| !files.contains(f)) {
        if let Ok(rel) = safe_file_path(stale) {
            let _ = std::fs::remove_file(dest.join(rel));
        }
    }
    Ok(PublishResponse { objects: files })
}

#[async_trait::async_trait]
impl Publisher for LocalPublisher {
    async fn publish(
        &self,
        entity: &DocsEntity,
        directory: &Path,
    ) -> Result<PublishResponse, PublisherError> {
        let source = directory.to_path_buf();
        let dest = self.entity_dir(entity);
        tokio::task::spawn_blocking(move || publish_blocking(&source, &dest))
            .await
            .map_err(|e| PublisherError::Io {
                path: directory.to_path_buf(),
                source: std::io::Error::other(e),
            })?
    }

    async fn fetch_metadata(
        &self,
        entity: &DocsEntity,
    ) -> Result<TechDocsMetadata, PublisherError> {
        let path = self.entity_dir(entity).join(METADATA_FILE);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PublisherError::NotFound {
                    path: format!(
                        "{}/{METADATA_FILE}",
                        entity.storage_path(self.case_sensitive)
                    ),
                });
            }
            Err(source) => return Err(PublisherError::Io { path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| PublisherError::InvalidMetadata {
            path: path.display().to_string(),
            source,
        })
    }

    async fn read_file(
        &self,
        entity: &DocsEntity,
        path: &str,
    ) -> Result<StaticFile, PublisherError> {
        let mut rel = safe_file_path(path)?;
        let dir = self.entity_dir(entity);
        let not_found = |rel: &str| PublisherError::NotFound {
            path: format!("{}/{rel}", entity.storage_path(self.case_sensitive)),
        };
        let mut full = dir.join(&rel);
        match tokio::fs::symlink_metadata(&full).await {
            Ok(m) if m.is_dir() => {
                rel = format!("{rel}/index.html");
                full = dir.join(&rel);
            }
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(not_found(&rel)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found(&rel)),
            Err(source) => return Err(PublisherError::Io { path: full, source }),
        }
        match tokio::fs::read(&full).await {
            Ok(content) => Ok(StaticFile {
                content_type: content_type_for(&rel),
                path: rel,
                content: content.into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found(&rel)),
            Err(source) => Err(PublisherError::Io { path: full, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn republishing_removes_stale_files_and_keeps_case_rules() {
        let root = tempfile::tempdir().unwrap();
        let entity: DocsEntity = "Default/Component/Foo".parse().unwrap();
        let publisher = LocalPublisher::new(root.path());
        let v1 = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(v1.path().join("old")).unwrap();
        std::fs::write(v1.path().join("old/index.html"), "old").unwrap();
        std::fs::write(v1.path().join("index.html"), "v1").unwrap();
        std::fs::write(
            v1.path().join(METADATA_FILE),
            r#"{"site_name":"a","files":["index.html","old/index.html"]}"#,
        )
        .unwrap();
        publisher.publish(&entity, v1.path()).await.unwrap();
        assert_eq!(
            publisher.read_file(&entity, "old").await.unwrap().content,
            "old"
        );

        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("index.html"), "v2").unwrap();
        std::fs::write(
            v2.path().join(METADATA_FILE),
            r#"{"site_name":"a","files":["index.html"]}"#,
        )
        .unwrap();
        publisher.publish(&entity, v2.path()).await.unwrap();
        assert!(matches!(
            publisher.read_file(&entity, "old/").await,
            Err(PublisherError::NotFound { .. })
        ));
        assert_eq!(
            publisher
                .read_file(&entity, "index.html")
                .await
                .unwrap()
                .content,
            "v2"
        );
        assert!(root.path().join("default/component/foo").is_dir());

        let sensitive = LocalPublisher::new(root.path()).case_sensitive(true);
        sensitive.publish(&entity, v2.path()).await.unwrap();
        assert!(
            root.path()
                .join("Default/Component/Foo/index.html")
                .exists()
        );
    }

    #[tokio::test]
    async fn unsafe_paths_and_missing_sites() {
        let root = tempfile::tempdir().unwrap();
        let publisher = LocalPublisher::new(root.path());
        let entity: DocsEntity = "default/component/none".parse().unwrap();
        assert!(matches!(
            publisher.read_file(&entity, "../../x").await,
            Err(PublisherError::UnsafePath { .. })
        ));
        assert!(matches!(
            publisher.fetch_metadata(&entity).await,
            Err(PublisherError::NotFound { .. })
        ));
        assert!(!publisher.has_docs(&entity).await.unwrap());
    }
}
