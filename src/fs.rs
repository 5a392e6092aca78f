//! Small file-system helpers with runlog's durability and permission rules:
//! directories `0700`, files `0600` (logs carry secrets), new directory
//! entries made durable by syncing the parent directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Create `dir` (and missing parents) with mode `0700`.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::io("create directory", dir))
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
    File::open(dir)
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
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(Error::io("create", &tmp))?;
    f.write_all(bytes).map_err(Error::io("write", &tmp))?;
    f.sync_all().map_err(Error::io("sync", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(Error::io("rename", &tmp))?;
    sync_dir(dir)
}
