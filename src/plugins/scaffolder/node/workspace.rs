//! Paths an action takes from its input, confined to the task's workspace.

use std::path::{Component, Path, PathBuf};

use super::ActionError;

/// `relative` resolved against `base`, refusing anything that leaves `base`: absolute paths,
/// `..` that climbs above it, and symlinks (inside the workspace or not) that lead out of it.
/// The path need not exist yet.
///
/// ```
/// use backlot::plugins::scaffolder::node::resolve_safe_child_path;
///
/// let ws = tempfile::tempdir()?;
/// assert!(resolve_safe_child_path(ws.path(), "src/main.rs").is_ok());
/// assert!(resolve_safe_child_path(ws.path(), "a/../b").is_ok());
/// assert!(resolve_safe_child_path(ws.path(), "../outside").is_err());
/// assert!(resolve_safe_child_path(ws.path(), "/etc/passwd").is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// [`ActionError::PathEscape`] naming the path.
pub fn resolve_safe_child_path(base: &Path, relative: &str) -> Result<PathBuf, ActionError> {
    let escape = || {
        ActionError::PathEscape(format!(
            "relative path is not allowed to refer to a directory outside its parent: '{relative}'"
        ))
    };
    let rel = Path::new(relative);
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(escape());
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(escape()),
        }
    }
    let mut joined = base.to_path_buf();
    joined.extend(parts);

    // Symlinks: the deepest part that exists must still be inside the real workspace.
    let real_base = base.canonicalize().map_err(|e| {
        ActionError::Failed(format!("workspace {} is not usable: {e}", base.display()))
    })?;
    let mut probe = joined.as_path();
    loop {
        if std::fs::symlink_metadata(probe).is_ok() {
            let real = probe.canonicalize().map_err(|_| escape())?;
            if !real.starts_with(&real_base) {
                return Err(escape());
            }
            break;
        }
        match probe.parent() {
            Some(p) => probe = p,
            None => break,
        }
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes() -> Result<(), Box<dyn std::error::Error>> {
        let ws = tempfile::tempdir()?;
        for bad in ["..", "../x", "a/../../x", "/abs", "./../x"] {
            assert!(
                matches!(
                    resolve_safe_child_path(ws.path(), bad),
                    Err(ActionError::PathEscape(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            resolve_safe_child_path(ws.path(), "a/./b/../c")?,
            ws.path().join("a/c")
        );
        assert_eq!(
            resolve_safe_child_path(ws.path(), "")?,
            ws.path().to_path_buf()
        );
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_out() -> Result<(), Box<dyn std::error::Error>> {
        let ws = tempfile::tempdir()?;
        let outside = tempfile::tempdir()?;
        std::os::unix::fs::symlink(outside.path(), ws.path().join("link"))?;
        assert!(resolve_safe_child_path(ws.path(), "link/new.txt").is_err());
        assert!(resolve_safe_child_path(ws.path(), "link").is_err());
        std::fs::create_dir(ws.path().join("in"))?;
        std::os::unix::fs::symlink(ws.path().join("in"), ws.path().join("inlink"))?;
        assert!(resolve_safe_child_path(ws.path(), "inlink/x").is_ok());
        Ok(())
    }
}
