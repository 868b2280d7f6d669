//! Not API, for the benches only (`faust-rs-runtime/benches/hot.rs`).
//!
//! Thin public handles on crate-private hot pieces — the commit
//! watermark, the table partition stores, window assignment — so criterion
//! can time them from outside the crate. Each method is one call into the
//! real item; nothing here has logic of its own. Hidden, unstable, and may
//! change or vanish with any release.

use std::collections::HashMap;
#[cfg(feature = "rocksdb")]
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::agent::ack::{OffsetTracker, PartitionAcks};
#[cfg(feature = "rocksdb")]
use crate::app::config::RocksDbSettings;
use crate::error::Result;
use crate::table::store::PartitionStore;
#[cfg(feature = "rocksdb")]
use crate::table::store::RocksEnv;
use crate::window::{Window, WindowDef};

/// `OffsetTracker`: the acks of every partition a worker reads.
#[derive(Debug, Default)]
pub struct Tracker(OffsetTracker);

impl Tracker {
    /// The ack state of `topic`/`partition`, created on first use.
    pub fn partition(&self, topic: &Arc<str>, partition: i32) -> Acks {
        Acks(self.0.partition(topic, partition))
    }

    /// Every partition whose committable offset moved since the last call.
    pub fn take_committable(&self) -> Vec<(Arc<str>, i32, i64)> {
        self.0.take_committable()
    }
}

/// `PartitionAcks`: the acks of one topic partition.
#[derive(Debug, Clone)]
pub struct Acks(Arc<PartitionAcks>);

impl Acks {
    /// Tracks `offsets` (increasing) for `consumers` agents, under one lock.
    pub fn track_all(&self, offsets: impl IntoIterator<Item = i64>, consumers: u32) {
        self.0.track_all(offsets, consumers);
    }

    /// One consumer is done with `offset`.
    pub fn ack(&self, offset: i64) {
        self.0.ack(offset);
    }
}

/// `PartitionStore`: one table partition's data.
#[derive(Debug)]
pub struct Store(PartitionStore);

impl Store {
    /// An empty store in memory.
    pub fn memory(label: &str) -> Store {
        Store(PartitionStore::memory(label.to_owned()))
    }

    /// A RocksDB store at `path`, with the default RocksDB settings.
    ///
    /// # Errors
    ///
    /// When the options are invalid or the database cannot be opened.
    #[cfg(feature = "rocksdb")]
    pub fn rocksdb(label: &str, path: &Path) -> Result<Store> {
        let env = RocksEnv::new(&RocksDbSettings::default())?;
        PartitionStore::rocksdb(label.to_owned(), &env, path).map(Store)
    }

    /// Buffered writes go to disk only as commits cover them.
    pub fn set_exact(&self, exact: bool) {
        self.0.set_exact(exact);
    }

    /// Sets or deletes `key` for the event at `origin`; the write's number.
    ///
    /// # Errors
    ///
    /// When RocksDB fails to write a full buffer out.
    pub fn write(
        &self,
        key: Bytes,
        value: Option<Bytes>,
        origin: Option<((Arc<str>, i32), i64)>,
    ) -> Result<u64> {
        self.0.write(key, value, origin)
    }

    /// The broker holds write `seq`'s changelog record at `offset`.
    pub fn delivered(&self, seq: u64, offset: i64) {
        self.0.delivered(seq, offset);
    }

    /// Writes the buffered entries `committed` covers in one batch.
    ///
    /// # Errors
    ///
    /// When RocksDB fails to write the batch.
    pub fn flush(&self, committed: &HashMap<(Arc<str>, i32), i64>) -> Result<()> {
        self.0.flush(committed)
    }
}

/// `WindowDef::ranges`: every window `timestamp` falls in.
pub fn windows_for(def: &WindowDef, timestamp: i64) -> Vec<Window> {
    def.ranges(timestamp)
}

/// `window::store_key`: a window's store key.
pub fn window_store_key(start: i64, key: &[u8]) -> Bytes {
    crate::window::store_key(start, key)
}
