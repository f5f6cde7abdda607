//! The crate's umbrella error. Each layer has its own enum — [`InputError`] for reading
//! data, [`SketchError`] for sketching, [`StoreError`] for the index files, [`ParamError`]
//! for parameters — and every one converts into [`Error`] for callers who do not care which.

use crate::input::InputError;
use crate::params::ParamError;
use crate::sketch::SketchError;
use crate::store::StoreError;

/// Any error of the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or sketching a dataset failed.
    #[error(transparent)]
    Sketch(#[from] SketchError),
    /// The index could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Parameters were refused.
    #[error(transparent)]
    Params(#[from] ParamError),
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Sketch(SketchError::Input(e))
    }
}

/// `Result` with the crate's umbrella error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
