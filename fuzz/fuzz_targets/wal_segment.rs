//! The WAL segment scanner over arbitrary bytes (bit 0 of the first byte: the newest segment,
//! where a torn write may end), checking its invariants, then each record's payload decoded as
//! the log store does (a JSON openraft entry).
#![no_main]

use catalog_server::raft::TypeConfig;
use catalog_server::wal::scan_segment_bytes;
use libfuzzer_sys::fuzz_target;

/// The frame header's size (`wal/segment.rs`).
const HEADER: u64 = 16;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let last = flags & 1 != 0;
    let len = bytes.len() as u64;
    let s = scan_segment_bytes(bytes, 7, last);
    assert!(s.end <= len, "end {} past {len}", s.end);
    let mut prev: Option<(u64, u64)> = None;
    for (index, loc) in &s.records {
        assert_eq!(loc.seq, 7);
        assert!(loc.len > 0);
        let frame_end = loc.offset + HEADER + u64::from(loc.len);
        assert!(
            frame_end <= len,
            "record {index} ends at {frame_end}, past {len}"
        );
        assert!(
            frame_end <= s.end,
            "record {index} past the scan's end {}",
            s.end
        );
        if let Some((pi, pend)) = prev {
            assert!(
                loc.offset >= pend,
                "record {index} overlaps the previous one"
            );
            assert!(*index > pi, "record {index} after {pi}");
        }
        prev = Some((*index, frame_end));
        let at = usize::try_from(loc.offset + HEADER).expect("fits");
        let payload = &bytes[at..at + loc.len as usize];
        let _ = serde_json::from_slice::<openraft::Entry<TypeConfig>>(payload);
    }
    for d in &s.damage {
        assert!(d.offset <= len, "damage at {} past {len}", d.offset);
    }
    if s.damage.is_empty() && !s.dirty_tail && !last {
        // A clean segment: everything after the last record is zeros.
        assert!(bytes[s.end as usize..].iter().all(|b| *b == 0));
    }
});
