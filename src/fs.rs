//! Small file-system helpers with runlog's durability and permission rules:
//! directories `0700`, files `0600` (logs carry secrets), new directory
//! entries made durable by syncing the parent directory.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Create `dir` (and missing parents) with mode `0700`, durably: the
/// parent of each directory created is synced, so its entry survives a
/// power loss. Nothing is synced when `dir` already exists.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = match dir.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => return Ok(()), // the root
    };
    create_dir(parent)?;
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => sync_dir(parent).inspect_err(|_| {
            // Not durable: gone again, so that a retry creates and syncs
            // it (it is empty: nothing was put in it yet).
            let _ = fs::remove_dir(dir);
        }),
        // Made meanwhile by another thread or process, whose parent sync
        // may not have finished: sync it here too.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => sync_dir(parent),
        Err(e) => Err(Error::io("create directory", dir)(e)),
    }
}

/// Open `path` for reading and writing, creating it with mode `0600`.
pub(crate) fn open_rw(path: &Path, create_new: bool) -> Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).mode(0o600);
    if create_new {
        o.create_new(true);
    } else {
        o.create(true);
    }
    o.open(path).map_err(Error::io("open", path))
}

/// `fsync` a directory so that entries created, renamed or removed in it survive a power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fault("fs::sync_dir")
        .and_then(|()| File::open(dir))
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync directory", dir))
}

/// Replace `path` with `bytes` atomically: write a temporary file beside
/// it, sync it, rename it over `path`, sync the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(Error::io("create", &tmp))?;
    write_all_at(&f, bytes, 0, "fs::write_atomic::write").map_err(Error::io("write", &tmp))?;
    f.sync_all().map_err(Error::io("sync", &tmp))?;
    drop(f);
    fault("fs::write_atomic::rename")
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(Error::io("rename", &tmp))?;
    sync_dir(dir)
}

// Fault injection for tests/failpoints_*.rs (feature `failpoints`). Without
// the feature these are plain calls and the failpoint names are unused.
// A failpoint configured `return` fails with EIO, `return(enospc)` with
// ENOSPC.

/// `Ok`, or the injected error while failpoint `name` is active.
#[inline]
pub(crate) fn fault(name: &str) -> io::Result<()> {
    #[cfg(feature = "failpoints")]
    fail::fail_point!(name, |arg: Option<String>| Err(injected(arg, 5)));
    let _ = name;
    Ok(())
}

/// `file.write_all_at(buf, offset)`; while failpoint `name` is active, a
/// short write: the first half of `buf` is written, then ENOSPC.
#[inline]
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64, name: &str) -> io::Result<()> {
    #[cfg(feature = "failpoints")]
    fail::fail_point!(name, |arg: Option<String>| {
        file.write_all_at(&buf[..buf.len() / 2], offset)?;
        Err(injected(arg, 28))
    });
    let _ = name;
    file.write_all_at(buf, offset)
}

/// The error a failpoint injects: ENOSPC for `return(enospc)`, EIO for
/// `return(eio)`, else `errno`.
#[cfg(feature = "failpoints")]
fn injected(arg: Option<String>, errno: i32) -> io::Error {
    io::Error::from_raw_os_error(match arg.as_deref() {
        Some("enospc") => 28,
        Some("eio") => 5,
        _ => errno,
    })
}

/// A handle whose `fsync` fails (the read end of a pipe: EINVAL), standing
/// in for a data file whose `fsync` fails where the caller syncs a handle
/// it was given.
#[cfg(feature = "failpoints")]
pub(crate) fn unsyncable() -> File {
    let (reader, _writer) = io::pipe().expect("pipe");
    File::from(std::os::fd::OwnedFd::from(reader))
}

/// Read into `buf` from `offset` until it is full or the file ends;
/// returns the number of bytes read (fewer if another process cut the file).
pub(crate) fn read_up_to_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Remove the file at `path`; one already gone is not an error.
pub(crate) fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn create_dir_makes_every_missing_level_private_and_is_idempotent() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        create_dir(&deep).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            let mode = fs::metadata(root.path().join(d))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{d}");
        }
        create_dir(&deep).unwrap();
        fs::write(root.path().join("a/file"), b"x").unwrap();
        assert!(
            create_dir(&root.path().join("a/file")).is_err(),
            "a file is in the way"
        );
    }
}
