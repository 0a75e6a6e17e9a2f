use super::*;
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
    let wal = Wal::open(dir.path()).unwrap();
    append(&wal, &[rec(1, b'a', 10), rec(2, b'b', 20)]);
    append(&wal, &[rec(3, b'c', 5)]);
    assert_eq!(wal.sync_stats().1, 2);
    drop(wal);
    let wal = Wal::open(dir.path()).unwrap();
    assert_eq!(
        all(&wal),
        vec![rec(1, b'a', 10), rec(2, b'b', 20), rec(3, b'c', 5)]
    );
    assert_eq!(wal.read(2, 3).unwrap(), vec![rec(2, b'b', 20)]);
}

#[test]
fn appends_must_follow_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path()).unwrap();
    append(&wal, &[rec(5, b'a', 3)]);
    assert!(wal.append_then(&[rec(7, b'x', 3)], |_| {}).is_err());
    assert!(wal
        .append_then(&[rec(6, b'x', 3), rec(8, b'x', 3)], |_| {})
        .is_err());
    assert_eq!(all(&wal), vec![rec(5, b'a', 3)]);
}

#[test]
fn a_torn_or_corrupt_tail_ends_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path()).unwrap();
    append(
        &wal,
        &[rec(1, b'a', 100), rec(2, b'b', 100), rec(3, b'c', 100)],
    );
    drop(wal);
    // Flip a byte in record 3's payload: 1 and 2 stay, 3 is gone.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(segment::path(dir.path(), 1))
        .unwrap();
    let rec3 = 2 * (segment::HEADER as u64 + 100);
    file.write_all_at(b"X", rec3 + segment::HEADER as u64 + 50)
        .unwrap();
    drop(file);
    let wal = Wal::open(dir.path()).unwrap();
    assert_eq!(all(&wal), vec![rec(1, b'a', 100), rec(2, b'b', 100)]);
    // Appending continues after the last good record, over the bad one.
    append(&wal, &[rec(3, b'z', 7)]);
    drop(wal);
    let wal = Wal::open(dir.path()).unwrap();
    assert_eq!(
        all(&wal),
        vec![rec(1, b'a', 100), rec(2, b'b', 100), rec(3, b'z', 7)]
    );
}

#[test]
fn truncated_records_never_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path()).unwrap();
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
    let wal = Wal::open(dir.path()).unwrap();
    assert_eq!(all(&wal), vec![rec(1, b'a', 10), rec(2, b'B', 10)]);
}

#[test]
fn segments_roll_purge_and_truncate_across_files() {
    let dir = tempfile::tempdir().unwrap();
    // Four 100-byte records (116 bytes framed) fit in a 500-byte segment.
    let wal = Wal::open_with(dir.path(), 500).unwrap();
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
    let wal = Wal::open_with(dir.path(), 500).unwrap();
    // Record 9 is still in segment 3 on disk: the owner of the log filters what it purged.
    let got: Vec<u64> = all(&wal).into_iter().map(|(i, _)| i).collect();
    assert_eq!(got, vec![9, 10, 11, 12, 13]);
    assert_eq!(wal.read(11, 12).unwrap(), vec![rec(11, b'n', 100)]);
}

#[test]
fn purging_everything_lets_the_log_restart_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open_with(dir.path(), 500).unwrap();
    for i in 1..=6 {
        append(&wal, &[rec(i, b'a', 100)]);
    }
    wal.purge_upto(100).unwrap();
    assert_eq!(wal.last_index(), None);
    append(&wal, &[rec(101, b'x', 10)]);
    assert_eq!(all(&wal), vec![rec(101, b'x', 10)]);
    drop(wal);
    // Segment 2 still holds 5 and 6; the gap before 101 shows they were purged.
    let wal = Wal::open_with(dir.path(), 500).unwrap();
    assert_eq!(all(&wal), vec![rec(101, b'x', 10)]);
    append(&wal, &[rec(102, b'y', 10)]);
    assert_eq!(wal.first_index(), Some(101));
    assert_eq!(wal.last_index(), Some(102));
}
