//! Streaming reader for numeric CSV files, plain or gzip-compressed.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use ::csv::{ByteRecord, Reader, ReaderBuilder};
use flate2::bufread::MultiGzDecoder;

use super::{InputError, InputOptions, RowSource};

/// Name of the column excluded by default.
const DEFAULT_LABEL: &str = "label";
/// The first two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Buffer size for the file and for the CSV parser.
const BUFFER_BYTES: usize = 64 * 1024;
/// Longest offending text kept in an error, in characters.
const MAX_TEXT_CHARS: usize = 40;

/// How to decide whether the file is gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// Always gzip (a `.csv.gz` name); a non-gzip stream is an I/O error.
    Gzip,
    /// Gzip if the file starts with the gzip magic bytes, plain otherwise.
    Sniff,
}

/// A CSV file read row by row.
pub(crate) struct CsvSource {
    path: PathBuf,
    reader: Reader<LineNormalizer<Box<dyn BufRead + Send>>>,
    record: ByteRecord,
    /// `record` holds the first data row, read by `open` but not yet returned.
    pending: bool,
    /// Feature column names, label removed.
    columns: Vec<String>,
    /// Every header name (label included), used to name the column in errors.
    header: Vec<String>,
    /// Index of the label column in the header, if one is excluded.
    label: Option<usize>,
}

impl CsvSource {
    /// Opens `path`, reads and checks the header, and reads the first data row.
    pub(crate) fn open(
        path: &Path,
        options: &InputOptions,
        compression: Compression,
    ) -> Result<Self, InputError> {
        let io_err = |source: io::Error| InputError::Io {
            path: path.to_path_buf(),
            error: source,
        };
        let file = File::open(path).map_err(io_err)?;
        let mut buffered = BufReader::with_capacity(BUFFER_BYTES, file);
        let magic = starts_with_gzip_magic(&mut buffered).map_err(io_err)?;
        let gzip = match compression {
            Compression::Gzip if !magic => {
                let what = "named .csv.gz but not gzip-compressed (no gzip header)";
                return Err(io_err(io::Error::new(io::ErrorKind::InvalidData, what)));
            }
            Compression::Gzip => true,
            Compression::Sniff => magic,
        };
        let stream: Box<dyn BufRead + Send> = if gzip {
            let decoder = MultiGzDecoder::new(buffered);
            Box::new(BufReader::with_capacity(BUFFER_BYTES, decoder))
        } else {
            Box::new(buffered)
        };
        let mut reader = ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .buffer_capacity(BUFFER_BYTES)
            .from_reader(LineNormalizer::new(stream));

        let header_record = reader
            .byte_headers()
            .map_err(|e| csv_error(path, e))?
            .clone();
        if header_record.is_empty() {
            return Err(InputError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let header_line = reader
            .get_ref()
            .file_line(header_record.position().map_or(1, ::csv::Position::line));
        let header: Vec<String> = header_record
            .iter()
            .map(|field| String::from_utf8_lossy(field.trim_ascii()).into_owned())
            .collect();

        let mut seen: HashSet<&str> = HashSet::with_capacity(header.len());
        for name in &header {
            if !seen.insert(name.as_str()) {
                return Err(InputError::DuplicateColumn {
                    path: path.to_path_buf(),
                    line: header_line,
                    column: name.clone(),
                });
            }
        }

        let label = match &options.label_column {
            None => header.iter().position(|name| name == DEFAULT_LABEL),
            Some(wanted) => match header.iter().position(|name| name == wanted) {
                Some(index) => Some(index),
                None => {
                    return Err(InputError::MissingLabelColumn {
                        path: path.to_path_buf(),
                        column: wanted.clone(),
                    })
                }
            },
        };
        let columns: Vec<String> = header
            .iter()
            .enumerate()
            .filter(|&(index, _)| Some(index) != label)
            .map(|(_, name)| name.clone())
            .collect();
        if columns.is_empty() {
            return Err(InputError::NoFeatureColumns {
                path: path.to_path_buf(),
            });
        }

        let mut record = ByteRecord::new();
        let has_row = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(path, e))?;
        if !has_row {
            return Err(InputError::NoDataRows {
                path: path.to_path_buf(),
            });
        }

        Ok(Self {
            path: path.to_path_buf(),
            reader,
            record,
            pending: true,
            columns,
            header,
            label,
        })
    }

    /// Parses the feature fields of `self.record` into `out`.
    fn parse_record(&self, out: &mut [f64]) -> Result<(), InputError> {
        if self.record.len() != self.header.len() {
            return Err(InputError::RaggedRow {
                path: self.path.clone(),
                line: self.record_line(),
                expected: self.header.len(),
                found: self.record.len(),
            });
        }
        let features = self
            .record
            .iter()
            .enumerate()
            .filter(|&(index, _)| Some(index) != self.label);
        for ((index, field), slot) in features.zip(out.iter_mut()) {
            let field = field.trim_ascii();
            match parse_f64(field) {
                Some(value) if value.is_finite() => *slot = value,
                parsed => {
                    let column = self.header.get(index).cloned().unwrap_or_default();
                    let path = self.path.clone();
                    let line = self.record_line();
                    let text = truncate(field);
                    return Err(if parsed.is_some() {
                        InputError::NonFinite {
                            path,
                            line,
                            column,
                            text,
                        }
                    } else {
                        InputError::NotANumber {
                            path,
                            line,
                            column,
                            text,
                        }
                    });
                }
            }
        }
        Ok(())
    }

    /// The line of the file on which `self.record` starts (1-based).
    fn record_line(&self) -> u64 {
        let parser_line = self.record.position().map_or(1, ::csv::Position::line);
        self.reader.get_ref().file_line(parser_line)
    }
}

impl RowSource for CsvSource {
    fn path(&self) -> &Path {
        &self.path
    }

    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_row(&mut self, out: &mut [f64]) -> Result<bool, InputError> {
        assert_eq!(
            out.len(),
            self.columns.len(),
            "next_row: output buffer length must equal the number of feature columns"
        );
        if self.pending {
            self.pending = false;
        } else {
            let has_row = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| csv_error(&self.path, e))?;
            if !has_row {
                return Ok(false);
            }
            let parser_line = self.record.position().map_or(1, ::csv::Position::line);
            self.reader.get_mut().forget_before(parser_line);
        }
        self.parse_record(out)?;
        Ok(true)
    }
}

/// Rewrites line endings so that the CSV parser's line numbers are the file's own.
///
/// The `csv` crate reports the line a record starts on as the line count after the previous
/// record, which is one short after a CRLF (the LF is consumed with the next record) and after
/// skipped blank lines. This adapter turns CRLF and lone CR into LF and drops blank lines,
/// remembering where so that line numbers can be mapped back; the parser then sees only
/// LF-terminated, non-empty lines. Numeric fields cannot contain line breaks, so this changes
/// nothing they read (a quoted label loses only its blank lines and CRs).
struct LineNormalizer<R> {
    inner: R,
    /// The previous input byte was a CR (already emitted as LF, or dropped).
    after_cr: bool,
    /// Nothing has been emitted on the current output line yet.
    at_line_start: bool,
    /// Output line number (1-based) that the next emitted byte belongs to.
    out_line: u64,
    /// `(output line, blank lines dropped so far)`, in increasing order: output line `l` is
    /// file line `l + d` for the last entry with `line <= l` (or `l` if there is none).
    drops: Vec<(u64, u64)>,
}

/// How many entries `LineNormalizer::drops` may hold before old ones are folded away.
const MAX_DROP_ENTRIES: usize = 1024;

impl<R: BufRead> LineNormalizer<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            after_cr: false,
            at_line_start: true,
            out_line: 1,
            drops: Vec::new(),
        }
    }

    /// The file line (1-based) of output line `line`.
    fn file_line(&self, line: u64) -> u64 {
        let index = self.drops.partition_point(|&(start, _)| start <= line);
        let dropped = index
            .checked_sub(1)
            .and_then(|i| self.drops.get(i))
            .map_or(0, |&(_, dropped)| dropped);
        line + dropped
    }

    /// Discards the bookkeeping that only lines before `line` need (they will not be asked
    /// for again), once it has grown large.
    fn forget_before(&mut self, line: u64) {
        if self.drops.len() >= MAX_DROP_ENTRIES {
            let covering = self.drops.partition_point(|&(start, _)| start <= line);
            self.drops.drain(..covering.saturating_sub(1));
        }
    }
}

/// Notes that a blank line was dropped just before output line `line`.
fn record_drop(drops: &mut Vec<(u64, u64)>, line: u64) {
    match drops.last_mut() {
        Some(last) if last.0 == line => last.1 += 1,
        Some(&mut (_, dropped)) => drops.push((line, dropped + 1)),
        None => drops.push((line, 1)),
    }
}

impl<R: BufRead> Read for LineNormalizer<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Self {
            inner,
            after_cr,
            at_line_start,
            out_line,
            drops,
        } = self;
        let mut written = 0;
        while written < out.len() {
            let input = inner.fill_buf()?;
            if input.is_empty() {
                break;
            }
            let mut used = 0;
            while let (Some(rest), Some(room)) = (input.get(used..), out.get_mut(written..)) {
                if rest.is_empty() || room.is_empty() {
                    break;
                }
                // Copy a run of ordinary bytes in one go.
                let limit = rest.len().min(room.len());
                let run = rest[..limit]
                    .iter()
                    .position(|&b| b == b'\n' || b == b'\r')
                    .unwrap_or(limit);
                if run > 0 {
                    room[..run].copy_from_slice(&rest[..run]);
                    used += run;
                    written += run;
                    *after_cr = false;
                    *at_line_start = false;
                    continue;
                }
                // A line break: CRLF and CR become LF, and blank lines are dropped.
                used += 1;
                if rest[0] == b'\n' && std::mem::take(after_cr) {
                    continue;
                }
                *after_cr = rest[0] == b'\r';
                if *at_line_start {
                    record_drop(drops, *out_line);
                    continue;
                }
                room[0] = b'\n';
                written += 1;
                *at_line_start = true;
                *out_line += 1;
            }
            inner.consume(used);
            if written > 0 {
                break;
            }
        }
        Ok(written)
    }
}

/// Whether the buffered stream starts with the gzip magic bytes (without consuming them).
fn starts_with_gzip_magic(reader: &mut BufReader<File>) -> io::Result<bool> {
    // The first fill of an empty buffer reads from the start of the file; a regular file
    // yields all its bytes up to the buffer size, so both magic bytes are there if present.
    let buffer = reader.fill_buf()?;
    Ok(buffer.starts_with(&GZIP_MAGIC))
}

/// Parses trimmed bytes as a number; `None` if they are not one (including non-UTF-8).
fn parse_f64(field: &[u8]) -> Option<f64> {
    std::str::from_utf8(field).ok()?.parse::<f64>().ok()
}

/// The offending field as text for an error, cut to [`MAX_TEXT_CHARS`] characters.
fn truncate(field: &[u8]) -> String {
    let text = String::from_utf8_lossy(field);
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// Converts a CSV reader error: I/O failures (including corrupt gzip) keep their
/// `io::Error`; anything else is wrapped as one.
fn csv_error(path: &Path, error: ::csv::Error) -> InputError {
    let source = if error.is_io_error() {
        match error.into_kind() {
            ::csv::ErrorKind::Io(source) => source,
            other => io::Error::other(format!("{other:?}")),
        }
    } else {
        io::Error::other(error)
    };
    InputError::Io {
        path: path.to_path_buf(),
        error: source,
    }
}

#[cfg(test)]
// A failed `unwrap` is how a test reports an unexpected error.
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;
    use std::path::{Path, PathBuf};

    use flate2::write::GzEncoder;
    use tempfile::TempDir;

    use crate::input::{open, read_all, Frame, InputError, InputOptions};

    fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn default_read(path: &Path) -> Result<Frame, InputError> {
        read_all(path, &InputOptions::default())
    }

    fn label(column: &str) -> InputOptions {
        InputOptions {
            label_column: Some(column.to_owned()),
        }
    }

    /// Reads `content` as `bad.csv` with default options and returns the error.
    fn read_err(content: &str) -> (PathBuf, InputError) {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "bad.csv", content.as_bytes());
        let err = default_read(&path).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("bad.csv"),
            "message lacks the path: {message}"
        );
        (path, err)
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reads_columns_and_values_exactly() {
        let dir = TempDir::new().unwrap();
        let path = write(
            &dir,
            "ok.csv",
            b"b,a,label,c\n1.5,-2,cat,1e3\n 0.1 ,\t7\t,dog,\"-0.25\"\r\n3,4,5,6\n",
        );
        let frame = default_read(&path).unwrap();
        assert_eq!(frame.path, path);
        assert_eq!(frame.columns, strings(&["b", "a", "c"]));
        assert_eq!(frame.rows, 3);
        assert_eq!(
            frame.values,
            vec![1.5, -2.0, 1000.0, 0.1, 7.0, -0.25, 3.0, 4.0, 6.0]
        );
    }

    #[test]
    fn streams_rows_and_stays_at_end() {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "s.csv", b"x,y\n1,2\n3,4\n");
        let mut source = open(&path, &InputOptions::default()).unwrap();
        assert_eq!(source.path(), path.as_path());
        assert_eq!(source.columns(), strings(&["x", "y"]).as_slice());
        let mut row = [0.0; 2];
        assert!(source.next_row(&mut row).unwrap());
        assert_eq!(row, [1.0, 2.0]);
        assert!(source.next_row(&mut row).unwrap());
        assert_eq!(row, [3.0, 4.0]);
        assert!(!source.next_row(&mut row).unwrap());
        assert!(!source.next_row(&mut row).unwrap());
    }

    #[test]
    fn header_names_are_trimmed_and_bom_is_skipped() {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "bom.csv", b"\xef\xbb\xbfx , label\n1,a\n");
        let frame = default_read(&path).unwrap();
        assert_eq!(frame.columns, strings(&["x"]));
        assert_eq!(frame.values, vec![1.0]);
    }

    #[test]
    fn label_excluded_by_default_and_not_parsed() {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "l.csv", b"label,x\n,1\nnot a number,2\nNaN,3\n");
        let frame = default_read(&path).unwrap();
        assert_eq!(frame.columns, strings(&["x"]));
        assert_eq!(frame.values, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn explicit_label_column_keeps_label_as_feature() {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "o.csv", b"label,x,other\n0,1,yes\n1,2,no\n");
        let frame = read_all(&path, &label("other")).unwrap();
        assert_eq!(frame.columns, strings(&["label", "x"]));
        assert_eq!(frame.values, vec![0.0, 1.0, 1.0, 2.0]);
        // Without the option, `other` is a feature and its text is rejected.
        let err = default_read(&path).unwrap_err();
        assert!(matches!(err, InputError::NotANumber { ref column, .. } if column == "other"));
    }

    #[test]
    fn without_label_every_column_is_a_feature() {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "n.csv", b"x,y\n1,2\n");
        let frame = default_read(&path).unwrap();
        assert_eq!(frame.columns, strings(&["x", "y"]));
        assert_eq!(frame.values, vec![1.0, 2.0]);
    }

    #[test]
    fn gzip_reads_the_same_values_as_plain() {
        let dir = TempDir::new().unwrap();
        let content = b"p0,p1,label\n0,16,3\n2.5,1e-3,7\n";
        let plain = write(&dir, "d.csv", content);
        let packed = write(&dir, "d.csv.gz", &gzip(content));
        let upper = write(&dir, "D.CSV.GZ", &gzip(content));
        let sniffed = write(&dir, "sniffed.csv", &gzip(content));
        let expected = default_read(&plain).unwrap();
        assert_eq!(expected.values, vec![0.0, 16.0, 2.5, 0.001]);
        for path in [packed, upper, sniffed] {
            let frame = default_read(&path).unwrap();
            assert_eq!(frame.columns, expected.columns);
            assert_eq!(frame.rows, expected.rows);
            assert_eq!(frame.values, expected.values);
        }
    }

    #[test]
    fn concatenated_gzip_members_are_read() {
        let dir = TempDir::new().unwrap();
        let mut bytes = gzip(b"x\n1\n");
        bytes.extend(gzip(b"2\n"));
        let path = write(&dir, "m.csv.gz", &bytes);
        assert_eq!(default_read(&path).unwrap().values, vec![1.0, 2.0]);
    }

    #[test]
    fn corrupt_or_plain_gzip_is_an_io_error() {
        let dir = TempDir::new().unwrap();
        let good = gzip(b"x\n1\n2\n3\n");
        let mut bad_method = good.clone();
        bad_method[2] = 0;
        let mut bad_crc = good.clone();
        let crc_at = good.len() - 8;
        bad_crc[crc_at] ^= 0xff;
        let truncated = good[..good.len() - 4].to_vec();
        let cases = [
            ("method.csv.gz", bad_method),
            ("crc.csv.gz", bad_crc),
            ("truncated.csv.gz", truncated),
            ("plain.csv.gz", b"x\n1\n".to_vec()),
        ];
        for (name, content) in cases {
            let path = write(&dir, name, &content);
            match default_read(&path) {
                Err(InputError::Io { path: p, .. }) => assert_eq!(p, path),
                other => panic!("{name}: expected Io, got {other:?}"),
            }
        }
    }

    #[test]
    fn missing_file_is_an_io_error_with_path() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("absent.csv");
        match default_read(&path) {
            Err(InputError::Io {
                path: p,
                error: source,
            }) => {
                assert_eq!(p, path);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[test]
    fn unsupported_formats_are_rejected() {
        let dir = TempDir::new().unwrap();
        for name in ["d.txt", "d.parquet", "d.gz", "csv", "d.csv.bz2", "d.tsv"] {
            let path = write(&dir, name, b"x\n1\n");
            match open(&path, &InputOptions::default()) {
                Err(InputError::UnsupportedFormat { path: p }) => assert_eq!(p, path),
                Err(other) => panic!("{name}: expected UnsupportedFormat, got {other:?}"),
                Ok(_) => panic!("{name}: expected UnsupportedFormat, got a source"),
            }
        }
    }

    #[test]
    fn ragged_rows() {
        let (path, err) = read_err("a,b,c\n1,2,3\n1,2\n");
        match err {
            InputError::RaggedRow {
                path: p,
                line,
                expected,
                found,
            } => {
                assert_eq!((p, line, expected, found), (path, 3, 3, 2));
            }
            other => panic!("expected RaggedRow, got {other:?}"),
        }
        let (_, err) = read_err("a,b\r\n1,2\r\n3,4\r\n5,6,7\r\n");
        assert!(matches!(
            err,
            InputError::RaggedRow {
                line: 4,
                expected: 2,
                found: 3,
                ..
            }
        ));
        // The label column counts towards the expected number of fields.
        let (_, err) = read_err("x,label\n1\n");
        assert!(matches!(
            err,
            InputError::RaggedRow {
                line: 2,
                expected: 2,
                found: 1,
                ..
            }
        ));
    }

    #[test]
    fn non_finite_values() {
        for text in ["nan", "NaN", "inf", "-inf", "+Infinity", "1e999", "-1e400"] {
            let (path, err) = read_err(&format!("a,b\n1,2\n3, {text} \n"));
            match err {
                InputError::NonFinite {
                    path: p,
                    line,
                    column,
                    text: t,
                } => {
                    assert_eq!((p, line, column.as_str(), t.as_str()), (path, 3, "b", text));
                }
                other => panic!("{text}: expected NonFinite, got {other:?}"),
            }
        }
    }

    #[test]
    fn empty_field() {
        let (path, err) = read_err("a,b,c\n1,,3\n");
        match err {
            InputError::NotANumber {
                path: p,
                line,
                column,
                text,
            } => {
                assert_eq!(
                    (p, line, column.as_str(), text.as_str()),
                    (path, 2, "b", "")
                );
            }
            other => panic!("expected NotANumber, got {other:?}"),
        }
        let (_, err) = read_err("a,b\n1,   \n");
        assert!(matches!(err, InputError::NotANumber { line: 2, ref text, .. } if text.is_empty()));
    }

    #[test]
    fn non_numbers() {
        for text in ["abc", "1,5", "0x10", "1_000", "--1", "1e", "true"] {
            let quoted = format!("\"{text}\"");
            let (path, err) = read_err(&format!("a,b\n1,2\n{quoted},2\n"));
            match err {
                InputError::NotANumber {
                    path: p,
                    line,
                    column,
                    text: t,
                } => {
                    assert_eq!((p, line, column.as_str(), t.as_str()), (path, 3, "a", text));
                }
                other => panic!("{text}: expected NotANumber, got {other:?}"),
            }
        }
    }

    #[test]
    fn long_and_non_utf8_text() {
        let long = "x".repeat(1000);
        let (_, err) = read_err(&format!("a\n{long}\n"));
        match err {
            InputError::NotANumber { text, .. } => {
                assert_eq!(text, format!("{}…", "x".repeat(40)));
            }
            other => panic!("expected NotANumber, got {other:?}"),
        }
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "u.csv", b"a,label\n1,\xff\xfe\n\xff1,0\n");
        match default_read(&path) {
            Err(InputError::NotANumber {
                line, column, text, ..
            }) => {
                assert_eq!(
                    (line, column.as_str(), text.as_str()),
                    (3, "a", "\u{fffd}1")
                );
            }
            other => panic!("expected NotANumber, got {other:?}"),
        }
    }

    #[test]
    fn empty_file() {
        for content in ["", "\n\n", "\r\n"] {
            let (path, err) = read_err(content);
            match err {
                InputError::EmptyFile { path: p } => assert_eq!(p, path),
                other => panic!("{content:?}: expected EmptyFile, got {other:?}"),
            }
        }
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "e.csv.gz", &gzip(b""));
        assert!(matches!(
            default_read(&path),
            Err(InputError::EmptyFile { .. })
        ));
    }

    #[test]
    fn header_only() {
        for content in ["a,b\n", "a,b", "a,b\n\n\n"] {
            let (path, err) = read_err(content);
            match err {
                InputError::NoDataRows { path: p } => assert_eq!(p, path),
                other => panic!("{content:?}: expected NoDataRows, got {other:?}"),
            }
        }
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "h.csv", b"a,b\n");
        assert!(matches!(
            open(&path, &InputOptions::default()),
            Err(InputError::NoDataRows { .. })
        ));
    }

    #[test]
    fn duplicate_column() {
        for content in [
            "a,b,a\n1,2,3\n",
            "a, b,b \n1,2,3\n",
            "label,x,label\n1,2,3\n",
        ] {
            let (path, err) = read_err(content);
            match err {
                InputError::DuplicateColumn {
                    path: p,
                    line,
                    column,
                } => {
                    assert_eq!((p, line), (path, 1));
                    assert!(["a", "b", "label"].contains(&column.as_str()), "{column}");
                }
                other => panic!("{content:?}: expected DuplicateColumn, got {other:?}"),
            }
        }
    }

    #[test]
    fn missing_explicit_label_column() {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "m.csv", b"a,label\n1,2\n");
        match read_all(&path, &label("target")) {
            Err(err @ InputError::MissingLabelColumn { .. }) => {
                assert!(err.to_string().contains("\"target\""), "{err}");
                assert!(err.to_string().contains("m.csv"), "{err}");
                match err {
                    InputError::MissingLabelColumn { path: p, column } => {
                        assert_eq!((p, column.as_str()), (path, "target"));
                    }
                    _ => unreachable!(),
                }
            }
            other => panic!("expected MissingLabelColumn, got {other:?}"),
        }
    }

    #[test]
    fn only_a_label_column() {
        let (path, err) = read_err("label\n1\n");
        match err {
            InputError::NoFeatureColumns { path: p } => assert_eq!(p, path),
            other => panic!("expected NoFeatureColumns, got {other:?}"),
        }
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "y.csv", b"y\n1\n");
        assert!(matches!(
            read_all(&path, &label("y")),
            Err(InputError::NoFeatureColumns { .. })
        ));
    }

    #[test]
    fn messages_name_file_line_and_column() {
        let (_, err) = read_err("a,b\n1,2\n3,oops\n");
        let message = err.to_string();
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("\"b\""), "{message}");
        assert!(message.contains("oops"), "{message}");
        let (_, err) = read_err("a,b\n1,inf\n");
        assert!(err.to_string().contains("non-finite"), "{err}");
        let (_, err) = read_err("a,b\n1,\n");
        assert!(err.to_string().contains("empty field"), "{err}");
    }

    /// The line reported for a bad value, with default options.
    fn error_line(content: &[u8]) -> u64 {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "lines.csv", content);
        match default_read(&path) {
            Err(InputError::NotANumber { line, .. } | InputError::RaggedRow { line, .. }) => line,
            other => panic!("expected a NotANumber or RaggedRow error, got {other:?}"),
        }
    }

    #[test]
    fn line_numbers_survive_crlf_cr_blank_lines_and_quoted_newlines() {
        assert_eq!(error_line(b"a,b\n1,2\nx,2\n"), 3);
        assert_eq!(error_line(b"a,b\r\n1,2\r\nx,2\r\n"), 3);
        assert_eq!(error_line(b"a,b\r1,2\rx,2\r"), 3);
        assert_eq!(error_line(b"a,b\n\n1,2\n\n\nx,2"), 6);
        assert_eq!(error_line(b"\n\r\n\na,b\r\n\r\n1,2\r\n\r\n1,2,3\r\n"), 8);
        assert_eq!(error_line(b"a,label\n1,\"two\nlines\"\nx,3\n"), 4);
        assert_eq!(error_line(b"a,label\n1,\"blank\n\nline\"\n1\n"), 5);
        assert_eq!(error_line(b"a,label\r\nx,\"a\r\nb\"\r\n"), 2);
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "dup.csv", b"\r\n\r\na,a\r\n1,2\r\n");
        assert!(matches!(
            default_read(&path),
            Err(InputError::DuplicateColumn { line: 3, .. })
        ));
    }

    #[test]
    fn line_numbers_in_large_files_with_mixed_endings() {
        // A small deterministic generator (no extra dependencies).
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % bound
        };
        for round in 0..6 {
            let rows = 20_000 + next(20_000);
            let bad_row = next(rows);
            let mut content = b"a,b,label".to_vec();
            let mut line = 1;
            let mut bad_line = 0;
            for row in 0..rows {
                // End the previous line, sometimes adding blank lines of any ending style.
                let blanks = if round % 2 == 0 {
                    next(3) * next(2)
                } else {
                    next(2)
                };
                for _ in 0..=blanks {
                    // A lone CR followed by LF would be a single CRLF ending.
                    let ending = match next(3) {
                        0 if content.last() != Some(&b'\r') => &b"\n"[..],
                        0 | 1 => b"\r\n",
                        _ => b"\r",
                    };
                    content.extend_from_slice(ending);
                    line += 1;
                }
                if row == bad_row {
                    bad_line = line;
                    content.extend_from_slice(b"1,oops,x");
                } else {
                    content.extend_from_slice(format!("{row},{},\"l\r\n\"", next(100)).as_bytes());
                    line += 1;
                }
            }
            let got = error_line(&content);
            assert_eq!(
                got, bad_line,
                "round {round}, {rows} rows, bad row {bad_row}"
            );
            let dir = TempDir::new().unwrap();
            let path = write(&dir, "big.csv.gz", &gzip(&content));
            match default_read(&path) {
                Err(InputError::NotANumber { line, .. }) => assert_eq!(line, bad_line),
                other => panic!("expected NotANumber, got {other:?}"),
            }
        }
    }

    #[test]
    fn many_blank_lines_keep_line_numbers() {
        let mut content = b"a".to_vec();
        for row in 0..5_000 {
            content.extend_from_slice(format!("\n\n{row}").as_bytes());
        }
        content.extend_from_slice(b"\n\nbad\n");
        assert_eq!(error_line(&content), 10_003);
        content.truncate(content.len() - 4);
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "blank.csv", &content);
        let frame = default_read(&path).unwrap();
        assert_eq!(frame.rows, 5_000);
        assert_eq!(frame.values[4_999], 4_999.0);
    }

    #[test]
    fn sources_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "s.csv", b"x\n1\n");
        let source = open(&path, &InputOptions::default()).unwrap();
        assert_send(&source);
    }
}
