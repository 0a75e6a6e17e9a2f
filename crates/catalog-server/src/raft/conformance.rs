//! openraft's storage conformance suite (`openraft::testing::Suite`) against the real log store
//! (WAL segments plus the store's meta tree) and state machine, each test on a fresh data dir
//! opened as [`super::core::Core::start`] opens it.
//!
//! The suite runs twice: on the store as a server runs it (`production`), and with no entries
//! kept in memory and 512-byte WAL segments (`wal_only`), so that every read decodes records
//! from the segment files and appends, purges and truncations cross segments.
//!
//! One `#[test]` per suite test, so that each failure is reported by name and the suite's
//! one-second waits after `purge` run side by side. The list is `Suite::test_store` of openraft
//! 0.9.25, in its order; nothing is left out.

// openraft's traits return its (large) StorageError.
#![allow(clippy::result_large_err)]

use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::TypeConfig;
use crate::store::Store;
use crate::wal::Wal;
use openraft::testing::{StoreBuilder, Suite};
use openraft::{StorageError, StorageIOError};
use std::future::Future;
use tempfile::TempDir;

/// A fresh data dir per build; the [`TempDir`] guard removes it once the test is done.
#[derive(Clone, Copy)]
struct Builder {
    /// Bytes per WAL segment.
    segment_size: u64,
    /// Whether the log store keeps recent entries in memory, as in production.
    tail: bool,
}

/// The store as a server runs it.
const PRODUCTION: Builder = Builder {
    segment_size: crate::wal::SEGMENT_SIZE,
    tail: true,
};

/// Every read decodes records from the WAL, and a few records fill a segment: appends roll
/// segments, purges delete them, truncations cut across them.
const WAL_ONLY: Builder = Builder {
    segment_size: 512,
    tail: false,
};

fn open_err(e: impl std::fmt::Display) -> StorageError<u64> {
    StorageIOError::read(&std::io::Error::other(e.to_string())).into()
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<u64>> {
        // Opened as `RaftNode::start` and `Core::start` open it.
        let dir = tempfile::tempdir().map_err(open_err)?;
        let raft_dir = dir.path().join("raft");
        let store = Store::open(&raft_dir).map_err(open_err)?;
        let sm = StateMachine::load(store.clone()).map_err(open_err)?;
        let snapshot = sm.snapshot_log_id().await;
        let covered = LogStore::covered(&store, snapshot).map_err(open_err)?;
        let wal =
            Wal::open_with(&raft_dir.join("wal"), self.segment_size, covered).map_err(open_err)?;
        let mut log = LogStore::open(store, wal, snapshot).map_err(open_err)?;
        if !self.tail {
            log = log.without_tail();
        }
        Ok((dir, log, sm))
    }
}

type S = Suite<TypeConfig, LogStore, StateMachine, Builder, TempDir>;

/// Runs one suite test on a fresh store, in a runtime of its own (as the suite's `run_fut`).
fn run<F, Fut>(builder: Builder, test: F)
where
    F: FnOnce(LogStore, StateMachine) -> Fut,
    Fut: Future<Output = Result<(), StorageError<u64>>>,
{
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (_dir, log, sm) = builder.build().await.unwrap();
        test(log, sm).await.unwrap();
    });
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        suite!(@mod production, PRODUCTION, $($name),*);
        suite!(@mod wal_only, WAL_ONLY, $($name),*);
    };
    (@mod $module:ident, $builder:ident, $($name:ident),*) => {
        mod $module {
            use super::*;

            $(
                #[test]
                fn $name() {
                    run($builder, S::$name);
                }
            )*

            /// Builds two stores itself: a snapshot built on one is installed on the other.
            #[test]
            fn transfer_snapshot() {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(S::transfer_snapshot(&$builder)).unwrap();
            }

        }
    };
}

/// The suite as openraft runs it, one test after the other: catches a test that a later
/// openraft 0.9 adds to `Suite::test_store` and the list below lacks (then add it there).
/// Once, on the production store: the suite's waits after `purge` make it ~10 s.
#[test]
fn test_all() {
    S::test_all(PRODUCTION).unwrap();
}

suite!(
    last_membership_in_log_initial,
    last_membership_in_log,
    last_membership_in_log_multi_step,
    get_membership_initial,
    get_membership_from_log_and_empty_sm,
    get_membership_from_empty_log_and_sm,
    get_membership_from_log_le_sm_last_applied,
    get_membership_from_log_gt_sm_last_applied_1,
    get_membership_from_log_gt_sm_last_applied_2,
    get_initial_state_without_init,
    get_initial_state_membership_from_log_and_sm,
    get_initial_state_with_state,
    get_initial_state_last_log_gt_sm,
    get_initial_state_last_log_lt_sm,
    get_initial_state_log_ids,
    get_initial_state_re_apply_committed,
    save_vote,
    get_log_entries,
    limited_get_log_entries,
    try_get_log_entry,
    initial_logs,
    get_log_state,
    get_log_id,
    last_id_in_log,
    last_applied_state,
    purge_logs_upto_0,
    purge_logs_upto_5,
    purge_logs_upto_20,
    delete_logs_since_11,
    delete_logs_since_0,
    append_to_log,
    snapshot_meta,
    apply_single,
    apply_multiple,
);
