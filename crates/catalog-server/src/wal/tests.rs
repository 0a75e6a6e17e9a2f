use super::*;
use std::path::Path;
use std::sync::mpsc::channel;

fn rec(i: u64, fill: u8, len: usize) -> (u64, Vec<u8>) {
    (i, vec![fill; len])
}

/// Appends and waits for durability.
fn append(wal: &Wal, records: &[(u64, Vec<u8>)]) {
    let (tx, rx) = channel();
    wal.append_then(records, move |r| {
        let _ = tx.send(r);
    })
    .unwrap();
    rx.recv().unwrap().unwrap();
}

fn all(wal: &Wal) -> Vec<(u64, Vec<u8>)> {
    wal.read(0, u64::MAX).unwrap()
}

#[test]
fn records_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), None).unwrap();
    append(&wal, &[rec(1, b'a', 10), rec(2, b'b', 20)]);
    append(&wal, &[rec(3, b'c', 5)]);
    assert_eq!(wal.sync_stats().1, 2);
    drop(wal);
    let wal = Wal::open(dir.path(), None).unwrap();
    assert_eq!(
        all(&wal),
        vec![rec(1, b'a', 10), rec(2, b'b', 20), rec(3, b'c', 5)]
    );
    assert_eq!(wal.read(2, 3).unwrap(), vec![rec(2, b'b', 20)]);
}

#[test]
fn appends_must_follow_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), None).unwrap();
    append(&wal, &[rec(5, b'a', 3)]);
    assert!(wal.append_then(&[rec(7, b'x', 3)], |_| {}).is_err());
    assert!(wal
        .append_then(&[rec(6, b'x', 3), rec(8, b'x', 3)], |_| {})
        .is_err());
    assert_eq!(all(&wal), vec![rec(5, b'a', 3)]);
}

/// Overwrites bytes of segment 1 at `at`.
fn scribble(dir: &Path, at: u64, bytes: &[u8]) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(segment::path(dir, 1))
        .unwrap();
    file.write_all_at(bytes, at).unwrap();
}

/// Where record `i` (1-based, 100-byte payloads) starts in segment 1.
fn frame(i: u64) -> u64 {
    (i - 1) * (segment::HEADER as u64 + 100)
}

/// Small segments keep the scans of these tests short.
const SMALL: u64 = 4096;

fn open(dir: &Path, covered: Option<u64>) -> Result<Wal, WalError> {
    Wal::open_with(dir, SMALL, covered)
}

fn three_records(dir: &Path) {
    let wal = open(dir, None).unwrap();
    append(
        &wal,
        &[rec(1, b'a', 100), rec(2, b'b', 100), rec(3, b'c', 100)],
    );
}

#[test]
fn a_torn_tail_ends_the_log_and_appends_go_over_it() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    // The last append reached the disk only in part: its end is still zeros.
    scribble(dir.path(), frame(3) + 60, &[0u8; 56]);
    let wal = open(dir.path(), None).unwrap();
    assert_eq!(all(&wal), vec![rec(1, b'a', 100), rec(2, b'b', 100)]);
    append(&wal, &[rec(3, b'z', 7)]);
    drop(wal);
    let wal = open(dir.path(), None).unwrap();
    assert_eq!(
        all(&wal),
        vec![rec(1, b'a', 100), rec(2, b'b', 100), rec(3, b'z', 7)]
    );
}

#[test]
fn a_flipped_bit_in_the_last_record_is_damage_not_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    scribble(dir.path(), frame(3) + segment::HEADER as u64 + 50, b"X");
    let err = open(dir.path(), None).err().unwrap().to_string();
    assert!(err.contains("00000000000000000001.wal"), "{err}");
    assert!(err.contains(&format!("offset {}", frame(3))), "{err}");
    assert!(err.contains("record 3"), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    // Nothing was changed on disk by the refusal: the damage is still reported.
    assert!(open(dir.path(), Some(2)).is_err());
}

#[test]
fn damage_in_the_middle_is_reported_unless_the_snapshot_covers_it() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    // Record 2's length field: the scan must find record 3 after it on its own.
    scribble(dir.path(), frame(2) + 2, &[0x7f]);
    let err = open(dir.path(), Some(1)).err().unwrap().to_string();
    assert!(err.contains("record 2"), "{err}");
    // A snapshot up to 2 covers it: the log resumes at 3.
    let wal = open(dir.path(), Some(2)).unwrap();
    assert_eq!(all(&wal), vec![rec(3, b'c', 100)]);
    assert_eq!(wal.first_index(), Some(3));
    append(&wal, &[rec(4, b'd', 10)]);
    drop(wal);
    let wal = open(dir.path(), Some(2)).unwrap();
    assert_eq!(all(&wal), vec![rec(3, b'c', 100), rec(4, b'd', 10)]);
}

#[test]
fn every_flipped_bit_is_detected_or_harmless() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    let pristine = std::fs::read(segment::path(dir.path(), 1)).unwrap();
    let used = (frame(3) + segment::HEADER as u64 + 100) as usize;
    let expected = vec![rec(1, b'a', 100), rec(2, b'b', 100), rec(3, b'c', 100)];
    for bit in 0..(used + 64) * 8 {
        let mut bytes = pristine.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(segment::path(dir.path(), 1), &bytes).unwrap();
        // Either refused, or every acknowledged record is there, unchanged.
        if let Ok(wal) = open(dir.path(), None) {
            assert_eq!(all(&wal), expected, "bit {bit} flipped");
        }
    }
}

#[test]
fn a_failed_append_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), None).unwrap();
    append(&wal, &[rec(1, b'a', 10)]);
    // A segment that cannot be created: a directory holds its name.
    std::fs::create_dir(segment::path(dir.path(), 2)).unwrap();
    let wal2 = Wal::open_with(dir.path(), 40, None);
    assert!(wal2.is_err(), "a directory named like a segment is refused");
    std::fs::remove_dir(segment::path(dir.path(), 2)).unwrap();
    drop(wal);
    let wal = Wal::open_with(dir.path(), 40, None).unwrap();
    std::fs::create_dir(dir.path().join("00000000000000000002.wal.tmp")).unwrap();
    // Record 2 does not fit in segment 1 and segment 2 cannot be prepared.
    assert!(wal.append_then(&[rec(2, b'b', 30)], |_| {}).is_err());
    std::fs::remove_dir(dir.path().join("00000000000000000002.wal.tmp")).unwrap();
    append(&wal, &[rec(2, b'b', 30)]);
    drop(wal);
    let wal = Wal::open_with(dir.path(), 40, None).unwrap();
    assert_eq!(all(&wal), vec![rec(1, b'a', 10), rec(2, b'b', 30)]);
}

#[test]
fn an_interrupted_segment_preparation_is_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    let leftover = dir.path().join("00000000000000000002.wal.tmp");
    std::fs::write(&leftover, b"partial").unwrap();
    let wal = open(dir.path(), None).unwrap();
    assert!(!leftover.exists());
    assert_eq!(wal.last_index(), Some(3));
}

#[test]
fn truncated_records_never_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), None).unwrap();
    append(
        &wal,
        &[
            rec(1, b'a', 10),
            rec(2, b'b', 10),
            rec(3, b'c', 10),
            rec(4, b'd', 10),
        ],
    );
    wal.truncate_from(2).unwrap();
    assert_eq!(wal.last_index(), Some(1));
    // Same length as the old record 2: the old record 3 would follow it directly if it were
    // still on disk.
    append(&wal, &[rec(2, b'B', 10)]);
    drop(wal);
    let wal = Wal::open(dir.path(), None).unwrap();
    assert_eq!(all(&wal), vec![rec(1, b'a', 10), rec(2, b'B', 10)]);
}

#[test]
fn segments_roll_purge_and_truncate_across_files() {
    let dir = tempfile::tempdir().unwrap();
    // Four 100-byte records (116 bytes framed) fit in a 500-byte segment.
    let wal = Wal::open_with(dir.path(), 500, None).unwrap();
    for i in 1..=20 {
        append(&wal, &[rec(i, i as u8, 100)]);
    }
    let segments = || {
        let mut v: Vec<u64> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| segment::parse_name(&e.unwrap().file_name().to_string_lossy()))
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(segments(), vec![1, 2, 3, 4, 5]);
    wal.purge_upto(9).unwrap();
    // Segment 3 holds 9..=12: it stays.
    assert_eq!(segments(), vec![3, 4, 5]);
    assert_eq!(wal.first_index(), Some(10));
    wal.truncate_from(11).unwrap();
    assert_eq!(segments(), vec![3]);
    append(&wal, &[rec(11, b'n', 100), rec(12, b'o', 100)]);
    append(&wal, &[rec(13, b'p', 100)]);
    drop(wal);
    let wal = Wal::open_with(dir.path(), 500, None).unwrap();
    // Record 9 is still in segment 3 on disk: the owner of the log filters what it purged.
    let got: Vec<u64> = all(&wal).into_iter().map(|(i, _)| i).collect();
    assert_eq!(got, vec![9, 10, 11, 12, 13]);
    assert_eq!(wal.read(11, 12).unwrap(), vec![rec(11, b'n', 100)]);
}

#[test]
fn purging_everything_lets_the_log_restart_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open_with(dir.path(), 500, None).unwrap();
    for i in 1..=6 {
        append(&wal, &[rec(i, b'a', 100)]);
    }
    wal.purge_upto(100).unwrap();
    assert_eq!(wal.last_index(), None);
    append(&wal, &[rec(101, b'x', 10)]);
    assert_eq!(all(&wal), vec![rec(101, b'x', 10)]);
    drop(wal);
    // Segment 2 still holds 5 and 6; the gap before 101 is covered by the snapshot the purge
    // followed, and refused without one.
    assert!(Wal::open_with(dir.path(), 500, None).is_err());
    let wal = Wal::open_with(dir.path(), 500, Some(100)).unwrap();
    assert_eq!(all(&wal), vec![rec(101, b'x', 10)]);
    append(&wal, &[rec(102, b'y', 10)]);
    assert_eq!(wal.first_index(), Some(101));
    assert_eq!(wal.last_index(), Some(102));
}

#[test]
fn after_a_failed_fdatasync_nothing_is_acknowledged_and_recovery_cuts_the_unsynced() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path(), None).unwrap();
    append(&wal, &[rec(1, b'a', 10), rec(2, b'b', 10)]);
    wal.fail_syncs("Input/output error (os error 5)");
    let (tx, rx) = channel();
    wal.append_then(&[rec(3, b'c', 10)], move |r| {
        let _ = tx.send(r);
    })
    .unwrap();
    let err = rx.recv().unwrap().unwrap_err();
    assert!(err.contains("os error 5"), "{err}");
    assert!(wal.failure().is_some());
    // Record 3 reached the file but no fdatasync vouches for it: recovery cuts it.
    let wal = wal.recover(None).unwrap();
    assert_eq!(all(&wal), vec![rec(1, b'a', 10), rec(2, b'b', 10)]);
    assert!(wal.failure().is_none());
    append(&wal, &[rec(3, b'C', 5)]);
    drop(wal);
    let wal = open(dir.path(), None).unwrap();
    assert_eq!(
        all(&wal),
        vec![rec(1, b'a', 10), rec(2, b'b', 10), rec(3, b'C', 5)]
    );
}

#[test]
fn a_segment_cut_short_is_damage_even_at_a_frame_boundary() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    let path = segment::path(dir.path(), 1);
    let pristine = std::fs::read(&path).unwrap();
    // Cut exactly where record 3 begins: what is left scans cleanly.
    std::fs::write(&path, &pristine[..frame(3) as usize]).unwrap();
    let err = open(dir.path(), None).err().unwrap().to_string();
    assert!(err.contains("cut"), "{err}");
    // Cut inside record 3: not a torn write either.
    std::fs::write(&path, &pristine[..frame(3) as usize + 40]).unwrap();
    assert!(open(dir.path(), None).is_err());
    // Cut in the zeros after the last record: nothing was lost.
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    let path = segment::path(dir.path(), 1);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(frame(4) + 100)
        .unwrap();
    let wal = open(dir.path(), None).unwrap();
    assert_eq!(wal.last_index(), Some(3));
}
