//! The native MkDocs-compatible generator.

mod admonition;
mod config;
mod markdown;
mod paths;
mod site;
mod slug;

pub use config::{MkDocsConfig, NavItem};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::GeneratorError;
use crate::plugins::techdocs::common::TechDocsMetadata;
use markdown::{PageLinks, RenderedPage};
use site::{PageView, SiteNav};

/// Options for one build.
///
/// ```
/// use backlot::plugins::techdocs::node::GenerateOptions;
///
/// let opts = GenerateOptions::new().etag("sha256:abc");
/// assert_eq!(opts.etag.as_deref(), Some("sha256:abc"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerateOptions {
    /// The source etag recorded in `techdocs_metadata.json`.
    pub etag: Option<String>,
}

impl GenerateOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the source etag.
    #[must_use]
    pub fn etag(mut self, etag: impl Into<String>) -> Self {
        self.etag = Some(etag.into());
        self
    }
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerateReport {
    /// The metadata written to `techdocs_metadata.json`.
    pub metadata: TechDocsMetadata,
    /// How many pages were rendered.
    pub pages: usize,
    /// Problems that did not stop the build (broken links, nav entries without a file).
    pub warnings: Vec<String>,
}

impl GenerateReport {
    /// A report for a build of `pages` pages without warnings.
    pub fn new(metadata: TechDocsMetadata, pages: usize) -> Self {
        Self {
            metadata,
            pages,
            warnings: Vec::new(),
        }
    }
}

/// Builds a static site from a docs source directory (Backstage's `GeneratorBase`).
///
/// ```
/// use std::path::Path;
/// use backlot::plugins::techdocs::node::{GenerateOptions, GenerateReport, Generator, GeneratorError};
///
/// /// Fails every build; a stand-in for tests.
/// #[derive(Debug)]
/// struct Broken;
///
/// impl Generator for Broken {
///     fn generate(&self, input: &Path, _: &Path, _: &GenerateOptions) -> Result<GenerateReport, GeneratorError> {
///         Err(GeneratorError::MissingConfig { dir: input.to_path_buf() })
///     }
/// }
///
/// let err = Broken.generate("src".as_ref(), "out".as_ref(), &GenerateOptions::new()).unwrap_err();
/// assert!(err.to_string().contains("mkdocs.yml"));
/// ```
pub trait Generator: Send + Sync + Debug {
    /// Builds the site of `input` into `output` (created when missing) and writes
    /// `techdocs_metadata.json` there. Blocking: async callers use `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// A [`GeneratorError`] naming the file involved.
    fn generate(
        &self,
        input: &Path,
        output: &Path,
        opts: &GenerateOptions,
    ) -> Result<GenerateReport, GeneratorError>;
}

/// The built-in generator: reads `mkdocs.yml` (`site_name`, `site_description`,
/// `docs_dir`, `nav`) and renders every Markdown file of `docs_dir` natively, with mkdocs'
/// directory URLs (`page.md` → `page/index.html`), a navigation and table of contents on
/// every page, admonitions, tables, task lists, footnotes and a search index
/// (`search/search_index.json`). Other files of `docs_dir` are copied as they are.
///
/// See the [module example](super) for a build.
#[derive(Debug, Clone, Copy, Default)]
pub struct MkDocsGenerator;

impl MkDocsGenerator {
    /// The generator.
    pub fn new() -> Self {
        Self
    }
}

struct SourceFiles {
    markdown: Vec<String>,
    other: Vec<String>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> GeneratorError + '_ {
    move |source| GeneratorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Lists `dir` recursively: hidden entries and symlinks are skipped.
fn walk(dir: &Path, prefix: &str, files: &mut SourceFiles) -> Result<(), GeneratorError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .collect::<Result<_, _>>()
        .map_err(io_err(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(io_err(&path))?;
        let rel = format!("{prefix}{name}");
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), files)?;
        } else if kind.is_file() {
            if name.ends_with(".md") {
                files.markdown.push(rel);
            } else {
                files.other.push(rel);
            }
        }
    }
    Ok(())
}

fn is_index(source: &str, readme_is_index: bool) -> bool {
    let file = source.rsplit('/').next().unwrap_or(source);
    file == "index.md" || (readme_is_index && file.eq_ignore_ascii_case("readme.md"))
}

/// The default nav: per directory its index page first, other pages alphabetically, then
/// sub-directories as sections.
fn default_nav(
    sources: &[String],
    pages: &HashMap<String, String>,
    titles: &HashMap<String, String>,
) -> Vec<SiteNav> {
    #[derive(Default)]
    struct Dir {
        pages: Vec<String>,
        dirs: BTreeMap<String, Dir>,
    }
    let mut root = Dir::default();
    for source in sources {
        let mut node = &mut root;
        let parts: Vec<&str> = source.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            node = node.dirs.entry((*part).to_owned()).or_default();
        }
        node.pages.push(source.clone());
    }
    fn build(
        dir: &Dir,
        pages: &HashMap<String, String>,
        titles: &HashMap<String, String>,
    ) -> Vec<SiteNav> {
        let mut sorted = dir.pages.clone();
        sorted.sort_by_key(|s| {
            let is_dir_index = pages.get(s).is_some_and(|u| u == paths::parent_dir(s));
            (!is_dir_index, s.to_lowercase())
        });
        let mut out: Vec<SiteNav> = sorted
            .iter()
            .filter_map(|s| {
                Some(SiteNav::Page {
                    title: titles.get(s)?.clone(),
                    url: pages.get(s)?.clone(),
                })
            })
            .collect();
        for (name, sub) in &dir.dirs {
            let children = build(sub, pages, titles);
            if !children.is_empty() {
                out.push(SiteNav::Section {
                    title: paths::title_from_path(name),
                    children,
                });
            }
        }
        out
    }
    build(&root, pages, titles)
}

fn resolve_nav(
    items: &[NavItem],
    pages: &HashMap<String, String>,
    titles: &HashMap<String, String>,
    warnings: &mut Vec<String>,
) -> Vec<SiteNav> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            NavItem::Page { title, path } => {
                let key = path.trim_start_matches("./");
                match pages.get(key) {
                    Some(url) => out.push(SiteNav::Page {
                        title: title
                            .clone()
                            .or_else(|| titles.get(key).cloned())
                            .unwrap_or_else(|| paths::title_from_path(key)),
                        url: url.clone(),
                    }),
                    None => warnings.push(format!(
                        "nav entry '{path}' is not found in the docs directory"
                    )),
                }
            }
            NavItem::Link { title, url } => out.push(SiteNav::Link {
                title: title.clone(),
                url: url.clone(),
            }),
            NavItem::Section { title, children } => out.push(SiteNav::Section {
                title: title.clone(),
                children: resolve_nav(children, pages, titles, warnings),
            }),
        }
    }
    out
}

/// Finds the title of a nav page: explicit nav titles win over headings.
fn nav_titles(items: &[NavItem], titles: &mut HashMap<String, String>) {
    for item in items {
        match item {
            NavItem::Page {
                title: Some(t),
                path,
            } => {
                titles
                    .entry(path.trim_start_matches("./").to_owned())
                    .or_insert_with(|| t.clone());
            }
            NavItem::Section { children, .. } => nav_titles(children, titles),
            _ => {}
        }
    }
}

struct Writer<'a> {
    root: &'a Path,
    files: Vec<String>,
}

impl Writer<'_> {
    fn write(&mut self, rel: &str, content: &[u8]) -> Result<(), GeneratorError> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::fs::write(&path, content).map_err(io_err(&path))?;
        self.files.push(rel.to_owned());
        Ok(())
    }

    fn copy(&mut self, from: &Path, rel: &str) -> Result<(), GeneratorError> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::fs::copy(from, &path).map_err(io_err(from))?;
        self.files.push(rel.to_owned());
        Ok(())
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

impl Generator for MkDocsGenerator {
    fn generate(
        &self,
        input: &Path,
        output: &Path,
        opts: &GenerateOptions,
    ) -> Result<GenerateReport, GeneratorError> {
        let (config, _file) = MkDocsConfig::load(input)?;
        let docs_dir: PathBuf = input.join(&config.docs_dir);
        if !docs_dir.is_dir() {
            return Err(GeneratorError::MissingDocsDir { dir: docs_dir });
        }
        let mut sources = SourceFiles {
            markdown: Vec::new(),
            other: Vec::new(),
        };
        walk(&docs_dir, "", &mut sources)?;

        // A README.md is its directory's index unless an index.md exists.
        let index_dirs: HashSet<&str> = sources
            .markdown
            .iter()
            .filter(|s| is_index(s, false))
            .map(|s| paths::parent_dir(s))
            .collect();
        let pages: HashMap<String, String> = sources
            .markdown
            .iter()
            .map(|s| {
                let readme_is_index = !index_dirs.contains(paths::parent_dir(s));
                (s.clone(), paths::page_url(s, readme_is_index))
            })
            .collect();
        let asset_set: HashSet<String> = sources.other.iter().cloned().collect();

        let mut warnings = Vec::new();
        let mut rendered: Vec<(String, RenderedPage)> = Vec::with_capacity(pages.len());
        for source in &sources.markdown {
            let path = docs_dir.join(source);
            let bytes = std::fs::read(&path).map_err(io_err(&path))?;
            let text = String::from_utf8_lossy(&bytes);
            let url = pages.get(source).map(String::as_str).unwrap_or_default();
            let page = markdown::render(
                &text,
                &PageLinks {
                    source,
                    url,
                    pages: &pages,
                    files: &asset_set,
                },
            );
            warnings.extend(page.warnings.iter().cloned());
            rendered.push((source.clone(), page));
        }

        let mut titles: HashMap<String, String> = HashMap::new();
        if let Some(nav) = &config.nav {
            nav_titles(nav, &mut titles);
        }
        let mut page_titles: HashMap<String, String> = HashMap::new();
        for (source, page) in &rendered {
            let title = page
                .title
                .clone()
                .or_else(|| titles.get(source).cloned())
                .unwrap_or_else(|| {
                    if pages.get(source).is_some_and(String::is_empty) {
                        "Home".to_owned()
                    } else {
                        paths::title_from_path(source)
                    }
                });
            page_titles.insert(source.clone(), title.clone());
            titles.entry(source.clone()).or_insert(title);
        }
        let nav = match &config.nav {
            Some(items) => resolve_nav(items, &pages, &titles, &mut warnings),
            None => default_nav(&sources.markdown, &pages, &titles),
        };

        std::fs::create_dir_all(output).map_err(io_err(output))?;
        let mut writer = Writer {
            root: output,
            files: Vec::new(),
        };
        let mut search_docs = Vec::new();
        for (source, page) in &rendered {
            let url = pages.get(source).map(String::as_str).unwrap_or_default();
            let title = page_titles
                .get(source)
                .map(String::as_str)
                .unwrap_or_default();
            let html = site::page_html(&PageView {
                site_name: &config.site_name,
                site_description: &config.site_description,
                title,
                url,
                content: &page.html,
                toc: &page.toc,
                nav: &nav,
            });
            writer.write(&format!("{url}index.html"), html.as_bytes())?;
            let all_text: Vec<&str> = page
                .sections
                .iter()
                .filter(|s| !s.text.is_empty())
                .map(|s| s.text.as_str())
                .collect();
            search_docs.push(json!({"location": url, "title": title, "text": all_text.join(" ")}));
            for section in &page.sections {
                if let Some(id) = &section.id {
                    search_docs.push(json!({
                        "location": format!("{url}#{id}"),
                        "title": section.title,
                        "text": section.text,
                    }));
                }
            }
        }
        for asset in &sources.other {
            writer.copy(&docs_dir.join(asset), asset)?;
        }
        writer.write(site::CSS_PATH, site::CSS.as_bytes())?;
        let index = json!({
            "config": {"lang": ["en"], "separator": "[\\s\\-]+", "pipeline": ["stopWordFilter"]},
            "docs": search_docs,
        });
        writer.write("search/search_index.json", index.to_string().as_bytes())?;

        let mut files = writer.files;
        files.sort();
        let metadata = TechDocsMetadata {
            site_name: config.site_name.clone(),
            site_description: config.site_description.clone(),
            etag: opts.etag.clone().unwrap_or_default(),
            build_timestamp: now_millis(),
            files,
        };
        let meta_path = output.join("techdocs_metadata.json");
        let meta_json = serde_json::to_vec(&metadata).map_err(|e| GeneratorError::Io {
            path: meta_path.clone(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(&meta_path, meta_json).map_err(io_err(&meta_path))?;
        Ok(GenerateReport {
            metadata,
            pages: rendered.len(),
            warnings,
        })
    }
}
