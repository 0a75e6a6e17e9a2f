//! The Raft log on disk: numbered records in preallocated append-only segment files under
//! `<data-dir>/raft/wal`.
//!
//! An append is one positioned write of all its frames; durability comes from one `fdatasync`
//! of the segment, issued by a syncer thread that covers every append queued while the
//! previous sync ran (group commit). Segments are allocated up front (`fallocate`), so a sync
//! flushes data, not a growing file's metadata. Records are found through an in-memory index of
//! (segment, offset, length); the index holds no payloads.

mod segment;

use segment::Loc;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

/// Bytes allocated per segment file.
pub const SEGMENT_SIZE: u64 = 64 * 1024 * 1024;

/// A log failure.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("raft log i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("raft log: {0}")]
    Corrupt(String),
    #[error("the raft log is damaged: {} at offset {offset}{}: {reason}. {}", file.display(), record.map(|r| format!(" (record {r})")).unwrap_or_default(), crate::store::REBUILD_ADVICE)]
    Damaged {
        file: PathBuf,
        offset: u64,
        record: Option<u64>,
        reason: &'static str,
    },
}

/// [`segment::scan_bytes`], for the fuzz target in `fuzz/` (not an API).
#[doc(hidden)]
pub fn scan_segment_bytes(bytes: &[u8], seq: u64, last: bool) -> segment::Scanned {
    segment::scan_bytes(bytes, seq, last)
}

fn damaged(file: PathBuf, d: &segment::Damage, record: Option<u64>) -> WalError {
    WalError::Damaged {
        file,
        offset: d.offset,
        record,
        reason: d.reason,
    }
}

fn describe_range(first: Option<u64>, upto: u64) -> String {
    match first {
        Some(f) if f == upto => format!("{f}"),
        Some(f) => format!("{f}..={upto}"),
        None => format!("..={upto}"),
    }
}

type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

/// An append waiting for its fdatasync.
struct SyncRequest {
    file: Arc<File>,
    /// The append's last record.
    last: u64,
    done: Done,
}

/// The log; clones share it.
#[derive(Clone)]
pub struct Wal {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    segment_size: u64,
    index: Mutex<Index>,
    writer: Mutex<Writer>,
    sync_tx: mpsc::Sender<SyncRequest>,
    stats: Arc<SyncStats>,
}

#[derive(Default)]
struct SyncStats {
    syncs: AtomicU64,
    requests: AtomicU64,
    /// The first fdatasync failure: once one failed, what was written since the last good
    /// one is not trusted, and neither is any later sync of the same file (Linux may have
    /// dropped the dirty pages and reports the error once).
    failure: Mutex<Option<String>>,
    /// The last record known durable: synced, or found on disk when the log was opened.
    durable: Mutex<Option<u64>>,
}

/// Where every live record is, and the segment files.
struct Index {
    /// The index of `locs[0]`.
    first: u64,
    locs: VecDeque<Loc>,
    segments: BTreeMap<u64, Segment>,
}

struct Segment {
    file: Arc<File>,
    /// End of the data written, in bytes.
    end: u64,
    /// Index of the last record in the segment, if any.
    last: Option<u64>,
}

/// The segment being appended to.
struct Writer {
    seq: u64,
    file: Arc<File>,
    offset: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Index {
    fn last(&self) -> Option<u64> {
        (!self.locs.is_empty()).then(|| self.first + self.locs.len() as u64 - 1)
    }

    fn loc(&self, index: u64) -> Option<Loc> {
        let i = index.checked_sub(self.first)?;
        self.locs.get(usize::try_from(i).ok()?).copied()
    }
}

impl Wal {
    /// Opens (creating) the log in `dir`, recovering every valid record. Damaged records are
    /// skipped when the snapshot covers them (index `..=covered`); otherwise opening fails
    /// with [`WalError::Damaged`].
    pub fn open(dir: &Path, covered: Option<u64>) -> Result<Wal, WalError> {
        Wal::open_with(dir, SEGMENT_SIZE, covered)
    }

    /// [`Wal::open`] with a chosen segment size (tests use small ones).
    pub fn open_with(dir: &Path, segment_size: u64, covered: Option<u64>) -> Result<Wal, WalError> {
        std::fs::create_dir_all(dir)?;
        let mut seqs = Vec::new();
        for e in std::fs::read_dir(dir)?.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            if segment::is_leftover(&name) {
                tracing::warn!(target: "agent.server.raft", "removing {}, a raft log segment whose preparation was interrupted", e.path().display());
                std::fs::remove_file(e.path())?;
            } else if let Some(seq) = segment::parse_name(&name) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let mut index = Index {
            first: 0,
            locs: VecDeque::new(),
            segments: BTreeMap::new(),
        };
        // Damage at the end of a segment that is not the last: the next segment's first
        // record says what was lost.
        let mut pending: Option<(PathBuf, segment::Damage)> = None;
        for (n, seq) in seqs.iter().enumerate() {
            let path = segment::path(dir, *seq);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)?;
            let last_segment = n + 1 == seqs.len();
            let scanned = segment::scan(&file, *seq, last_segment)?;
            let mut damage: Vec<(PathBuf, segment::Damage)> = scanned
                .damage
                .into_iter()
                .map(|d| (path.clone(), d))
                .collect();
            // Every segment is created at least `segment_size` long: a shorter one was cut,
            // and unless zeros remain after its last record, records may have gone with it.
            let len = file.metadata()?.len();
            if len < segment_size && (scanned.end >= len || scanned.dirty_tail) && damage.is_empty()
            {
                damage.push((
                    path.clone(),
                    segment::Damage {
                        offset: len,
                        first: scanned.records.last().map(|(i, _)| i + 1),
                        resumes_at: None,
                        reason: "the segment file is shorter than it was made: it was cut",
                    },
                ));
            }
            if let (Some(prev), Some((got, _))) = (index.last(), scanned.records.first()) {
                let want = prev + 1;
                if *got < want {
                    return Err(WalError::Corrupt(format!(
                        "{} starts at record {got}, after record {prev}",
                        path.display(),
                    )));
                }
                if *got > want {
                    // Only damage, or a purge of the whole log followed by appends after a
                    // snapshot, leaves records missing between two segments.
                    let (at, offset, reason) = match pending.take() {
                        Some((p, d)) => (p, d.offset, d.reason),
                        None => (path.clone(), 0, "records are missing between two segments"),
                    };
                    let gap = segment::Damage {
                        offset,
                        first: Some(want),
                        resumes_at: Some(*got),
                        reason,
                    };
                    damage.insert(0, (at, gap));
                }
            }
            if !scanned.records.is_empty() {
                if let Some((p, d)) = pending.take() {
                    // The next segment continues where the damage began: nothing was lost
                    // but the damaged frame's space.
                    tracing::warn!(target: "agent.server.raft", "ignoring a damaged frame at the end of {} at offset {} ({}): no record is missing", p.display(), d.offset, d.reason);
                }
            }
            let mut resume = None;
            for (at, d) in damage {
                let first = d.first.or(index.last().map(|l| l + 1));
                let Some(next) = d.resumes_at else {
                    if last_segment {
                        return Err(damaged(at, &d, first));
                    }
                    pending = Some((at, d));
                    continue;
                };
                match covered {
                    Some(c) if next.saturating_sub(1) <= c => {
                        tracing::warn!(target: "agent.server.raft", "skipping damaged raft log records {} in {} at offset {} ({}): the snapshot covers them", describe_range(first, next.saturating_sub(1)), at.display(), d.offset, d.reason);
                        index.locs.clear();
                        resume = Some(next);
                    }
                    _ => return Err(damaged(at, &d, first)),
                }
            }
            // Records before a skipped damage were dropped with it.
            let records: Vec<(u64, segment::Loc)> = scanned
                .records
                .into_iter()
                .filter(|(i, _)| resume.is_none_or(|r| *i >= r))
                .collect();
            if let (true, Some((first, _))) = (index.locs.is_empty(), records.first()) {
                index.first = *first;
            }
            let last = records.last().map(|(i, _)| *i);
            index.locs.extend(records.into_iter().map(|(_, l)| l));
            if last_segment && scanned.dirty_tail {
                // What a torn write left must not come back as records after later appends.
                let len = file.metadata()?.len();
                tracing::warn!(target: "agent.server.raft", "zeroing the torn end of {} from offset {}", path.display(), scanned.end);
                segment::zero(&file, scanned.end, len)?;
                file.sync_data()?;
            }
            index.segments.insert(
                *seq,
                Segment {
                    file: Arc::new(file),
                    end: scanned.end,
                    last,
                },
            );
        }
        if let Some((at, d)) = pending {
            let first = d.first;
            return Err(damaged(at, &d, first));
        }
        let writer = match index.segments.iter().next_back() {
            Some((seq, s)) => Writer {
                seq: *seq,
                file: s.file.clone(),
                offset: s.end,
            },
            None => {
                let file = Arc::new(segment::create(dir, 1, segment_size)?);
                index.segments.insert(
                    1,
                    Segment {
                        file: file.clone(),
                        end: 0,
                        last: None,
                    },
                );
                Writer {
                    seq: 1,
                    file,
                    offset: 0,
                }
            }
        };
        // What was found is made durable before anyone counts on it: after a crash of the
        // process alone, the page cache may still hold appends that were never synced.
        writer.file.sync_data()?;
        let stats = Arc::new(SyncStats {
            durable: Mutex::new(index.last()),
            ..SyncStats::default()
        });
        let (sync_tx, rx) = mpsc::channel();
        let syncer_stats = stats.clone();
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || syncer(rx, &syncer_stats))?;
        Ok(Wal {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                segment_size,
                index: Mutex::new(index),
                writer: Mutex::new(writer),
                sync_tx,
                stats,
            }),
        })
    }

    /// Opens this log's directory again after a failure, as a restart would. After a failed
    /// fdatasync, the records written since the last good one are not trusted: they are cut
    /// (they were never acknowledged) before the log is used again.
    pub fn recover(&self, covered: Option<u64>) -> Result<Wal, WalError> {
        let failure = lock(&self.shared.stats.failure).clone();
        let durable = *lock(&self.shared.stats.durable);
        let wal = Wal::open_with(&self.shared.dir, self.shared.segment_size, covered)?;
        if let Some(e) = failure {
            let from = durable.map_or(0, |d| d + 1);
            tracing::warn!(target: "agent.server.raft", "cutting the raft log from record {from} on: written after the last good fdatasync ({e})");
            wal.truncate_from(from)?;
        }
        Ok(wal)
    }

    /// Makes every later fdatasync count as failed, as after an EIO (tests).
    #[cfg(test)]
    fn fail_syncs(&self, why: &str) {
        *lock(&self.shared.stats.failure) = Some(why.to_string());
    }

    /// Why the log cannot take appends, if it cannot (a failed fdatasync).
    pub fn failure(&self) -> Option<String> {
        lock(&self.shared.stats.failure).clone()
    }

    /// Index of the first record held, if any.
    pub fn first_index(&self) -> Option<u64> {
        let index = lock(&self.shared.index);
        (!index.locs.is_empty()).then_some(index.first)
    }

    /// Index of the last record held, if any.
    pub fn last_index(&self) -> Option<u64> {
        lock(&self.shared.index).last()
    }

    /// Writes `records` (consecutive indexes following the last record, or any start when the
    /// log is empty) and queues `done` to run once they are durable.
    pub fn append_then(
        &self,
        records: &[(u64, Vec<u8>)],
        done: impl FnOnce(Result<(), String>) + Send + 'static,
    ) -> Result<(), WalError> {
        let Some((first, _)) = records.first() else {
            done(Ok(()));
            return Ok(());
        };
        let last = self.last_index();
        for (i, (index, _)) in records.iter().enumerate() {
            let want = last.map_or(*first, |l| l + 1) + i as u64;
            if *index != want {
                return Err(WalError::Corrupt(format!(
                    "append of record {index} where {want} was expected"
                )));
            }
        }
        let mut buf =
            Vec::with_capacity(records.iter().map(|(_, p)| p.len() + segment::HEADER).sum());
        let mut offsets = Vec::with_capacity(records.len());
        for (index, payload) in records {
            offsets.push((buf.len() as u64, payload.len() as u32));
            segment::encode(*index, payload, &mut buf);
        }
        let mut writer = lock(&self.shared.writer);
        let follows = lock(&self.shared.index)
            .segments
            .get(&writer.seq)
            .and_then(|s| s.last)
            .is_none_or(|l| l + 1 == *first);
        if !follows
            || (writer.offset > 0 && writer.offset + buf.len() as u64 > self.shared.segment_size)
        {
            self.roll(&mut writer)?;
        }
        if let Err(e) = writer.file.write_all_at(&buf, writer.offset) {
            // Whatever part reached the file must not be read back as records.
            let end = writer.offset + buf.len() as u64;
            let _ = segment::zero(&writer.file, writer.offset, end);
            return Err(e.into());
        }
        let base = writer.offset;
        writer.offset += buf.len() as u64;
        {
            let mut index = lock(&self.shared.index);
            if index.locs.is_empty() {
                index.first = *first;
            }
            index.locs.extend(offsets.iter().map(|(off, len)| Loc {
                seq: writer.seq,
                offset: base + off,
                len: *len,
            }));
            let last = index.last();
            if let Some(s) = index.segments.get_mut(&writer.seq) {
                s.end = writer.offset;
                s.last = last;
            }
        }
        let file = writer.file.clone();
        drop(writer);
        let last = records.last().map_or(*first, |(i, _)| *i);
        let req = SyncRequest {
            file,
            last,
            done: Box::new(done),
        };
        if let Err(mpsc::SendError(req)) = self.shared.sync_tx.send(req) {
            (req.done)(Err("raft log syncer stopped".to_string()));
        }
        Ok(())
    }

    /// Starts a new segment after the current one, which is made durable first: only the
    /// last segment may end torn.
    fn roll(&self, writer: &mut Writer) -> Result<(), WalError> {
        writer.file.sync_data()?;
        let seq = writer.seq + 1;
        let file = Arc::new(segment::create(
            &self.shared.dir,
            seq,
            self.shared.segment_size,
        )?);
        lock(&self.shared.index).segments.insert(
            seq,
            Segment {
                file: file.clone(),
                end: 0,
                last: None,
            },
        );
        *writer = Writer {
            seq,
            file,
            offset: 0,
        };
        Ok(())
    }

    /// The payloads of records `start..end` that are held, in order.
    pub fn read(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, WalError> {
        let wanted: Vec<(u64, Loc, Arc<File>)> = {
            let index = lock(&self.shared.index);
            let from = start.max(index.first);
            let to = end.min(index.last().map_or(from, |l| l + 1));
            let mut out = Vec::new();
            for i in from..to {
                if let Some(loc) = index.loc(i) {
                    if let Some(s) = index.segments.get(&loc.seq) {
                        out.push((i, loc, s.file.clone()));
                    }
                }
            }
            out
        };
        wanted
            .into_iter()
            .map(|(i, loc, file)| match segment::read(&file, i, loc) {
                Ok(payload) => Ok((i, payload)),
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(WalError::Damaged {
                    file: segment::path(&self.shared.dir, loc.seq),
                    offset: loc.offset,
                    record: Some(i),
                    reason: "the record no longer matches its checksum",
                }),
                Err(e) => Err(e.into()),
            })
            .collect()
    }

    /// Removes records `from..` durably; appends continue at `from`.
    pub fn truncate_from(&self, from: u64) -> Result<(), WalError> {
        let mut writer = lock(&self.shared.writer);
        let (cut, file, old_end, later) = {
            let mut index = lock(&self.shared.index);
            let from = from.max(index.first);
            let Some(cut) = index.loc(from) else {
                return Ok(());
            };
            let keep = usize::try_from(from - index.first).unwrap_or(0);
            index.locs.truncate(keep);
            let later: Vec<u64> = index
                .segments
                .range(cut.seq + 1..)
                .map(|(s, _)| *s)
                .collect();
            for s in &later {
                index.segments.remove(s);
            }
            let Some(seg) = index.segments.get_mut(&cut.seq) else {
                return Err(WalError::Corrupt(format!("segment {} is gone", cut.seq)));
            };
            let old_end = seg.end;
            seg.end = cut.offset;
            // A segment's first record sits at offset 0.
            seg.last = (cut.offset > 0).then(|| from - 1);
            (cut, seg.file.clone(), old_end, later)
        };
        // Later segments go first: a crash part-way leaves a prefix of the old log, never a gap.
        for seq in &later {
            std::fs::remove_file(segment::path(&self.shared.dir, *seq))?;
        }
        if !later.is_empty() {
            File::open(&self.shared.dir)?.sync_all()?;
        }
        segment::zero(&file, cut.offset, old_end)?;
        file.sync_data()?;
        {
            let mut durable = lock(&self.shared.stats.durable);
            *durable = (*durable).min(from.checked_sub(1));
        }
        *writer = Writer {
            seq: cut.seq,
            file,
            offset: cut.offset,
        };
        Ok(())
    }

    /// Forgets records `..=upto` and deletes the segments holding only such records.
    pub fn purge_upto(&self, upto: u64) -> Result<(), WalError> {
        let writer_seq = lock(&self.shared.writer).seq;
        let doomed: Vec<u64> = {
            let mut index = lock(&self.shared.index);
            while index.first <= upto && !index.locs.is_empty() {
                index.locs.pop_front();
                index.first += 1;
            }
            if index.locs.is_empty() {
                index.first = upto + 1;
            }
            let seqs: Vec<u64> = index
                .segments
                .iter()
                .filter(|(seq, s)| **seq != writer_seq && s.last.is_none_or(|l| l <= upto))
                .map(|(seq, _)| *seq)
                .collect();
            for seq in &seqs {
                index.segments.remove(seq);
            }
            seqs
        };
        for seq in &doomed {
            std::fs::remove_file(segment::path(&self.shared.dir, *seq))?;
        }
        Ok(())
    }

    /// (fdatasyncs done, appends they covered).
    pub fn sync_stats(&self) -> (u64, u64) {
        (
            self.shared.stats.syncs.load(Ordering::Relaxed),
            self.shared.stats.requests.load(Ordering::Relaxed),
        )
    }

    /// Bytes allocated on disk by the segments.
    pub fn size_on_disk(&self) -> u64 {
        let index = lock(&self.shared.index);
        index
            .segments
            .values()
            .filter_map(|s| s.file.metadata().ok())
            .map(|m| m.len())
            .sum()
    }
}

/// Runs queued syncs: one fdatasync per distinct file covers every append queued meanwhile;
/// callbacks run in append order once all of them are durable. After a failed fdatasync no
/// append is acknowledged again: the log must be reopened ([`Wal::recover`]).
fn syncer(rx: mpsc::Receiver<SyncRequest>, stats: &SyncStats) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let mut res = lock(&stats.failure).as_ref().map_or(Ok(()), |e| {
            Err(format!("an earlier fdatasync of the raft log failed: {e}"))
        });
        if res.is_ok() {
            let mut files: Vec<&Arc<File>> = Vec::new();
            for r in &batch {
                if !files.iter().any(|g| Arc::ptr_eq(g, &r.file)) {
                    files.push(&r.file);
                }
            }
            for f in files {
                if let Err(e) = f.sync_data() {
                    res = Err(format!("fdatasync of the raft log failed: {e}"));
                }
                stats.syncs.fetch_add(1, Ordering::Relaxed);
            }
        }
        match &res {
            Ok(()) => {
                let last = batch.iter().map(|r| r.last).max();
                let mut durable = lock(&stats.durable);
                *durable = (*durable).max(last);
            }
            Err(e) => {
                tracing::error!(target: "agent.server.raft", "{e}");
                lock(&stats.failure).get_or_insert_with(|| e.clone());
            }
        }
        stats
            .requests
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for r in batch {
            (r.done)(res.clone());
        }
    }
}

#[cfg(test)]
mod tests;
