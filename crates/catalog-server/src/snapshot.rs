//! `consul snapshot` archives: a gzip'd tar holding `meta.json` (index, term), `state.bin` (the
//! catalog state) and `SHA256SUMS`, the layout of Consul's archives. `state.bin` is our own
//! encoding (JSON of the catalog state), not Consul's msgpack stream, so archives move between
//! our servers, not to or from Go Consul.

use crate::catalog::State;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;

/// What went wrong reading or writing an archive.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("failed to read snapshot archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("failed to decode snapshot: {0}")]
    Decode(String),
    #[error("snapshot archive is missing {0}")]
    Missing(&'static str),
    #[error("hash check failed for {0:?}")]
    Hash(String),
}

/// `meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Index")]
    pub index: u64,
    #[serde(rename = "Term")]
    pub term: u64,
    #[serde(rename = "Version")]
    pub version: u32,
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn add(
    builder: &mut tar::Builder<impl std::io::Write>,
    name: &str,
    data: &[u8],
) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o600);
    h.set_mtime(0);
    h.set_cksum();
    builder.append_data(&mut h, name, data)
}

/// Builds the archive of `state` taken at raft `index`/`term`.
pub fn write_archive(state: &State, index: u64, term: u64) -> Result<Vec<u8>, SnapshotError> {
    let meta = Meta {
        id: format!("{term}-{index}"),
        index,
        term,
        version: 1,
    };
    let meta_bytes = serde_json::to_vec(&meta).map_err(|e| SnapshotError::Decode(e.to_string()))?;
    let state_bytes =
        serde_json::to_vec(state).map_err(|e| SnapshotError::Decode(e.to_string()))?;
    let sums = format!(
        "{}  meta.json\n{}  state.bin\n",
        hex(&Sha256::digest(&meta_bytes)),
        hex(&Sha256::digest(&state_bytes))
    );
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    add(&mut tar, "meta.json", &meta_bytes)?;
    add(&mut tar, "state.bin", &state_bytes)?;
    add(&mut tar, "SHA256SUMS", sums.as_bytes())?;
    Ok(tar.into_inner()?.finish()?)
}

/// Reads and verifies an archive.
pub fn read_archive(bytes: &[u8]) -> Result<(Meta, State), SnapshotError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let (mut meta, mut state, mut sums) = (None, None, None);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.by_ref().take(1 << 30).read_to_end(&mut data)?;
        match name.as_str() {
            "meta.json" => meta = Some(data),
            "state.bin" => state = Some(data),
            "SHA256SUMS" => sums = Some(String::from_utf8_lossy(&data).into_owned()),
            _ => {}
        }
    }
    let meta = meta.ok_or(SnapshotError::Missing("meta.json"))?;
    let state = state.ok_or(SnapshotError::Missing("state.bin"))?;
    let sums = sums.ok_or(SnapshotError::Missing("SHA256SUMS"))?;
    for (name, data) in [("meta.json", &meta), ("state.bin", &state)] {
        let want = sums
            .lines()
            .find_map(|l| {
                l.split_once("  ")
                    .filter(|(_, n)| *n == name)
                    .map(|(h, _)| h.to_string())
            })
            .ok_or(SnapshotError::Missing("a SHA256SUMS line"))?;
        if want != hex(&Sha256::digest(data)) {
            return Err(SnapshotError::Hash(name.to_string()));
        }
    }
    let meta: Meta =
        serde_json::from_slice(&meta).map_err(|e| SnapshotError::Decode(e.to_string()))?;
    let mut state: State =
        serde_json::from_slice(&state).map_err(|e| SnapshotError::Decode(e.to_string()))?;
    state.reindex();
    Ok((meta, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_tamper_detection() {
        let mut s = State::default();
        let set = |s: &mut State, key: &str, value: &[u8]| {
            let cmd = crate::catalog::Command::KvSet {
                entry: crate::catalog::KvRecord {
                    key: key.into(),
                    value: value.to_vec(),
                    ..Default::default()
                },
                op: crate::catalog::KvOp::Set,
            };
            let (r, _) = s.apply(1, &crate::catalog::Request { now_ms: 0, cmd });
            assert!(r.is_ok());
        };
        set(&mut s, "a", b"1");
        let bytes = write_archive(&s, 42, 3).unwrap();
        let (meta, back) = read_archive(&bytes).unwrap();
        assert_eq!(meta.index, 42);
        assert_eq!(back, s);
        assert!(read_archive(b"not gzip").is_err());
        let mut s2 = State::default();
        set(&mut s2, "b", b"2");
        let other = write_archive(&s2, 1, 1).unwrap();
        assert!(read_archive(&other[..other.len() / 2]).is_err());
    }
}
