//! Containment of panics raised while reading a damaged catalogue.
//!
//! redb trusts the pages of a file it did not see damaged and may panic on one altered
//! outside it (its own documentation says so; `Index::check_catalog` runs its full
//! checksum check instead). Every public `Index` operation runs inside [`contain`], which
//! turns such a panic into [`StoreError::Corrupt`] naming the catalogue file.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use super::StoreError;
use crate::error::{Error, Result};

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether the current thread is inside an `Index` operation that contains panics; a
/// panic hook can use it to keep a contained panic off the terminal.
pub fn is_containing_panic() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

/// Runs `f`, turning a panic into a corruption error about the catalogue at `path`.
pub fn contain<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        // The error is returned, with the message: the log need not shout it too.
        tracing::debug!(path = %path.display(), %message, "contained a panic reading the index");
        Err(Error::Store(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("the catalogue is damaged: redb failed reading it ({message})"),
        }))
    })
}
