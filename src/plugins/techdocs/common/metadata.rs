//! `techdocs_metadata.json`.

use serde::{Deserialize, Serialize};

/// The contents of `techdocs_metadata.json`, written next to every published site.
///
/// ```
/// use backlot::plugins::techdocs::common::TechDocsMetadata;
///
/// let meta: TechDocsMetadata = serde_json::from_str(
///     r#"{"site_name":"Docs","site_description":"","etag":"sha256:1","build_timestamp":1700000000000,"files":["index.html"]}"#,
/// )?;
/// assert_eq!(meta.site_name, "Docs");
/// assert_eq!(meta.files, vec!["index.html".to_owned()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TechDocsMetadata {
    /// `site_name` from `mkdocs.yml`.
    pub site_name: String,
    /// `site_description` from `mkdocs.yml` (empty when absent).
    #[serde(default)]
    pub site_description: String,
    /// The etag of the source the site was built from; a different source etag means stale.
    #[serde(default)]
    pub etag: String,
    /// When the site was built, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub build_timestamp: i64,
    /// Every file of the published site, `/`-separated and relative to the site root.
    #[serde(default)]
    pub files: Vec<String>,
}

impl TechDocsMetadata {
    /// Metadata for a site.
    pub fn new(site_name: impl Into<String>, site_description: impl Into<String>) -> Self {
        Self {
            site_name: site_name.into(),
            site_description: site_description.into(),
            ..Self::default()
        }
    }
}
