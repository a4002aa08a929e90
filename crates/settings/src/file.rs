//! Reading a settings file that anyone may have put there (a cloned repository's
//! `.claude/settings.json` included): only a regular file, and at most a capped number of bytes.
//!
//! Must never: follow a link to a device (`/dev/zero` would be read until memory runs out),
//! block on a FIFO, or read past the cap.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("skipped {path}: it is {kind}, not a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("skipped {path}: larger than {cap} bytes")]
    TooLarge { path: PathBuf, cap: u64 },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// The bytes of the regular file at `path` (a link to one is followed), `None` when nothing is
/// there. The file is opened without blocking and checked on its open handle, so a FIFO or a
/// device swapped in after a check cannot hang or flood the reader.
pub fn read_regular_file(path: &Path, cap: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            cap,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow after the check: read one byte past the cap at most.
    file.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            cap,
        });
    }
    Ok(Some(bytes))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_large_files_are_skipped_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let zero = dir.path().join("settings.json");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        let e = read_regular_file(&zero, 1024).expect_err("/dev/zero");
        assert!(
            matches!(
                e,
                ReadError::NotRegular {
                    kind: "a character device",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("settings.json"), "{e}");

        let fifo = dir.path().join("fifo.json");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_regular_file(&fifo, 1024).expect_err("a FIFO, without blocking");
        assert!(
            matches!(e, ReadError::NotRegular { kind: "a FIFO", .. }),
            "{e}"
        );

        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; 2048]).expect("write");
        assert!(matches!(
            read_regular_file(&big, 1024),
            Err(ReadError::TooLarge { cap: 1024, .. })
        ));
        let small = dir.path().join("small.json");
        std::fs::write(&small, b"{}").expect("write");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&small, &link).expect("symlink");
        assert_eq!(
            read_regular_file(&link, 1024).expect("read"),
            Some(b"{}".to_vec())
        );
        assert_eq!(
            read_regular_file(&dir.path().join("none"), 1024).expect("absent"),
            None
        );
        assert!(matches!(
            read_regular_file(dir.path(), 1024),
            Err(ReadError::NotRegular {
                kind: "a directory",
                ..
            })
        ));
    }
}
