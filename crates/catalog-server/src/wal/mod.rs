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
}

type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

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
    sync_tx: mpsc::Sender<(Arc<File>, Done)>,
    stats: Arc<SyncStats>,
}

#[derive(Default)]
struct SyncStats {
    syncs: AtomicU64,
    requests: AtomicU64,
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
    /// Opens (creating) the log in `dir`, recovering every valid record.
    pub fn open(dir: &Path) -> Result<Wal, WalError> {
        Wal::open_with(dir, SEGMENT_SIZE)
    }

    /// [`Wal::open`] with a chosen segment size (tests use small ones).
    pub fn open_with(dir: &Path, segment_size: u64) -> Result<Wal, WalError> {
        std::fs::create_dir_all(dir)?;
        let mut seqs: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| segment::parse_name(&e.file_name().to_string_lossy()))
            .collect();
        seqs.sort_unstable();
        let mut index = Index {
            first: 0,
            locs: VecDeque::new(),
            segments: BTreeMap::new(),
        };
        for seq in &seqs {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(segment::path(dir, *seq))?;
            let scanned = segment::scan(&file, *seq)?;
            if let (Some(prev), Some((got, _))) = (index.last(), scanned.records.first()) {
                if *got <= prev {
                    return Err(WalError::Corrupt(format!(
                        "segment {seq} starts at record {got}, after record {prev}"
                    )));
                }
                if *got > prev + 1 {
                    // Only a purge of the whole log followed by appends after a snapshot leaves
                    // a gap (see `append_then`): what comes before it was purged.
                    index.locs.clear();
                }
            }
            if index.locs.is_empty() {
                if let Some((first, _)) = scanned.records.first() {
                    index.first = *first;
                }
            }
            let last = scanned.records.last().map(|(i, _)| *i);
            index
                .locs
                .extend(scanned.records.into_iter().map(|(_, l)| l));
            index.segments.insert(
                *seq,
                Segment {
                    file: Arc::new(file),
                    end: scanned.end,
                    last,
                },
            );
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
        let stats = Arc::new(SyncStats::default());
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
        writer.file.write_all_at(&buf, writer.offset)?;
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
        if let Err(mpsc::SendError((_, done))) = self.shared.sync_tx.send((file, Box::new(done))) {
            done(Err("raft log syncer stopped".to_string()));
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
            .map(|(i, loc, file)| Ok((i, segment::read(&file, i, loc)?)))
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
/// callbacks run in append order once all of them are durable.
fn syncer(rx: mpsc::Receiver<(Arc<File>, Done)>, stats: &SyncStats) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let mut files: Vec<&Arc<File>> = Vec::new();
        for (f, _) in &batch {
            if !files.iter().any(|g| Arc::ptr_eq(g, f)) {
                files.push(f);
            }
        }
        let mut res = Ok(());
        for f in files {
            if let Err(e) = f.sync_data() {
                res = Err(e.to_string());
            }
            stats.syncs.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = &res {
            tracing::error!(target: "agent.server.raft", "failed to sync raft log: {e}");
        }
        stats
            .requests
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for (_, done) in batch {
            done(res.clone());
        }
    }
}

#[cfg(test)]
mod tests;
