//! The snapshot file's reader (`store/snapshot_file.rs` `decode`): an accepted file re-encodes
//! to the same bytes (legacy files: their three parts account for every byte); then the data
//! is decoded as the state machine does (JSON, its `state` restored and reindexed).
#![no_main]

use catalog_server::catalog::State;
use catalog_server::store::snapshot_file::{decode, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(d) = decode(data.to_vec()) else {
        return;
    };
    if d.legacy {
        assert_eq!(8 + d.meta.len() + d.data.len(), data.len());
        assert_eq!(&data[8..8 + d.meta.len()], &d.meta[..]);
    } else {
        let mut again = header(&d.meta, &d.data).to_vec();
        again.extend_from_slice(&d.meta);
        again.extend_from_slice(&d.data);
        assert_eq!(again, data, "re-encoding differs");
    }
    assert!(data.ends_with(&d.data));
    let _ = serde_json::from_slice::<serde_json::Value>(&d.meta);
    if let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&d.data) {
        if let Some(state) = body.get_mut("state").map(serde_json::Value::take) {
            if let Ok(mut state) = serde_json::from_value::<State>(state) {
                state.reindex();
            }
        }
    }
});
