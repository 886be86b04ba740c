//! Turning reader inputs (URLs, `file:` URLs, plain paths) into URLs, and path helpers.

use std::path::{Component, Path, PathBuf};

use url::Url;

use super::UrlReaderError;

/// An input resolved to a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The URL readers see; `file:` inputs and plain paths become absolute `file://` URLs.
    pub(crate) url: Url,
    /// The input was a plain path (no scheme), so file results are reported as paths.
    pub(crate) plain_path: bool,
}

/// Resolves `input`: `http(s)://…` and other URLs as they are; `file:///abs`,
/// `file:relative/path` or `file:/abs/path`, and plain paths (relative ones against `base`)
/// to a normalized absolute `file://` URL.
pub(crate) fn resolve_input(input: &str, base: &Path) -> Result<Resolved, UrlReaderError> {
    let invalid = |reason: &str| UrlReaderError::InvalidUrl {
        url: input.to_owned(),
        reason: reason.to_owned(),
    };
    if input.trim().is_empty() {
        return Err(invalid("empty url"));
    }
    if input.contains('\0') {
        return Err(invalid("contains a nul character"));
    }
    let scheme = scheme_of(input);
    let (path, plain_path) = match scheme {
        Some(s) if s.eq_ignore_ascii_case("file") => {
            let rest = &input[s.len() + 1..];
            if rest.starts_with("//") {
                let url = Url::parse(input).map_err(|e| invalid(&e.to_string()))?;
                let path = url
                    .to_file_path()
                    .map_err(|()| invalid("file url must name a local absolute path"))?;
                (path, false)
            } else {
                (PathBuf::from(rest), false)
            }
        }
        Some(_) => {
            let url = Url::parse(input).map_err(|e| invalid(&e.to_string()))?;
            return Ok(Resolved {
                url,
                plain_path: false,
            });
        }
        None => (PathBuf::from(input), true),
    };
    if path.as_os_str().is_empty() {
        return Err(invalid("empty file path"));
    }
    let absolute = normalize(&base.join(path));
    let url = Url::from_file_path(&absolute).map_err(|()| invalid("not an absolute file path"))?;
    Ok(Resolved { url, plain_path })
}

/// The scheme of `input` when it starts with one (`[a-zA-Z][a-zA-Z0-9+.-]+:`). Single
/// letters are not schemes, so Windows drive letters stay paths.
fn scheme_of(input: &str) -> Option<&str> {
    let colon = input.find(':')?;
    let scheme = &input[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (scheme.len() >= 2
        && first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// Removes `.` and resolves `..` lexically (never above the root).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !path.is_absolute() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Whether a path or pattern segment uses glob syntax.
pub(crate) fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Splits an absolute glob path into its literal base directory and the `/`-separated pattern
/// relative to it (`/repo/**/catalog-info.yaml` → `/repo`, `**/catalog-info.yaml`). `None`
/// when the path has no glob characters.
pub(crate) fn split_glob(path: &Path) -> Result<Option<(PathBuf, String)>, UrlReaderError> {
    let mut base = PathBuf::new();
    let mut pattern: Vec<String> = Vec::new();
    for component in path.components() {
        let text = component.as_os_str().to_string_lossy();
        if pattern.is_empty() && !has_glob(&text) {
            base.push(component.as_os_str());
            continue;
        }
        match component {
            Component::Normal(_) => pattern.push(text.into_owned()),
            Component::CurDir => {}
            _ => {
                return Err(UrlReaderError::InvalidUrl {
                    url: path.display().to_string(),
                    reason: "a search pattern may not contain '..' after a glob".to_owned(),
                });
            }
        }
    }
    if pattern.is_empty() {
        return Ok(None);
    }
    Ok(Some((base, pattern.join("/"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(input: &str) -> Result<Resolved, UrlReaderError> {
        resolve_input(input, Path::new("/work/app"))
    }

    #[test]
    fn urls_stay_urls() {
        let r = resolve("https://example.com/a/b.yaml").unwrap();
        assert_eq!(r.url.as_str(), "https://example.com/a/b.yaml");
        assert!(!r.plain_path);
    }

    #[test]
    fn file_inputs_become_absolute_normalized_file_urls() {
        let cases = [
            ("file:///etc/x.yaml", "file:///etc/x.yaml", false),
            (
                "file:catalog/a.yaml",
                "file:///work/app/catalog/a.yaml",
                false,
            ),
            ("file:./a.yaml", "file:///work/app/a.yaml", false),
            (
                "file:../../examples/e.yaml",
                "file:///examples/e.yaml",
                false,
            ),
            ("file:/abs/../x.yaml", "file:///x.yaml", false),
            (
                "catalog-info.yaml",
                "file:///work/app/catalog-info.yaml",
                true,
            ),
            ("/a/b/../../../c", "file:///c", true),
            ("FILE:///x", "file:///x", false),
            ("file:///a/%2e%2e/b", "file:///b", false),
        ];
        for (input, expected, plain) in cases {
            let r = resolve(input).unwrap();
            assert_eq!(r.url.as_str(), expected, "{input}");
            assert_eq!(r.plain_path, plain, "{input}");
        }
    }

    #[test]
    fn bad_inputs_are_invalid_urls() {
        for bad in [
            "",
            "  ",
            "file:",
            "file://remote-host/x",
            "http://[bad",
            "a\0b",
        ] {
            assert!(
                matches!(resolve(bad), Err(UrlReaderError::InvalidUrl { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn globs_split_at_the_first_glob_segment() {
        assert_eq!(
            split_glob(Path::new("/repo/**/catalog-info.yaml")).unwrap(),
            Some((PathBuf::from("/repo"), "**/catalog-info.yaml".to_owned()))
        );
        assert_eq!(
            split_glob(Path::new("/repo/a/*.{yaml,yml}")).unwrap(),
            Some((PathBuf::from("/repo/a"), "*.{yaml,yml}".to_owned()))
        );
        assert_eq!(split_glob(Path::new("/repo/a.yaml")).unwrap(), None);
        assert!(split_glob(Path::new("/repo/*/../x")).is_err());
    }
}
