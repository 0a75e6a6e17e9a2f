//! One segment file of the log: a preallocated, zero-filled file of framed records.
//!
//! A frame is a 16-byte header — payload length (u32 LE), CRC-32 of index and payload (u32 LE),
//! the record's index (u64 LE) — followed by the payload. The first frame that is all zeros,
//! torn, fails its checksum or breaks the index sequence ends the segment: everything after it
//! was never acknowledged.

use std::fs::File;
use std::io::{self, BufReader, Read};
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

/// Creates segment `seq` with `size` bytes allocated, durable (file and directory entry).
pub fn create(dir: &Path, seq: u64, size: u64) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path(dir, seq))?;
    rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size)?;
    file.sync_all()?;
    File::open(dir)?.sync_all()?;
    Ok(file)
}

/// What scanning a segment found: its valid records in order and where the next frame goes.
pub struct Scanned {
    pub records: Vec<(u64, Loc)>,
    pub end: u64,
}

/// Reads segment `seq` from the start and returns its valid records.
pub fn scan(file: &File, seq: u64) -> io::Result<Scanned> {
    let mut expect: Option<u64> = None;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut records = Vec::new();
    let mut offset = 0u64;
    let mut header = [0u8; HEADER];
    let mut payload = Vec::new();
    loop {
        if !read_full(&mut reader, &mut header)? {
            break;
        }
        let (len, crc, index) = split_header(&header);
        if len == 0 || len > MAX_PAYLOAD || expect.is_some_and(|e| e != index) {
            break;
        }
        payload.resize(len as usize, 0);
        if !read_full(&mut reader, &mut payload)? || checksum(index, &payload) != crc {
            break;
        }
        records.push((index, Loc { seq, offset, len }));
        offset += (HEADER + payload.len()) as u64;
        expect = Some(index + 1);
    }
    Ok(Scanned {
        records,
        end: offset,
    })
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

/// Fills `buf` completely; false when the file ends first.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
