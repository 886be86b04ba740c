//! Page paths and URLs: where a Markdown file is published and how pages link to each other.

use std::path::Path;

/// The site URL (a directory, `""` for the home page) of a Markdown source path relative to
/// `docs_dir`: `index.md` → `""`, `a.md` → `a/`, `g/index.md` → `g/`, `g/b.md` → `g/b/`.
/// `README.md` counts as an index when `has_index` is false for its directory.
pub(crate) fn page_url(source: &str, readme_is_index: bool) -> String {
    let (dir, file) = match source.rsplit_once('/') {
        Some((d, f)) => (format!("{d}/"), f),
        None => (String::new(), source),
    };
    let stem = file.strip_suffix(".md").unwrap_or(file);
    if stem == "index" || (readme_is_index && stem.eq_ignore_ascii_case("readme")) {
        dir
    } else {
        format!("{dir}{stem}/")
    }
}

/// The directory part of a `/`-separated path (`a/b.md` → `a/`, `b.md` → `""`).
pub(crate) fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    }
}

/// Resolves `rel` against directory `base` (`/`-separated, ending in `/` or empty); `None`
/// when it climbs above the root.
pub(crate) fn join(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    let mut out = parts.join("/");
    if rel.ends_with('/') && !out.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// The relative URL from directory URL `from` (e.g. `a/b/`) to site path `to` (e.g. `c/` or
/// `img/x.png`); `./` when they are the same directory.
pub(crate) fn relative(from: &str, to: &str) -> String {
    let from_parts: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let to_parts: Vec<&str> = to.split('/').collect();
    let to_dirs = &to_parts[..to_parts.len().saturating_sub(1)];
    let common = from_parts
        .iter()
        .zip(to_dirs.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = "../".repeat(from_parts.len() - common);
    out.push_str(&to_parts[common..].join("/"));
    if out.is_empty() { "./".to_owned() } else { out }
}

/// A readable title from a file name: `getting-started.md` → `Getting started`.
pub(crate) fn title_from_path(source: &str) -> String {
    let file = Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spaced = file.replace(['-', '_'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_follow_mkdocs_directory_urls() {
        assert_eq!(page_url("index.md", false), "");
        assert_eq!(page_url("README.md", true), "");
        assert_eq!(page_url("README.md", false), "README/");
        assert_eq!(page_url("a.md", false), "a/");
        assert_eq!(page_url("g/index.md", false), "g/");
        assert_eq!(page_url("g/b.md", false), "g/b/");
    }

    #[test]
    fn relative_urls() {
        assert_eq!(relative("", "a/"), "a/");
        assert_eq!(relative("a/", "b/"), "../b/");
        assert_eq!(relative("g/b/", "g/c/"), "../c/");
        assert_eq!(relative("g/b/", ""), "../../");
        assert_eq!(relative("g/", "g/"), "./");
        assert_eq!(relative("g/b/", "g/img/x.png"), "../img/x.png");
        assert_eq!(relative("", "img/x.png"), "img/x.png");
    }

    #[test]
    fn joins_stay_inside_the_root() {
        assert_eq!(join("g/", "../a.md").as_deref(), Some("a.md"));
        assert_eq!(join("g/", "./x/y.png").as_deref(), Some("g/x/y.png"));
        assert_eq!(join("", "../a.md"), None);
        assert_eq!(title_from_path("g/getting-started.md"), "Getting started");
    }
}
