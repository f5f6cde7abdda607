//! Input layer: reads numeric feature tables (plain or gzip-compressed CSV) row by row.
//!
//! [`open`] gives a streaming [`RowSource`]; [`read_all`] loads a whole table into a [`Frame`].
//! Every value must be a finite number; the label column (if any) is skipped without being
//! parsed. Every error names the file, and the line and column where there is one.

mod csv;

use std::path::{Path, PathBuf};

/// How to interpret an input table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputOptions {
    /// Column holding the label, excluded from the features. `None` means: exclude a column
    /// named `label` if there is one (the default). `Some(c)`: exclude `c`; it is an error if
    /// absent.
    pub label_column: Option<String>,
}

/// A source of numeric feature rows, read once from start to end.
pub trait RowSource: Send {
    /// The file this source reads.
    fn path(&self) -> &Path;

    /// Feature column names, in file order, label column removed.
    fn columns(&self) -> &[String];

    /// Reads the next row's features into `out` (`len == columns().len()`); `Ok(false)` at
    /// the end.
    ///
    /// After the end has been reached, further calls keep returning `Ok(false)`.
    ///
    /// # Errors
    /// [`InputError::RaggedRow`], [`InputError::NotANumber`] or [`InputError::NonFinite`] for a
    /// bad row (naming its line and column), [`InputError::Io`] if reading fails.
    ///
    /// # Panics
    /// If `out.len() != self.columns().len()`.
    fn next_row(&mut self, out: &mut [f64]) -> Result<bool, InputError>;
}

/// Opens `path` as a row source, choosing the reader by its name: `.csv`, `.csv.gz` (gzip,
/// detected by the gzip magic bytes too), and reject anything else with
/// [`InputError::UnsupportedFormat`].
///
/// Names are matched case-insensitively. A `.csv.gz` file is always decompressed; a `.csv` file
/// is decompressed if it starts with the gzip magic bytes. The header is read and checked here,
/// and so is the presence of at least one data row ([`InputError::NoDataRows`]); the rows
/// themselves are parsed lazily by [`RowSource::next_row`].
///
/// # Errors
/// [`InputError::UnsupportedFormat`] for another file name; [`InputError::Io`] if the file
/// cannot be opened or read; [`InputError::EmptyFile`], [`InputError::DuplicateColumn`],
/// [`InputError::MissingLabelColumn`], [`InputError::NoFeatureColumns`] or
/// [`InputError::NoDataRows`] for a bad header or a table without rows.
pub fn open(path: &Path, options: &InputOptions) -> Result<Box<dyn RowSource>, InputError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let source = if name.ends_with(".csv.gz") {
        self::csv::CsvSource::open(path, options, self::csv::Compression::Gzip)?
    } else if name.ends_with(".csv") {
        self::csv::CsvSource::open(path, options, self::csv::Compression::Sniff)?
    } else {
        return Err(InputError::UnsupportedFormat {
            path: path.to_path_buf(),
        });
    };
    Ok(Box::new(source))
}

/// The stem of a file name `open` reads (`.csv` or `.csv.gz`, any case): `jan` for
/// `jan.csv.gz`; `None` for any other name.
pub fn data_stem(name: &str) -> Option<&str> {
    let lower = name.to_ascii_lowercase();
    let cut = [".csv.gz", ".csv"]
        .iter()
        .find(|ext| lower.ends_with(*ext))?
        .len();
    Some(&name[..name.len() - cut])
}

/// The data files of a folder (the names [`open`] reads) by stem, sorted by stem: a
/// workload's `sources/` or `targets/`. Other files are skipped.
///
/// # Errors
/// [`InputError::Io`] when the folder cannot be read; [`InputError::NoDataFiles`] when it
/// holds no data file.
pub fn data_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, InputError> {
    let io = |error| InputError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let stem = path
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(data_stem);
        if let Some(stem) = stem {
            out.push((stem.to_string(), path.clone()));
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(InputError::NoDataFiles {
            path: dir.to_path_buf(),
        });
    }
    Ok(out)
}

/// A whole table read into memory (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The file the table was read from.
    pub path: PathBuf,
    /// Feature column names, in file order, label column removed.
    pub columns: Vec<String>,
    /// Number of data rows.
    pub rows: usize,
    /// `rows * columns.len()` values; row `r` is `values[r * columns.len()..][..columns.len()]`.
    pub values: Vec<f64>,
}

/// Reads a whole file into memory (row-major).
///
/// # Errors
/// Every error of [`open`] and [`RowSource::next_row`].
pub fn read_all(path: &Path, options: &InputOptions) -> Result<Frame, InputError> {
    collect(open(path, options)?.as_mut())
}

/// Reads every remaining row of `source` into memory (row-major).
///
/// # Errors
/// Every error of [`RowSource::next_row`].
pub fn collect(source: &mut dyn RowSource) -> Result<Frame, InputError> {
    let columns = source.columns().to_vec();
    let mut row = vec![0.0; columns.len()];
    let mut values = Vec::new();
    let mut rows = 0usize;
    while source.next_row(&mut row)? {
        values.extend_from_slice(&row);
        rows += 1;
    }
    Ok(Frame {
        path: source.path().to_path_buf(),
        columns,
        rows,
        values,
    })
}

/// Why a table could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Reading the file failed (including a corrupt gzip stream).
    #[error("{}: {error}", path.display())]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error (part of the message, so not also a `source()`).
        error: std::io::Error,
    },
    /// A folder of data files holds none.
    #[error("{}: no .csv or .csv.gz files", path.display())]
    NoDataFiles {
        /// The folder.
        path: PathBuf,
    },
    /// The file name does not end in `.csv` or `.csv.gz`.
    #[error("{}: unsupported input format (expected .csv or .csv.gz)", path.display())]
    UnsupportedFormat {
        /// The rejected file.
        path: PathBuf,
    },
    /// The file has no header line (it is empty or holds only blank lines).
    #[error("{}: the file is empty (no header line)", path.display())]
    EmptyFile {
        /// The empty file.
        path: PathBuf,
    },
    /// The file has a header but no data rows.
    #[error("{}: the file has a header but no data rows", path.display())]
    NoDataRows {
        /// The file without data.
        path: PathBuf,
    },
    /// Two header fields have the same name (after trimming surrounding spaces).
    #[error("{}: line {line}: duplicate column name {column:?}", path.display())]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The header's line number (1-based).
        line: u64,
        /// The repeated name.
        column: String,
    },
    /// The label column given in [`InputOptions::label_column`] is not in the header.
    #[error("{}: label column {column:?} is not in the header", path.display())]
    MissingLabelColumn {
        /// The file.
        path: PathBuf,
        /// The requested label column.
        column: String,
    },
    /// Removing the label column leaves no feature columns.
    #[error("{}: no feature columns (the only column is the label)", path.display())]
    NoFeatureColumns {
        /// The file.
        path: PathBuf,
    },
    /// A row has a different number of fields than the header.
    #[error(
        "{}: line {line}: expected {expected} fields (as in the header), found {found}",
        path.display()
    )]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// Line (1-based) on which the row starts.
        line: u64,
        /// Number of header fields.
        expected: usize,
        /// Number of fields in this row.
        found: usize,
    },
    /// A feature field is empty or does not parse as a number.
    #[error(
        "{}: line {line}, column {column:?}: {}",
        path.display(),
        describe_not_a_number(text)
    )]
    NotANumber {
        /// The file.
        path: PathBuf,
        /// Line (1-based) on which the row starts.
        line: u64,
        /// Name of the feature column.
        column: String,
        /// The field with surrounding spaces trimmed, lossily decoded as UTF-8 and truncated
        /// to at most 40 characters (`…` marks a cut). Empty for an empty field.
        text: String,
    },
    /// A feature field parses to NaN or an infinity (`nan`, `inf`, `1e999`, ...).
    #[error(
        "{}: line {line}, column {column:?}: non-finite value {text:?} (NaN and infinities \
         are not accepted)",
        path.display()
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Line (1-based) on which the row starts.
        line: u64,
        /// Name of the feature column.
        column: String,
        /// The field with surrounding spaces trimmed (truncated as for
        /// [`InputError::NotANumber`]).
        text: String,
    },
}

fn describe_not_a_number(text: &str) -> String {
    if text.is_empty() {
        "empty field, expected a number".to_owned()
    } else {
        format!("{text:?} is not a number")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_stems_keep_the_name_and_drop_a_readable_extension_of_any_case() {
        assert_eq!(data_stem("jan.csv"), Some("jan"));
        assert_eq!(data_stem("Jan.CSV.GZ"), Some("Jan"));
        assert_eq!(data_stem("a.b.csv.gz"), Some("a.b"));
        assert_eq!(data_stem("notes.txt"), None);
        assert_eq!(data_stem("csv"), None);
    }

    #[test]
    fn a_folder_lists_its_data_files_by_stem_and_an_empty_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.csv", "a.csv.gz", "README.md"] {
            std::fs::write(dir.path().join(name), "x\n1\n").unwrap();
        }
        let stems: Vec<String> = data_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(stems, ["a", "b"]);
        let empty = tempfile::tempdir().unwrap();
        let err = data_files(empty.path()).unwrap_err();
        assert!(matches!(err, InputError::NoDataFiles { .. }), "{err}");
    }
}
