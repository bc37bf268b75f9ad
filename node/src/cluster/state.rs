//! The Raft state machine: the chain itself.
//!
//! Applying a log entry is the pipeline's execution and commit stages: [`Ledger::apply`] runs
//! `execute_block` on the committed state and `Store::commit` writes the block together with
//! the log id it came from (`raft_applied` in the chain's `meta` table), so after a crash the
//! node knows exactly which entries its chain already holds. A snapshot is the whole chain at
//! its tip ([`Store::export`]); one received from the leader is imported into a scratch store,
//! verified from genesis (hash chain, transaction and receipt roots, re-execution to the same
//! state roots and state) and checked against this node's own chain before it replaces it.

// openraft's storage traits fix the error type (`StorageError`, large by design), and every
// helper here returns it; boxing it at each call would only move the cost.
#![allow(clippy::result_large_err)]
#![allow(clippy::type_complexity)] // openraft's generic signatures, spelled out once.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use openraft::storage::RaftStateMachine;
use openraft::{
    EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError,
    StoredMembership,
};

use super::{Applied, Batch, NodeId, TypeConfig};
use crate::chain::tx::decode_verified;
use crate::execute::BlockContext;
use crate::ledger::{Ledger, Proposal};
use crate::store::Store;

type Entry = openraft::Entry<TypeConfig>;
type Membership = StoredMembership<NodeId, openraft::BasicNode>;
/// A snapshot this node holds to send: its metadata and image.
type Held = (SnapshotMeta<NodeId, openraft::BasicNode>, Arc<Vec<u8>>);

/// Keeps the newer of the held snapshot and `offered`, by the last log entry each covers. A
/// build that began before an install finished must not replace the installed, newer image:
/// the node would then send, as leader, a snapshot older than its purged log, and a follower
/// that needs it would never catch up.
fn keep_newer(held: &mut Option<Held>, offered: Held) {
    if held
        .as_ref()
        .is_none_or(|(meta, _)| meta.last_log_id <= offered.0.last_log_id)
    {
        *held = Some(offered);
    }
}

/// Key of the last applied log id in the chain's `meta` table.
const APPLIED: &str = "raft_applied";
/// Key of the last applied membership in the chain's `meta` table.
const MEMBERSHIP: &str = "raft_membership";

fn sm_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageError::from_io_error(
        openraft::ErrorSubject::StateMachine,
        openraft::ErrorVerb::Write,
        std::io::Error::other(e.to_string()),
    )
}

/// The state machine over a replicated [`Ledger`].
#[derive(Debug, Clone)]
pub struct StateMachine {
    ledger: Arc<Ledger>,
    data_dir: PathBuf,
    current: Arc<Mutex<Option<Held>>>,
}

impl StateMachine {
    /// The state machine of `ledger`, whose data directory is `data_dir`.
    pub fn new(ledger: Arc<Ledger>, data_dir: PathBuf) -> Self {
        Self {
            ledger,
            data_dir,
            current: Arc::default(),
        }
    }

    fn lock_current(&self) -> std::sync::MutexGuard<'_, Option<Held>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Builds a snapshot of the chain as committed now.
    fn build(&self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let (image, meta) = self.ledger.store().export().map_err(sm_err)?;
        let last_log_id: Option<LogId<NodeId>> = match meta.get(APPLIED) {
            Some(b) => serde_json::from_slice(b).map_err(sm_err)?,
            None => None,
        };
        let last_membership: Membership = match meta.get(MEMBERSHIP) {
            Some(b) => serde_json::from_slice(b).map_err(sm_err)?,
            None => Membership::default(),
        };
        let height = match meta.get("tip") {
            Some(b) => <[u8; 8]>::try_from(b.as_slice())
                .map(u64::from_be_bytes)
                .map_err(sm_err)?,
            None => 0,
        };
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
            snapshot_id: format!("{}-{height}", last_log_id.map_or(0, |l| l.index)),
        };
        let image = Arc::new(image);
        keep_newer(&mut self.lock_current(), (meta.clone(), image.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(image.to_vec())),
        })
    }

    /// Applies one entry; blocking (executes and commits a block).
    fn apply_one(&self, entry: Entry) -> Result<Applied, StorageError<NodeId>> {
        let store = self.ledger.store();
        let applied = serde_json::to_vec(&Some(entry.log_id)).map_err(sm_err)?;
        match entry.payload {
            EntryPayload::Blank => {
                store.put_meta(&[(APPLIED, &applied)]).map_err(sm_err)?;
                Ok(Applied::Nothing)
            }
            EntryPayload::Membership(m) => {
                let m =
                    serde_json::to_vec(&Membership::new(Some(entry.log_id), m)).map_err(sm_err)?;
                store
                    .put_meta(&[(APPLIED, &applied), (MEMBERSHIP, &m)])
                    .map_err(sm_err)?;
                Ok(Applied::Nothing)
            }
            EntryPayload::Normal(batch) => self.apply_batch(batch, applied),
        }
    }

    fn apply_batch(&self, batch: Batch, applied: Vec<u8>) -> Result<Applied, StorageError<NodeId>> {
        if let Some(why) = self.ledger.halted() {
            return Err(sm_err(format!("the ledger has halted: {why}")));
        }
        let (tip, tip_hash) = self.ledger.tip();
        if batch.height <= tip.height {
            // Proposed on a tip that another block has since extended (around a change of
            // leader), or already in the chain (replayed after a restart): every node sees the
            // same and skips it, and the proposer gives its transactions back.
            self.ledger
                .store()
                .put_meta(&[(APPLIED, &applied)])
                .map_err(sm_err)?;
            return Ok(Applied::Stale);
        }
        if batch.height != tip.height + 1
            || batch.prev_hash != tip_hash
            || batch.prev_state_root != tip.state_root
        {
            let why = format!(
                "diverged from the cluster: entry for block {} on parent {} (state root {}), \
                 but this node's tip is block {} {} (state root {})",
                batch.height,
                hex::encode(batch.prev_hash),
                hex::encode(batch.prev_state_root),
                tip.height,
                hex::encode(tip_hash),
                hex::encode(tip.state_root),
            );
            self.ledger.halt_diverged(why.clone());
            return Err(sm_err(why));
        }
        let chain_id = self.ledger.chain_id().to_string();
        let mut txs = Vec::with_capacity(batch.txs.len());
        for envelope in batch.txs {
            match decode_verified(envelope, &chain_id) {
                Ok(tx) => txs.push(tx),
                Err(e) => {
                    let why = format!(
                        "the leader's block {} holds a transaction this node cannot decode: {e}",
                        batch.height
                    );
                    self.ledger.halt(why.clone());
                    return Err(sm_err(why));
                }
            }
        }
        let proposal = Proposal {
            context: BlockContext {
                height: batch.height,
                timestamp_ms: batch.timestamp_ms.max(tip.timestamp_ms),
                prev_hash: tip_hash,
                prev_state_root: tip.state_root,
            },
            txs,
        };
        let (header, hash) = self
            .ledger
            .apply(proposal, vec![(APPLIED, applied)])
            .map_err(sm_err)?;
        Ok(Applied::Block {
            height: header.height,
            hash,
        })
    }

    /// Verifies a received chain image and, if it extends this node's chain, makes it the
    /// node's chain. Blocking.
    fn install(
        &self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        image: Vec<u8>,
    ) -> Result<(), StorageError<NodeId>> {
        let scratch_path = self.data_dir.join("snapshot-incoming.redb");
        let _ = std::fs::remove_file(&scratch_path);
        let verified = (|| -> Result<(), String> {
            let scratch = Store::open(&scratch_path).map_err(|e| e.to_string())?;
            scratch.import(&image).map_err(|e| e.to_string())?;
            scratch
                .check_chain_id(self.ledger.chain_id())
                .map_err(|e| e.to_string())?;
            let report = crate::verify::verify_chain(
                &scratch,
                self.ledger.chain_id(),
                self.ledger.runtime(),
                &mut |_, _| {},
            )
            .map_err(|e| format!("the snapshot fails verification: {e}"))?;
            let snap = scratch.snapshot().map_err(|e| e.to_string())?;
            let (tip, tip_hash) = self.ledger.tip();
            if tip.height > report.blocks {
                return Err(format!(
                    "the snapshot ends at block {} but this node's chain is at {}",
                    report.blocks, tip.height
                ));
            }
            let theirs = snap
                .header(tip.height)
                .map_err(|e| e.to_string())?
                .map(|h| h.hash());
            if theirs != Some(tip_hash) {
                return Err(format!(
                    "the snapshot's block {} is not this node's ({}): the chains diverged",
                    tip.height,
                    hex::encode(tip_hash)
                ));
            }
            Ok(())
        })();
        let _ = std::fs::remove_file(&scratch_path);
        if let Err(why) = verified {
            let why = format!("refusing snapshot {}: {why}", meta.snapshot_id);
            self.ledger.halt_diverged(why.clone());
            return Err(sm_err(why));
        }
        let store = self.ledger.store();
        store.import(&image).map_err(sm_err)?;
        let applied = serde_json::to_vec(&meta.last_log_id).map_err(sm_err)?;
        let membership = serde_json::to_vec(&meta.last_membership).map_err(sm_err)?;
        store
            .put_meta(&[(APPLIED, &applied), (MEMBERSHIP, &membership)])
            .map_err(sm_err)?;
        self.ledger.reload_tip().map_err(sm_err)?;
        keep_newer(&mut self.lock_current(), (meta.clone(), Arc::new(image)));
        tracing::info!(snapshot = %meta.snapshot_id, height = self.ledger.tip().0.height,
            "installed a verified snapshot");
        Ok(())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(StateMachine) -> Result<T, StorageError<NodeId>> + Send + 'static,
    ) -> Result<T, StorageError<NodeId>> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || work(me))
            .await
            .map_err(sm_err)?
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        self.blocking(|me| me.build()).await
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, Membership), StorageError<NodeId>> {
        let snap = self.ledger.store().snapshot().map_err(sm_err)?;
        let applied = match snap.meta(APPLIED).map_err(sm_err)? {
            Some(b) => serde_json::from_slice(&b).map_err(sm_err)?,
            None => None,
        };
        let membership = match snap.meta(MEMBERSHIP).map_err(sm_err)? {
            Some(b) => serde_json::from_slice(&b).map_err(sm_err)?,
            None => Membership::default(),
        };
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        self.blocking(move |me| {
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                out.push(me.apply_one(e)?);
            }
            Ok(out)
        })
        .await
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let meta = meta.clone();
        let image = snapshot.into_inner();
        self.blocking(move |me| me.install(&meta, image)).await
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let current = self.lock_current().clone();
        match current {
            Some((meta, image)) => Ok(Some(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(image.to_vec())),
            })),
            // After a restart nothing is cached: the chain is always there to snapshot.
            None => self.blocking(|me| me.build()).await.map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, LogId};

    fn held(index: Option<u64>) -> Held {
        let last_log_id = index.map(|i| LogId::new(CommittedLeaderId::new(2, 1), i));
        let meta = SnapshotMeta {
            last_log_id,
            last_membership: Membership::default(),
            snapshot_id: format!("{index:?}"),
        };
        (meta, Arc::new(vec![index.map_or(0, |i| i as u8)]))
    }

    #[test]
    fn an_older_snapshot_never_replaces_a_newer_one() {
        let mut current = None;
        keep_newer(&mut current, held(Some(30)));
        keep_newer(&mut current, held(Some(90)));
        // A build that began before the install of 90 finished.
        keep_newer(&mut current, held(Some(60)));
        keep_newer(&mut current, held(None));
        let (meta, image) = current.unwrap();
        assert_eq!(meta.last_log_id.map(|l| l.index), Some(90));
        assert_eq!(*image, vec![90]);
    }
}
