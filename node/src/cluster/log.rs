//! The Raft log and vote in redb (`raft.redb` in the data directory, beside `chain.redb`).
//!
//! Entries are stored by index as JSON (`openraft::Entry` with our [`Batch`](super::Batch)),
//! each append in one durable transaction, so an entry the leader counts as replicated here is
//! on disk. The vote, the committed log id and the last purged log id live in a small meta
//! table. Purging the log forgets entries only: their blocks are in the chain, which is the
//! history (docs/cluster.md).

// openraft's storage traits fix the error type (`StorageError`, large by design), and every
// helper here returns it; boxing it at each call would only move the cost.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogId, LogState, OptionalSend, RaftLogReader, StorageError, Vote};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{NodeId, TypeConfig};

type Entry = openraft::Entry<TypeConfig>;

/// Entries by index (JSON).
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// `vote`, `committed`, `purged` (JSON).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The log store. Cheap to clone (one shared database).
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

fn read_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageError::from_io_error(
        openraft::ErrorSubject::Logs,
        openraft::ErrorVerb::Read,
        std::io::Error::other(e.to_string()),
    )
}

fn write_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageError::from_io_error(
        openraft::ErrorSubject::Logs,
        openraft::ErrorVerb::Write,
        std::io::Error::other(e.to_string()),
    )
}

impl LogStore {
    /// Opens (or creates) the log at `path`.
    pub fn open(path: &Path) -> Result<Self, redb::Error> {
        let db = Database::builder().create(path)?;
        let txn = db.begin_write()?;
        {
            txn.open_table(LOG)?;
            txn.open_table(META)?;
        }
        txn.commit()?;
        Ok(Self { db: Arc::new(db) })
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StorageError<NodeId>> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let table = txn.open_table(META).map_err(read_err)?;
        match table.get(key).map_err(read_err)? {
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(read_err),
            None => Ok(None),
        }
    }

    fn put_meta<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = serde_json::to_vec(value).map_err(write_err)?;
        let mut txn = self.db.begin_write().map_err(write_err)?;
        txn.set_durability(Durability::Immediate)
            .map_err(write_err)?;
        txn.open_table(META)
            .map_err(write_err)?
            .insert(key, bytes.as_slice())
            .map_err(write_err)?;
        txn.commit().map_err(write_err)
    }

    /// Runs a blocking redb operation off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(LogStore) -> Result<T, StorageError<NodeId>> + Send + 'static,
    ) -> Result<T, StorageError<NodeId>> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || work(me))
            .await
            .map_err(write_err)?
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        let start = range.start_bound().cloned();
        let end = range.end_bound().cloned();
        self.blocking(move |me| {
            let txn = me.db.begin_read().map_err(read_err)?;
            let table = txn.open_table(LOG).map_err(read_err)?;
            let mut out = Vec::new();
            for e in table.range::<u64>((start, end)).map_err(read_err)? {
                let (_, v) = e.map_err(read_err)?;
                out.push(serde_json::from_slice(v.value()).map_err(read_err)?);
            }
            Ok(out)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        self.blocking(|me| {
            let purged: Option<LogId<NodeId>> = me.get_meta("purged")?;
            let txn = me.db.begin_read().map_err(read_err)?;
            let table = txn.open_table(LOG).map_err(read_err)?;
            let last = match table.last().map_err(read_err)? {
                Some((_, v)) => {
                    let e: Entry = serde_json::from_slice(v.value()).map_err(read_err)?;
                    Some(e.log_id)
                }
                None => purged,
            };
            Ok(LogState {
                last_purged_log_id: purged,
                last_log_id: last,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let vote = *vote;
        self.blocking(move |me| me.put_meta("vote", &vote)).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.blocking(|me| me.get_meta("vote")).await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.blocking(move |me| me.put_meta("committed", &committed))
            .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self
            .blocking(|me| me.get_meta::<Option<LogId<NodeId>>>("committed"))
            .await?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut encoded = Vec::new();
        for e in entries {
            encoded.push((e.log_id.index, serde_json::to_vec(&e).map_err(write_err)?));
        }
        let result = self
            .blocking(move |me| {
                let mut txn = me.db.begin_write().map_err(write_err)?;
                txn.set_durability(Durability::Immediate)
                    .map_err(write_err)?;
                {
                    let mut table = txn.open_table(LOG).map_err(write_err)?;
                    for (i, bytes) in &encoded {
                        table.insert(*i, bytes.as_slice()).map_err(write_err)?;
                    }
                }
                txn.commit().map_err(write_err)
            })
            .await;
        match &result {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        result
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.blocking(move |me| {
            let mut txn = me.db.begin_write().map_err(write_err)?;
            txn.set_durability(Durability::Immediate)
                .map_err(write_err)?;
            {
                let mut table = txn.open_table(LOG).map_err(write_err)?;
                table
                    .retain_in((Bound::Included(log_id.index), Bound::Unbounded), |_, _| {
                        false
                    })
                    .map_err(write_err)?;
            }
            txn.commit().map_err(write_err)
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.blocking(move |me| {
            let bytes = serde_json::to_vec(&Some(log_id)).map_err(write_err)?;
            let mut txn = me.db.begin_write().map_err(write_err)?;
            txn.set_durability(Durability::Immediate)
                .map_err(write_err)?;
            {
                txn.open_table(META)
                    .map_err(write_err)?
                    .insert("purged", bytes.as_slice())
                    .map_err(write_err)?;
                let mut table = txn.open_table(LOG).map_err(write_err)?;
                table
                    .retain_in(..=log_id.index, |_, _| false)
                    .map_err(write_err)?;
            }
            txn.commit().map_err(write_err)
        })
        .await
    }
}
