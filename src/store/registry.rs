//! Managing registered versions: looking them up ([`Index::show`]), removing them
//! ([`Index::remove`]) and reclaiming the segment bytes of removed versions
//! ([`Index::compact`], FORMAT.md §5.1).

use std::collections::BTreeMap;
use std::path::Path;

use redb::{ReadableTable, WriteTransaction};

use super::catalog::{
    decode_location, encode_location, ModelVersion, KEY_PROJECTION, MODELS, NAMES, SEGMENTS,
};
use super::segment::{self, ArchivedProjectionRecord, RecordLocation, SegmentWriter};
use super::{guard, Index, StoreError};
use crate::error::Result;

/// What [`Index::compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Live model versions whose sketch records were copied.
    pub models: usize,
    /// Records copied: the sketches and the projection.
    pub records: usize,
    /// Segments listed before, with their committed lengths.
    pub segments_before: Vec<(u32, u64)>,
    /// Segments listed after (the new ones), with their committed lengths.
    pub segments_after: Vec<(u32, u64)>,
    /// Sum of the committed lengths before, in bytes.
    pub bytes_before: u64,
    /// Sum of the committed lengths after, in bytes.
    pub bytes_after: u64,
    /// Segment files deleted after the commit (the old ones, and any left unlisted by an
    /// earlier compaction that stopped between its commit and its deletions).
    pub files_deleted: usize,
}

/// Splits `NAME[@VERSION]` at its first `@` (names never contain one).
pub fn parse_model_ref(text: &str) -> (&str, Option<&str>) {
    match text.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (text, None),
    }
}

fn describe(name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{name}@{v}"),
        None => name.to_string(),
    }
}

/// The id in a segment file name `NNNNNNNN.seg`, if it is one.
fn segment_file_id(path: &Path) -> Option<u32> {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".seg"))
        .filter(|n| n.len() >= 8 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u32>().ok())
}

impl Index {
    /// Every registered version of `name` in id (registration) order, or only `version`
    /// when given; empty when none matches.
    pub fn show(&self, name: &str, version: Option<&str>) -> Result<Vec<ModelVersion>> {
        guard::contain(&self.catalog_path, || {
            let span = tracing::debug_span!("show", name, version);
            let _enter = span.enter();
            let txn = self.begin_read()?;
            let names = txn.open_table(NAMES).map_err(|e| self.db_err(e.into()))?;
            let mut ids = Vec::new();
            match version {
                Some(v) => {
                    let found = names.get((name, v)).map_err(|e| self.db_err(e.into()))?;
                    ids.extend(found.map(|g| g.value()));
                }
                None => ids.extend(self.versions_of(&names, name)?.into_iter().map(|v| v.1)),
            }
            drop(names);
            ids.sort_unstable();
            let models = txn.open_table(MODELS).map_err(|e| self.db_err(e.into()))?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let guard = models.get(id).map_err(|e| self.db_err(e.into()))?;
                let bytes = guard.ok_or_else(|| {
                    self.corrupt_msg(format!("names points at unknown model {id}"))
                })?;
                out.push(ModelVersion::decode(bytes.value()).map_err(|e| self.corrupt(e))?);
            }
            tracing::debug!(found = out.len(), "shown");
            Ok(out)
        })
    }

    /// Removes `version` of `name`, or every version of `name`, in one atomic write
    /// transaction, and returns the removed versions in id order.
    ///
    /// A removed version is never returned by a search again; its id is not reused. Its
    /// segment bytes stay until [`Index::compact`]. Nothing matching is
    /// [`StoreError::Unsupported`] saying so, and the index is left as it was.
    pub fn remove(&self, name: &str, version: Option<&str>) -> Result<Vec<ModelVersion>> {
        guard::contain(&self.catalog_path, || {
            let span = tracing::debug_span!("remove", name, version);
            let _enter = span.enter();
            let started = std::time::Instant::now();
            // Serializes with registrations and compactions of this process.
            let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let txn = self.begin_write()?;
            let ids = self.ids_of(&txn, name, version)?;
            if ids.is_empty() {
                let what = format!("{} is not registered", describe(name, version));
                return Err(StoreError::Unsupported { what }.into());
            }
            let mut removed = Vec::with_capacity(ids.len());
            for id in ids {
                removed.push(self.remove_in_txn(&txn, id)?);
            }
            self.commit(txn)?;
            drop(writer);
            tracing::debug!(
                removed = removed.len(),
                micros = started.elapsed().as_micros() as u64,
                "removed"
            );
            Ok(removed)
        })
    }

    /// Ids of `name` (one version, or all), ascending, inside a write transaction.
    fn ids_of(
        &self,
        txn: &WriteTransaction,
        name: &str,
        version: Option<&str>,
    ) -> Result<Vec<u32>> {
        if let Some(v) = version {
            return Ok(self.lookup(txn, name, v)?.into_iter().collect());
        }
        let names = txn.open_table(NAMES).map_err(|e| self.db_err(e.into()))?;
        let mut ids: Vec<u32> = self
            .versions_of(&names, name)?
            .into_iter()
            .map(|v| v.1)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Rewrites the projection and every live sketch record into a new segment, points the
    /// catalogue at it in one transaction, then deletes the old segment files, reclaiming
    /// the bytes of removed and replaced versions (FORMAT.md §5.1).
    ///
    /// Searches keep answering identically: records are copied byte for byte. A crash
    /// before the commit leaves the index as it was (the next writer removes the new file);
    /// a crash after it leaves old files unlisted until the next compaction deletes them.
    pub fn compact(&self) -> Result<CompactReport> {
        guard::contain(&self.catalog_path, || self.compact_unguarded())
    }

    fn compact_unguarded(&self) -> Result<CompactReport> {
        let span = tracing::debug_span!("compact", dir = %self.dir.display());
        let _enter = span.enter();
        let started = std::time::Instant::now();
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let txn = self.begin_write()?;
        let segments_before = {
            let table = txn
                .open_table(SEGMENTS)
                .map_err(|e| self.db_err(e.into()))?;
            self.listed_segments(&table)?
        };
        let mut report = CompactReport {
            bytes_before: segments_before.iter().map(|&(_, len)| len).sum(),
            segments_before: segments_before.clone(),
            ..CompactReport::default()
        };
        let projection = match self.read_meta_w(&txn, KEY_PROJECTION)? {
            Some(bytes) => decode_location(&bytes).map_err(|e| self.corrupt(e))?,
            // No sample space yet: nothing was ever written to a segment.
            None => {
                report.segments_after = segments_before;
                report.bytes_after = report.bytes_before;
                return Ok(report);
            }
        };
        let models = {
            let table = txn.open_table(MODELS).map_err(|e| self.db_err(e.into()))?;
            self.all_models(&table)?
        };

        // Nothing to reclaim when the committed bytes are the live records' plus headers and
        // alignment (under 16 bytes a record), and no unlisted segment file is left over:
        // rewriting every segment then would only copy it.
        let live: u64 = models.iter().map(|m| m.location.len as u64).sum::<u64>()
            + projection.len as u64
            + segment::SEGMENT_HEADER_LEN * segments_before.len() as u64;
        let slack = (segment::RECORD_ALIGN - 1) * (models.len() as u64 + 1);
        let listed: Vec<u32> = segments_before.iter().map(|&(id, _)| id).collect();
        let unlisted = self
            .segment_files()?
            .iter()
            .any(|(id, _)| !listed.contains(id));
        if report.bytes_before <= live + slack && !unlisted {
            tracing::debug!(bytes = report.bytes_before, "nothing to reclaim");
            report.models = models.len();
            report.segments_after = segments_before;
            report.bytes_after = report.bytes_before;
            return Ok(report);
        }

        // A new segment numbered after every existing file and the open writer's: ids are
        // never reused, so no reader's cached map of an old id can be stale.
        let last_file = self.segment_files()?.into_iter().map(|(id, _)| id).max();
        let last_listed = segments_before.iter().map(|&(id, _)| id).max();
        let open = writer.as_ref().map(|w| w.position().0);
        let first_new = [last_file, last_listed, open]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| self.corrupt_msg("segment numbers are exhausted".into()))?;
        let mut seg = SegmentWriter::open(&self.dir, first_new, 0)?;
        let copied = self.copy_records(&txn, &mut seg, projection, models);
        let ends = match copied.and_then(|ends| self.commit(txn).map(|()| ends)) {
            Ok(ends) => ends,
            Err(e) => {
                // Unlisted and numbered after the last committed segment: the next writer
                // would remove them too (FORMAT.md §5).
                self.delete_segments_from(first_new);
                return Err(e);
            }
        };
        // The records copied so far are committed; registrations continue in the new
        // segment after them.
        *writer = Some(seg);
        report.records = ends.records;
        report.models = ends.records.saturating_sub(1);
        report.segments_after = ends.segments.into_iter().collect();
        report.bytes_after = report.segments_after.iter().map(|&(_, len)| len).sum();
        report.files_deleted = self.delete_unlisted(&report.segments_after)?;
        drop(writer);
        tracing::debug!(
            models = report.models,
            bytes_before = report.bytes_before,
            bytes_after = report.bytes_after,
            files_deleted = report.files_deleted,
            micros = started.elapsed().as_micros() as u64,
            "compacted"
        );
        Ok(report)
    }

    /// Copies the projection and every model's record into `seg` (each validated first)
    /// and rewrites their locations and the `segments` table in `txn`.
    fn copy_records(
        &self,
        txn: &WriteTransaction,
        seg: &mut SegmentWriter,
        projection: RecordLocation,
        models: Vec<ModelVersion>,
    ) -> Result<Copied> {
        let mut copied = Copied {
            dir: self.dir.clone(),
            records: 0,
            segments: BTreeMap::new(),
        };
        let bytes = self.segments.read(&projection)?;
        bytes.archived::<ArchivedProjectionRecord>()?;
        let loc = copied.append(seg, bytes.bytes(), &projection)?;
        self.write_meta(txn, KEY_PROJECTION, &encode_location(&loc))?;
        let mut table = txn.open_table(MODELS).map_err(|e| self.db_err(e.into()))?;
        for mut model in models {
            let bytes = self.segments.read(&model.location)?;
            bytes.record()?;
            model.location = copied.append(seg, bytes.bytes(), &model.location)?;
            table
                .insert(model.id, model.encode().as_slice())
                .map_err(|e| self.db_err(e.into()))?;
        }
        drop(table);
        txn.delete_table(SEGMENTS)
            .map_err(|e| self.db_err(e.into()))?;
        let mut segs = txn
            .open_table(SEGMENTS)
            .map_err(|e| self.db_err(e.into()))?;
        for (&id, &end) in &copied.segments {
            segs.insert(id, end).map_err(|e| self.db_err(e.into()))?;
        }
        Ok(copied)
    }

    /// Segment files under `segments/`, by id.
    fn segment_files(&self) -> Result<Vec<(u32, std::path::PathBuf)>> {
        let seg_dir = segment::segments_dir(&self.dir);
        let entries = match std::fs::read_dir(&seg_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: seg_dir,
                    error: source,
                }
                .into())
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| StoreError::Io {
                    path: seg_dir.clone(),
                    error: source,
                })?
                .path();
            if let Some(id) = segment_file_id(&path) {
                out.push((id, path));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Deletes every segment file `listed` does not name, then fsyncs the directory.
    ///
    /// Segments this process has not mapped yet are mapped first, so that a search of this
    /// process that read locations before the compaction committed can still read them.
    fn delete_unlisted(&self, listed: &[(u32, u64)]) -> Result<usize> {
        let mut deleted = 0;
        for (id, path) in self.segment_files()? {
            if listed.iter().any(|&(l, _)| l == id) {
                continue;
            }
            let header = RecordLocation {
                segment: id,
                offset: segment::SEGMENT_HEADER_LEN,
                len: 0,
                checksum: 0,
            };
            if let Err(e) = self.segments.read(&header) {
                tracing::debug!(error = %e, "not mapping an old segment before deleting it");
            }
            std::fs::remove_file(&path).map_err(|source| StoreError::Io {
                path: path.clone(),
                error: source,
            })?;
            deleted += 1;
        }
        if deleted > 0 {
            let seg_dir = segment::segments_dir(&self.dir);
            std::fs::File::open(&seg_dir)
                .and_then(|d| d.sync_all())
                .map_err(|source| StoreError::Io {
                    path: seg_dir,
                    error: source,
                })?;
        }
        Ok(deleted)
    }

    /// Best-effort removal of the files of a compaction that did not commit.
    fn delete_segments_from(&self, first: u32) {
        let Ok(files) = self.segment_files() else {
            return;
        };
        for (_, path) in files.into_iter().filter(|(id, _)| *id >= first) {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e,
                    "cannot remove the segment of a failed compaction; the next writer will");
            }
        }
    }
}

/// Records appended by a compaction and the committed end of each new segment.
struct Copied {
    dir: std::path::PathBuf,
    records: usize,
    segments: BTreeMap<u32, u64>,
}

impl Copied {
    /// Appends one record's bytes, checking that the copy has the same checksum.
    fn append(
        &mut self,
        seg: &mut SegmentWriter,
        bytes: &[u8],
        old: &RecordLocation,
    ) -> Result<RecordLocation> {
        let (loc, end) = seg.append(bytes)?;
        // Let the writer start a new segment past the target size; nothing is visible
        // until the catalogue commit, and a failed compaction deletes every new file.
        seg.committed();
        if loc.checksum != old.checksum || loc.len != old.len {
            return Err(StoreError::Corrupt {
                path: segment::segment_path(&self.dir, old.segment),
                reason: format!(
                    "record at offset {} changed while being copied (checksum {:016x}, \
                     catalogue says {:016x})",
                    old.offset, loc.checksum, old.checksum
                ),
            }
            .into());
        }
        self.records += 1;
        self.segments.insert(loc.segment, end);
        Ok(loc)
    }
}
