//! Indexes a command creates on its own (`register` into a new directory, `init`, `demo
//! --index`): when the command then fails, what it created is removed again, so a failed
//! command leaves the file system as it found it.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use adaptdb::store::CATALOG_FILE;
use adaptdb::{Index, Params, StoreError};

use super::PathContext;

/// Whether a command may use an index that exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Open it (`register`).
    Open,
    /// Refuse it: the command creates the index (`init`, `demo --index`).
    Refuse,
}

/// Runs `work` on the index in `dir`, creating it with `params` first when there is none;
/// `work` learns whether it was created. When this call created the index and then
/// fails, it removes exactly what it created: the topmost directory that did not exist
/// before, or the new entries of a directory that existed without an index.
pub fn with_index<T>(
    dir: &Path,
    params: Params,
    existing: Existing,
    work: impl FnOnce(&Index, bool) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let undo = Undo::before(dir);
    if matches!(undo, Undo::Nothing) && existing == Existing::Open && dir.is_dir() {
        let index = Index::open(dir).doing("opening index", dir)?;
        return work(&index, false);
    }
    let created = match Index::create(dir, params) {
        // Another process created it since `Undo::before` looked: it is not ours to remove.
        Err(adaptdb::Error::Store(StoreError::Exists { .. })) if existing == Existing::Open => {
            let index = Index::open(dir).doing("opening index", dir)?;
            return work(&index, false);
        }
        // `init` or `demo --index` on an existing index: refused, and nothing to undo.
        Err(e @ adaptdb::Error::Store(StoreError::Exists { .. })) => {
            return Err(e).doing("creating index", dir);
        }
        created => created.doing("creating index", dir),
    };
    // IMPORTANT: undo only what this command created. A creation that failed may have
    // lost a race with another process creating the same index (it then holds the lock):
    // removing the directory then would delete that process's committed registration.
    let index = created?;
    let result = work(&index, true);
    // The index is dropped (its files closed) before `undo` removes them.
    drop(index);
    if result.is_err() {
        undo.run(dir);
    }
    result
}

/// What to remove if a command that creates an index at a path fails.
enum Undo {
    /// An index (or a file) was there already: remove nothing.
    Nothing,
    /// This directory, the topmost ancestor of the index path that did not exist.
    Remove(PathBuf),
    /// The index directory existed without an index: remove only entries not in this set.
    NewEntries(BTreeSet<OsString>),
}

impl Undo {
    /// Looks at `dir` before anything is created there.
    fn before(dir: &Path) -> Self {
        // `symlink_metadata`: a dangling link is something that exists, never ours.
        let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
        if !exists(dir) {
            let missing = dir
                .ancestors()
                .take_while(|a| !a.as_os_str().is_empty() && !exists(a))
                .last();
            return missing.map_or(Self::Nothing, |top| Self::Remove(top.to_path_buf()));
        }
        if !dir.is_dir() || exists(&dir.join(CATALOG_FILE)) {
            return Self::Nothing;
        }
        match entries(dir) {
            Ok(names) => Self::NewEntries(names),
            Err(_) => Self::Nothing,
        }
    }

    /// Removes what the failed command created; a removal that fails is reported, not
    /// raised, so that the command's own error stays the one it exits with.
    fn run(self, dir: &Path) {
        let remove = |path: &Path| {
            let removed = if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
            match removed {
                Ok(()) => tracing::debug!(path = %path.display(), "removed after a failure"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => eprintln!("warning: could not remove {}: {e}", path.display()),
            }
        };
        match self {
            Self::Nothing => {}
            Self::Remove(top) => remove(&top),
            Self::NewEntries(before) => {
                let Ok(now) = entries(dir) else { return };
                for name in now.difference(&before) {
                    remove(&dir.join(name));
                }
            }
        }
    }
}

/// The names in a directory.
fn entries(dir: &Path) -> std::io::Result<BTreeSet<OsString>> {
    std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect()
}
