//! adaptdb: an embedded index that answers "which of my model versions will work best on
//! this new data?".
//!
//! For every model version it keeps a compact sketch of the training data — never the data —
//! and, given a target dataset, ranks the versions by *adaptivity*: how much of the target
//! their training data covers, partition by partition. The method is two-level LSH over
//! Jensen–Shannon divergence (JSD-LSH band hashes per partition, flattened, then MinHash).
//!
//! ```no_run
//! use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions};
//! use std::path::Path;
//!
//! let index = Index::open_or_create("models.adaptdb", Params::default())?;
//! let input = InputOptions::default();
//! let registration = Registration::new("churn").version("2024-01");
//! index.register_file(&registration, Path::new("jan.csv"), &input)?;
//! let results = index.search_file(Path::new("target.csv"), &input, &SearchOptions::default())?;
//! for m in &results.matches {
//!     println!("{}@{} {:.3}", m.model.name, m.model.version, m.adaptivity);
//! }
//! # Ok::<(), adaptdb::Error>(())
//! ```

#![deny(clippy::unwrap_used)]

pub mod codec;
pub mod divergence;
pub mod error;
pub mod eval;
pub mod hash;
pub mod input;
pub mod params;
pub mod search;
pub mod sketch;
pub mod space;
pub mod store;

pub use error::{Error, Result};
pub use input::InputOptions;
pub use params::Params;
pub use search::{Match, SearchOptions, SearchPath, SearchResults};
pub use sketch::{Sketch, Sketcher};
pub use store::catalog::ModelVersion;
pub use store::{Index, Registered, Registration, StoreError};
