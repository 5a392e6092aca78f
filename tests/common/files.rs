//! Directory snapshots, to prove that a call changed nothing on disk (or
//! only what it should).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// What a path is, for before/after comparisons (file contents included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(PathBuf),
    Other,
}

/// Every entry under `root` (not following symlinks), with file contents.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    fn walk(p: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        for e in fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            let m = fs::symlink_metadata(&path).unwrap();
            let node = if m.is_dir() {
                walk(&path, out);
                Node::Dir
            } else if m.is_file() {
                Node::File(fs::read(&path).unwrap())
            } else if m.file_type().is_symlink() {
                Node::Symlink(fs::read_link(&path).unwrap())
            } else {
                Node::Other
            };
            out.insert(path, node);
        }
    }
    walk(root, &mut out);
    out
}
