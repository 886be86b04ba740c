//! Opening local files without blocking and without reading anything but regular files.
//!
//! Opening a FIFO for reading blocks until a writer appears, and a thread blocked in `open`
//! cannot be cancelled, so a timeout around the read would only abandon the thread. The file
//! type is therefore checked with `stat` before opening, the file is opened with `O_NONBLOCK`
//! (so a FIFO swapped in after the check does not block either), and the opened handle is
//! checked again with `fstat` to be the very regular file that was looked at.

use std::fs;
use std::io;
use std::path::Path;

use url::Url;

use super::UrlReaderError;

/// Pseudo file systems whose "regular" files are endless or report no size.
const SPECIAL_ROOTS: [&str; 3] = ["/proc", "/sys", "/dev"];

fn not_regular(url: &Url) -> UrlReaderError {
    UrlReaderError::Io {
        url: url.to_string(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
    }
}

/// Checks that a canonical `path` is a regular file outside the pseudo file systems, before
/// anything opens it.
pub(crate) fn regular_metadata(path: &Path, url: &Url) -> Result<fs::Metadata, UrlReaderError> {
    if SPECIAL_ROOTS.iter().any(|root| path.starts_with(root)) {
        return Err(not_regular(url));
    }
    let meta = fs::metadata(path).map_err(io_error(url))?;
    if meta.is_dir() {
        return Err(UrlReaderError::Io {
            url: url.to_string(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
        });
    }
    if !meta.is_file() {
        return Err(not_regular(url));
    }
    Ok(meta)
}

/// Opens a canonical `path` that [`regular_metadata`] accepted (`meta`), without blocking, and
/// checks the handle is still that regular file.
pub(crate) fn open_regular(
    path: &Path,
    meta: &fs::Metadata,
    url: &Url,
) -> Result<fs::File, UrlReaderError> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(io_error(url))?;
    let opened = file.metadata().map_err(io_error(url))?;
    if !opened.is_file() || !same_file(meta, &opened) {
        return Err(not_regular(url));
    }
    Ok(file)
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    true
}

/// Maps an I/O error: not found stays [`UrlReaderError::NotFound`].
pub(crate) fn io_error(url: &Url) -> impl Fn(io::Error) -> UrlReaderError + '_ {
    move |source| {
        if source.kind() == io::ErrorKind::NotFound {
            UrlReaderError::NotFound {
                url: url.to_string(),
            }
        } else {
            UrlReaderError::Io {
                url: url.to_string(),
                source,
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn fifos_devices_and_proc_files_are_refused_without_opening() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        for path in [
            fifo.as_path(),
            Path::new("/dev/zero"),
            Path::new("/proc/self/status"),
        ] {
            let url = Url::from_file_path(path).unwrap();
            let err = regular_metadata(path, &url).unwrap_err();
            assert!(
                matches!(err, UrlReaderError::Io { ref source, .. } if source.kind() == io::ErrorKind::InvalidInput),
                "{path:?}: {err:?}"
            );
        }
        // A FIFO swapped in after the check opens without blocking and is refused.
        let file = tmp.path().join("file");
        fs::write(&file, "x").unwrap();
        let meta = regular_metadata(&file, &Url::from_file_path(&file).unwrap()).unwrap();
        let url = Url::from_file_path(&fifo).unwrap();
        assert!(open_regular(&fifo, &meta, &url).is_err());
    }
}
