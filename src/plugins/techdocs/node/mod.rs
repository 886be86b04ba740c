//! The TechDocs pipeline other backend code may use (Backstage
//! `@backstage/plugin-techdocs-node`): a [`Preparer`] fetches an entity's docs source, a
//! [`Generator`] turns it into a static site and a [`Publisher`] stores and serves the site.
//!
//! Built-in implementations: [`UrlPreparer`] (`dir:` and `url:` references through the URL
//! reader), [`MkDocsGenerator`] (native `mkdocs.yml` + Markdown builds), [`LocalPublisher`]
//! (a directory) and, with the cargo feature `s3`, `AwsS3Publisher` (any S3-compatible store).
//!
//! ```
//! use backlot::plugins::techdocs::node::{GenerateOptions, Generator, MkDocsGenerator};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let src = tempfile::tempdir()?;
//! std::fs::write(src.path().join("mkdocs.yml"), "site_name: Demo\n")?;
//! std::fs::create_dir(src.path().join("docs"))?;
//! std::fs::write(src.path().join("docs/index.md"), "# Hello\n\nSee [more](more.md).\n")?;
//! std::fs::write(src.path().join("docs/more.md"), "# More\n")?;
//! let out = tempfile::tempdir()?;
//! let report = MkDocsGenerator::new().generate(src.path(), out.path(), &GenerateOptions::new())?;
//! assert_eq!(report.metadata.site_name, "Demo");
//! let home = std::fs::read_to_string(out.path().join("index.html"))?;
//! assert!(home.contains(r#"<a href="more/">more</a>"#));
//! assert!(out.path().join("more/index.html").exists());
//! # Ok(())
//! # }
//! ```

mod error;
mod extension_point;
mod generator;
mod preparer;
mod publisher;

pub use error::{GeneratorError, PreparerError, PublisherError};
pub use extension_point::{TECHDOCS_BUILD, TechdocsBuildExtension};
pub use generator::{
    GenerateOptions, GenerateReport, Generator, MkDocsConfig, MkDocsGenerator, NavItem,
};
pub use preparer::{PreparedSource, Preparer, UrlPreparer};
#[cfg(feature = "s3")]
pub use publisher::{AwsS3Publisher, AwsS3PublisherConfig};
pub use publisher::{
    LocalPublisher, PublishResponse, Publisher, StaticFile, content_type_for, safe_file_path,
};
