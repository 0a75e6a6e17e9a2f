//! The snapshot file's framing: a checksummed header, the snapshot's metadata and its data.
//!
//! ```text
//! magic "CSNAP\0\0\x02" | meta length u64 LE | data length u64 LE | CRC-32 u32 LE | meta | data
//! ```
//! The CRC covers the magic, both lengths, the metadata and the data; the file's size must be
//! exactly the header plus both lengths. Files of earlier versions (no magic: metadata length,
//! metadata, data, no checksum) are still read, and rewritten in this form.

use std::fmt;

const MAGIC: &[u8; 8] = b"CSNAP\0\0\x02";
/// Bytes before the metadata.
pub const HEADER: usize = 8 + 8 + 8 + 4;

/// Why a snapshot file's bytes are not a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// Shorter or longer than its header says.
    Length { expected: u64, actual: u64 },
    /// The checksum does not match the contents.
    Checksum { stored: u32, computed: u32 },
    /// Too short to hold a header.
    Truncated { actual: u64 },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Length { expected, actual } => write!(
                f,
                "its header says {expected} bytes but the file has {actual} (truncated or extended)"
            ),
            Damage::Checksum { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:08x}, computed {computed:08x}): its contents changed after it was written"
            ),
            Damage::Truncated { actual } => {
                write!(f, "the file has {actual} bytes, too short for a snapshot")
            }
        }
    }
}

/// A decoded snapshot file.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    pub meta: Vec<u8>,
    pub data: Vec<u8>,
    /// Written by an earlier version, without a checksum.
    pub legacy: bool,
}

fn crc(lens: &[u8], meta: &[u8], data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(MAGIC);
    h.update(lens);
    h.update(meta);
    h.update(data);
    h.finalize()
}

/// The header to write before `meta` and `data`.
pub fn header(meta: &[u8], data: &[u8]) -> [u8; HEADER] {
    let mut out = [0u8; HEADER];
    out[..8].copy_from_slice(MAGIC);
    out[8..16].copy_from_slice(&(meta.len() as u64).to_le_bytes());
    out[16..24].copy_from_slice(&(data.len() as u64).to_le_bytes());
    let sum = crc(&out[8..24], meta, data);
    out[24..28].copy_from_slice(&sum.to_le_bytes());
    out
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes.get(at..at + 8)?);
    Some(u64::from_le_bytes(b))
}

/// Checks and splits a snapshot file's bytes.
pub fn decode(mut bytes: Vec<u8>) -> Result<Decoded, Damage> {
    let actual = bytes.len() as u64;
    if !bytes.starts_with(MAGIC) {
        return decode_legacy(bytes);
    }
    if bytes.len() < HEADER {
        return Err(Damage::Truncated { actual });
    }
    let (Some(meta_len), Some(data_len)) = (u64_at(&bytes, 8), u64_at(&bytes, 16)) else {
        return Err(Damage::Truncated { actual });
    };
    let expected = (HEADER as u64)
        .checked_add(meta_len)
        .and_then(|n| n.checked_add(data_len))
        .unwrap_or(u64::MAX);
    if expected != actual {
        return Err(Damage::Length { expected, actual });
    }
    let mut stored = [0u8; 4];
    stored.copy_from_slice(&bytes[24..28]);
    let stored = u32::from_le_bytes(stored);
    // Lengths were checked against the file's size: these fit in usize.
    let meta_end = HEADER + meta_len as usize;
    let computed = crc(&bytes[8..24], &bytes[HEADER..meta_end], &bytes[meta_end..]);
    if stored != computed {
        return Err(Damage::Checksum { stored, computed });
    }
    let data = bytes.split_off(meta_end);
    let meta = bytes.split_off(HEADER);
    Ok(Decoded {
        meta,
        data,
        legacy: false,
    })
}

/// Earlier versions: metadata length (u64 LE), metadata, data.
fn decode_legacy(mut bytes: Vec<u8>) -> Result<Decoded, Damage> {
    let actual = bytes.len() as u64;
    let meta_len = u64_at(&bytes, 0).ok_or(Damage::Truncated { actual })?;
    let meta_end = meta_len
        .checked_add(8)
        .filter(|end| *end <= actual)
        .ok_or(Damage::Length {
            expected: meta_len.saturating_add(8),
            actual,
        })?;
    let data = bytes.split_off(meta_end as usize);
    let meta = bytes.split_off(8);
    Ok(Decoded {
        meta,
        data,
        legacy: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(meta: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = header(meta, data).to_vec();
        out.extend_from_slice(meta);
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn round_trips() {
        let got = decode(file(b"{\"m\":1}", b"state")).unwrap();
        assert_eq!(got.meta, b"{\"m\":1}");
        assert_eq!(got.data, b"state");
        assert!(!got.legacy);
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_is_detected() {
        let good = file(b"{\"last\":42}", b"{\"kv\":{\"a\":\"b\"}}");
        for bit in 0..good.len() * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(bad).is_err(), "bit {bit} flipped went unnoticed");
        }
        for len in 0..good.len() {
            assert!(decode(good[..len].to_vec()).is_err(), "truncated to {len}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(decode(longer).is_err());
    }

    #[test]
    fn an_earlier_versions_file_is_read() {
        let mut old = 3u64.to_le_bytes().to_vec();
        old.extend_from_slice(b"abcdata");
        let got = decode(old).unwrap();
        assert_eq!(
            (got.meta.as_slice(), got.data.as_slice()),
            (&b"abc"[..], &b"data"[..])
        );
        assert!(got.legacy);
        assert!(decode(vec![1, 2]).is_err());
    }
}
