//! One segment file of the log: a preallocated, zero-filled file of framed records.
//!
//! A frame is a 16-byte header — payload length (u32 LE), CRC-32 of index and payload (u32 LE),
//! the record's index (u64 LE) — followed by the payload.
//!
//! Scanning tells three endings apart. A zero header is the clean end (segments are zero-filled
//! and truncation zeroes what it cuts). A bad frame in the last segment with a zero-filled
//! sector-aligned piece and no valid frame after it is a torn write: the append was never
//! acknowledged, and appends continue over it (etcd's rule). Any other bad frame is damage:
//! the scan looks for the next valid frame after it and reports which records are lost, and the
//! log decides whether the snapshot covers them.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const HEADER: usize = 16;

/// Largest payload a frame may claim; anything larger is garbage, not a record.
const MAX_PAYLOAD: u32 = 256 * 1024 * 1024;

/// Where a record lives: its segment, the frame's offset and the payload's length.
#[derive(Clone, Copy, Debug)]
pub struct Loc {
    pub seq: u64,
    pub offset: u64,
    pub len: u32,
}

fn checksum(index: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&index.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Appends the frame of record `index` to `out`.
pub fn encode(index: u64, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(index, payload).to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The file name of segment `seq`.
pub fn path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.wal"))
}

/// The sequence number in a segment's file name.
pub fn parse_name(name: &str) -> Option<u64> {
    name.strip_suffix(".wal")?.parse().ok()
}

/// The temporary name a segment is prepared under.
fn tmp_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.wal.tmp"))
}

/// Whether `name` is a segment that was being prepared when the process stopped.
pub fn is_leftover(name: &str) -> bool {
    name.ends_with(".wal.tmp")
}

/// Creates segment `seq` with `size` bytes allocated, durable (file and directory entry). When
/// the disk has no room for the allocation the file is made sparse instead: every segment is
/// at least `size` bytes long, so a shorter one has been cut.
pub fn create(dir: &Path, seq: u64, size: u64) -> io::Result<File> {
    let tmp = tmp_path(dir, seq);
    let made = (|| {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        if let Err(e) = rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size) {
            tracing::warn!(target: "agent.server.raft", "cannot preallocate raft log segment {} ({size} bytes): {e}; its blocks are allocated as it is written", path(dir, seq).display());
            // Sparse, but of the full size all the same: a segment shorter than that was cut.
            file.set_len(size)?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path(dir, seq))?;
        File::open(dir)?.sync_all()?;
        Ok(file)
    })();
    if made.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    made
}

/// Records a bad frame made unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Offset of the first bad frame.
    pub offset: u64,
    /// The first record lost, when known (the record after the last good one).
    pub first: Option<u64>,
    /// The record after the lost ones, if a valid frame follows the damage.
    pub resumes_at: Option<u64>,
    pub reason: &'static str,
}

/// What scanning a segment found: its valid records in order, where the next frame goes and
/// any damage.
pub struct Scanned {
    pub records: Vec<(u64, Loc)>,
    pub end: u64,
    pub damage: Vec<Damage>,
    /// Bytes after `end` are not all zeros (a torn write's remains).
    pub dirty_tail: bool,
}

/// A frame at `offset`, checked.
enum Frame {
    Good {
        index: u64,
        len: u32,
    },
    /// Zero header: nothing was ever written here.
    Empty,
    Bad(&'static str),
}

fn frame_at(bytes: &[u8], offset: usize, expect: Option<u64>) -> Frame {
    let Some(h) = bytes.get(offset..offset + HEADER) else {
        return if bytes[offset.min(bytes.len())..].iter().all(|b| *b == 0) {
            Frame::Empty
        } else {
            Frame::Bad("the file ends inside a frame header")
        };
    };
    let mut header = [0u8; HEADER];
    header.copy_from_slice(h);
    if header == [0u8; HEADER] {
        return Frame::Empty;
    }
    let (len, crc, index) = split_header(&header);
    if len == 0 || len > MAX_PAYLOAD {
        return Frame::Bad("the frame's length is impossible");
    }
    if expect.is_some_and(|e| e != index) {
        return Frame::Bad("the frame's record index breaks the sequence");
    }
    let Some(payload) = bytes.get(offset + HEADER..offset + HEADER + len as usize) else {
        return Frame::Bad("the file ends inside the frame");
    };
    if checksum(index, payload) != crc {
        return Frame::Bad("checksum mismatch");
    }
    Frame::Good { index, len }
}

/// Whether the frame at `offset` looks like a write that did not complete: it ends in zeros,
/// or some piece of it cut at sector boundaries is all zeros (etcd's torn-entry rule) — and
/// its length is not one bit away from a length that makes it valid (a flipped length bit
/// would otherwise pass for a torn write, the real frame followed by the zeroed space).
fn looks_torn(bytes: &[u8], offset: usize) -> bool {
    const SECTOR: usize = 512;
    let Some(h) = bytes.get(offset..offset + HEADER) else {
        return true;
    };
    let mut header = [0u8; HEADER];
    header.copy_from_slice(h);
    let (len, crc, index) = split_header(&header);
    let payload_at = offset + HEADER;
    let end = (payload_at + len.min(MAX_PAYLOAD) as usize).min(bytes.len());
    if end <= payload_at {
        return true;
    }
    let flipped_len = (0..32).any(|bit| {
        let l = (len ^ (1 << bit)) as usize;
        l > 0
            && bytes
                .get(payload_at..payload_at + l)
                .is_some_and(|p| checksum(index, p) == crc)
    });
    if flipped_len {
        return false;
    }
    let suffix = &bytes[end.saturating_sub(8).max(payload_at)..end];
    if suffix.iter().all(|b| *b == 0) {
        return true;
    }
    let mut at = offset;
    while at < end {
        let next = ((at / SECTOR) + 1) * SECTOR;
        let piece = &bytes[at..next.min(end)];
        if piece.iter().all(|b| *b == 0) {
            return true;
        }
        at = next;
    }
    false
}

/// The first valid frame after `from`, with an index past `after` when that is known.
fn next_valid(bytes: &[u8], from: usize, after: Option<u64>) -> Option<(usize, u64)> {
    (from..bytes.len().saturating_sub(HEADER)).find_map(|at| {
        let mut header = [0u8; HEADER];
        header.copy_from_slice(&bytes[at..at + HEADER]);
        let (_, _, index) = split_header(&header);
        if after.is_some_and(|a| index <= a || index > a.saturating_add(1 << 32)) {
            return None;
        }
        match frame_at(bytes, at, None) {
            Frame::Good { index, .. } => Some((at, index)),
            _ => None,
        }
    })
}

/// Scans segment `seq`; `last` says whether it is the newest segment, the only one a torn
/// write can end.
pub fn scan(file: &File, seq: u64, last: bool) -> io::Result<Scanned> {
    let mut bytes = Vec::new();
    (&*file).read_to_end(&mut bytes)?;
    Ok(scan_bytes(&bytes, seq, last))
}

/// [`scan`] over a segment's bytes.
pub fn scan_bytes(bytes: &[u8], seq: u64, last: bool) -> Scanned {
    let mut expect = None;
    let mut records = Vec::new();
    let mut damage = Vec::new();
    let mut offset = 0usize;
    loop {
        let reason = match frame_at(bytes, offset, expect) {
            Frame::Good { index, len } => {
                records.push((
                    index,
                    Loc {
                        seq,
                        offset: offset as u64,
                        len,
                    },
                ));
                offset += HEADER + len as usize;
                expect = Some(index.saturating_add(1));
                continue;
            }
            // Nothing follows a clean end; a valid frame after zeros means lost writes.
            Frame::Empty if bytes[offset.min(bytes.len())..].iter().all(|b| *b == 0) => break,
            Frame::Empty => "a zeroed region inside the log",
            Frame::Bad(reason) => reason,
        };
        let after = expect.map(|e| e.saturating_sub(1));
        match next_valid(bytes, offset + 1, after) {
            Some((at, index)) => {
                damage.push(Damage {
                    offset: offset as u64,
                    first: expect,
                    resumes_at: Some(index),
                    reason,
                });
                offset = at;
                expect = Some(index);
            }
            // A torn write: it was never acknowledged, and appends continue over it.
            None if last && looks_torn(bytes, offset) => break,
            None => {
                damage.push(Damage {
                    offset: offset as u64,
                    first: expect,
                    resumes_at: None,
                    reason,
                });
                break;
            }
        }
    }
    let end = offset.min(bytes.len());
    Scanned {
        records,
        end: end as u64,
        damage,
        dirty_tail: bytes[end..].iter().any(|b| *b != 0),
    }
}

/// Reads and checks the payload of the record `index` at `loc`.
pub fn read(file: &File, index: u64, loc: Loc) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; HEADER + loc.len as usize];
    file.read_exact_at(&mut buf, loc.offset)?;
    let mut header = [0u8; HEADER];
    header.copy_from_slice(&buf[..HEADER]);
    let (len, crc, stored_index) = split_header(&header);
    let payload = buf.split_off(HEADER);
    if len != loc.len || stored_index != index || checksum(index, &payload) != crc {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("log record {index} at offset {} is corrupt", loc.offset),
        ));
    }
    Ok(payload)
}

/// Overwrites `[from, to)` of `file` with zeros, so no frame survives there.
pub fn zero(file: &File, from: u64, to: u64) -> io::Result<()> {
    let chunk = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = (to - at).min(chunk.len() as u64) as usize;
        file.write_all_at(&chunk[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

fn split_header(h: &[u8; HEADER]) -> (u32, u32, u64) {
    let mut len = [0u8; 4];
    let mut crc = [0u8; 4];
    let mut index = [0u8; 8];
    len.copy_from_slice(&h[0..4]);
    crc.copy_from_slice(&h[4..8]);
    index.copy_from_slice(&h[8..16]);
    (
        u32::from_le_bytes(len),
        u32::from_le_bytes(crc),
        u64::from_le_bytes(index),
    )
}
