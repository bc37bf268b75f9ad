//! Replication: a cluster of nodes ordering blocks through openraft (docs/cluster.md).
//!
//! openraft is the ordering stage of the pipeline. The leader's proposer takes the next
//! [`Proposal`] from its mempool ([`Ledger::order_next`]) and appends it to the Raft log as a
//! [`Batch`]: the ordered, already signature-checked envelopes, the leader-stamped block time
//! and the parent the leader built on. Once a majority holds the entry, every node's state
//! machine ([`state::StateMachine`]) executes and commits it with the same `execute_block` and
//! `Store::commit` as a single node. A node whose tip is not the batch's parent halts rather
//! than fork.
//!
//! - [`log`]: the Raft log and vote in redb (`raft.redb`).
//! - [`state`]: the state machine (the chain) and its snapshots (the chain at a height).
//! - [`network`]: the HTTP client between members; [`http`]: the routes it calls, the
//!   forwarding of transactions to the leader, and the cluster's administration.

pub mod http;
pub mod log;
pub mod network;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::{BasicNode, ChangeMembers, Raft, ServerState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::chain::Hash;
use crate::chain::tx::Envelope;
use crate::ledger::{Ledger, Proposal};

/// A member's id.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// The Raft types of a Vellum cluster.
    pub TypeConfig:
        D = Batch,
        R = Applied,
        NodeId = NodeId,
        Node = BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// One Raft log entry's application data: a block as the leader ordered it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Batch {
    /// The block's height.
    pub height: u64,
    /// The leader's block time, in ms (raised to the parent's if earlier).
    pub timestamp_ms: u64,
    /// The hash of the parent the leader built on.
    #[serde(with = "hex_hash")]
    pub prev_hash: Hash,
    /// The state root after the parent.
    #[serde(with = "hex_hash")]
    pub prev_state_root: Hash,
    /// The transactions in order, as received (signature-checked by the leader).
    pub txs: Vec<Envelope>,
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        crate::chain::parse_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex"))
    }
}

/// What applying an entry did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Applied {
    /// A blank or membership entry: no block.
    Nothing,
    /// The batch became this block.
    Block {
        /// Its height.
        height: u64,
        /// Its hash.
        #[serde(with = "hex_hash")]
        hash: Hash,
    },
    /// The batch was built on a parent the chain had already extended: skipped on every node.
    Stale,
}

/// How a node takes part in a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node's id (unique in the cluster, never reused for another machine).
    pub node_id: NodeId,
    /// The secret every member sends in [`http::SECRET_HEADER`].
    pub secret: String,
    /// The data directory (`raft.redb` goes there).
    pub data_dir: PathBuf,
    /// Build a snapshot (and purge the log before it) every this many log entries.
    pub snapshot_logs: u64,
    /// Leader heartbeat, ms.
    pub heartbeat_ms: u64,
    /// Election timeout range, ms.
    pub election_ms: (u64, u64),
    /// The local address requests to other members leave from (default: the system's
    /// choice).
    pub local_ip: Option<std::net::IpAddr>,
}

impl ClusterConfig {
    /// Defaults for a node id, a secret and a data directory.
    pub fn new(node_id: NodeId, secret: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            node_id,
            secret: secret.into(),
            data_dir: data_dir.into(),
            snapshot_logs: 5_000,
            heartbeat_ms: 150,
            election_ms: (750, 1_500),
            local_ip: None,
        }
    }
}

/// Why the cluster layer could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Opening the Raft log failed.
    #[error("raft log: {0}")]
    Log(#[from] redb::Error),
    /// openraft refused to start.
    #[error("raft: {0}")]
    Raft(String),
}

/// A member as `/v1/status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MemberView {
    /// Its id.
    pub id: NodeId,
    /// The base URL members and clients reach it at.
    pub addr: String,
}

/// The `cluster` field of `/v1/status` on a replicated node.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterStatus {
    /// This node's id.
    pub node_id: NodeId,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: String,
    /// The leader's id, if known.
    pub leader: Option<NodeId>,
    /// The leader's base URL, if known.
    pub leader_addr: Option<String>,
    /// The current Raft term.
    pub term: u64,
    /// Voting members.
    pub voters: Vec<MemberView>,
    /// Non-voting members (catching up).
    pub learners: Vec<MemberView>,
    /// Index of the last Raft log entry this node holds.
    pub last_log_index: Option<u64>,
    /// Index of the last entry applied to the chain.
    pub last_applied_index: Option<u64>,
    /// Why this node stopped, if it did (a diverging chain, a refused snapshot, a fault).
    pub halted: Option<String>,
}

/// A running cluster member: the Raft node over a replicated ledger.
pub struct Cluster {
    /// This node's id.
    pub id: NodeId,
    /// The openraft handle.
    pub raft: Raft<TypeConfig>,
    ledger: Arc<Ledger>,
    secret: Arc<str>,
    http: reqwest::Client,
    proposer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Starts the Raft node over `ledger` (opened with `replicated: true`) and its proposer.
    /// Call from inside a tokio runtime. A new node waits, uninitialised, until
    /// `vellum cluster init` or a leader adds it.
    pub async fn start(
        ledger: Arc<Ledger>,
        config: ClusterConfig,
    ) -> Result<Arc<Self>, ClusterError> {
        let log = log::LogStore::open(&config.data_dir.join("raft.redb"))?;
        let sm = state::StateMachine::new(ledger.clone(), config.data_dir.clone());
        let raft_config = openraft::Config {
            cluster_name: ledger.chain_id().to_string(),
            heartbeat_interval: config.heartbeat_ms,
            election_timeout_min: config.election_ms.0,
            election_timeout_max: config.election_ms.1,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(config.snapshot_logs),
            max_in_snapshot_log_to_keep: config.snapshot_logs / 2,
            // Entries are whole blocks: a few per request keeps requests small.
            max_payload_entries: 16,
            // Chunks travel as JSON arrays of numbers (about 3.5 bytes a byte): keep each
            // small enough to arrive well inside its timeout on a busy machine.
            snapshot_max_chunk_size: 1 << 20,
            install_snapshot_timeout: 20_000,
            ..Default::default()
        };
        let raft_config = Arc::new(
            raft_config
                .validate()
                .map_err(|e| ClusterError::Raft(e.to_string()))?,
        );
        let secret: Arc<str> = Arc::from(config.secret.as_str());
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(30))
            .local_address(config.local_ip)
            .build()
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let net = network::Network::new(http.clone(), secret.clone());
        let raft = Raft::new(config.node_id, raft_config, net, log, sm)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let cluster = Arc::new(Self {
            id: config.node_id,
            raft,
            ledger,
            secret,
            http,
            proposer: Mutex::new(None),
        });
        let handle = tokio::spawn(cluster.clone().propose_loop());
        *cluster.proposer.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(cluster)
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// Whether `secret` is the cluster's (constant time in the secret's length).
    pub fn authorised(&self, secret: &[u8]) -> bool {
        let ours = self.secret.as_bytes();
        if ours.is_empty() || secret.len() != ours.len() {
            return false;
        }
        ours.iter()
            .zip(secret)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// The leader's id and base URL, if known.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        let m = self.raft.metrics().borrow().clone();
        let id = m.current_leader?;
        let addr = m.membership_config.membership().get_node(&id)?.addr.clone();
        Some((id, addr))
    }

    /// Whether this node is the leader.
    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.id)
    }

    /// What `/v1/status` shows.
    pub fn status(&self) -> ClusterStatus {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voter_ids: BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut voters = Vec::new();
        let mut learners = Vec::new();
        for (id, node) in membership.nodes() {
            let view = MemberView {
                id: *id,
                addr: node.addr.clone(),
            };
            if voter_ids.contains(id) {
                voters.push(view);
            } else {
                learners.push(view);
            }
        }
        let role = match m.state {
            ServerState::Leader => "leader",
            ServerState::Follower => "follower",
            ServerState::Candidate => "candidate",
            ServerState::Learner => "learner",
            ServerState::Shutdown => "shutdown",
        };
        let leader_addr = m
            .current_leader
            .and_then(|id| membership.get_node(&id).map(|n| n.addr.clone()));
        let halted = self.ledger.halted().or_else(|| match &m.running_state {
            Ok(()) => None,
            Err(e) => Some(format!("raft stopped: {e}")),
        });
        ClusterStatus {
            node_id: self.id,
            role: role.into(),
            leader: m.current_leader,
            leader_addr,
            term: m.current_term,
            voters,
            learners,
            last_log_index: m.last_log_index,
            last_applied_index: m.last_applied.map(|l| l.index),
            halted,
        }
    }

    /// Makes this node the first leader of a new cluster of `members` (id → base URL).
    pub async fn init(&self, members: BTreeMap<NodeId, String>) -> Result<(), String> {
        let nodes: BTreeMap<NodeId, BasicNode> = members
            .into_iter()
            .map(|(id, addr)| (id, BasicNode { addr }))
            .collect();
        self.raft.initialize(nodes).await.map_err(|e| e.to_string())
    }

    /// Adds a non-voting member, which catches up from the log or a snapshot. Returns once
    /// the membership change is committed (not once the learner has caught up).
    pub async fn add_learner(&self, id: NodeId, addr: String) -> Result<(), String> {
        self.raft
            .add_learner(id, BasicNode { addr }, false)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Makes learners voters.
    pub async fn promote(&self, ids: BTreeSet<NodeId>) -> Result<(), String> {
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(ids), false)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Removes members (voters or learners) from the cluster.
    pub async fn remove(&self, ids: BTreeSet<NodeId>) -> Result<(), String> {
        let m = self.raft.metrics().borrow().clone();
        let voters: BTreeSet<NodeId> = m.membership_config.membership().voter_ids().collect();
        let (as_voters, as_learners): (BTreeSet<NodeId>, BTreeSet<NodeId>) =
            ids.into_iter().partition(|id| voters.contains(id));
        if !as_voters.is_empty() {
            self.raft
                .change_membership(ChangeMembers::RemoveVoters(as_voters), false)
                .await
                .map_err(|e| e.to_string())?;
        }
        if !as_learners.is_empty() {
            self.raft
                .change_membership(ChangeMembers::RemoveNodes(as_learners), false)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Stops the proposer and the Raft node (the ledger is shut down by its owner).
    pub async fn shutdown(&self) {
        let handle = self
            .proposer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            h.abort();
        }
        let _ = self.raft.shutdown().await;
    }

    /// Waits until this node is the leader and has applied every entry of its log, so that
    /// what it proposes extends the chain every member will have.
    async fn ready_to_propose(&self) -> bool {
        let mut metrics = self.raft.metrics();
        loop {
            {
                let m = metrics.borrow_and_update();
                if m.running_state.is_err() || self.ledger.halted().is_some() {
                    return false;
                }
                if m.state == ServerState::Leader
                    && m.current_leader == Some(self.id)
                    && m.last_applied.map(|l| l.index) >= m.last_log_index
                {
                    return true;
                }
            }
            if tokio::time::timeout(Duration::from_millis(200), metrics.changed())
                .await
                .is_ok_and(|r| r.is_err())
            {
                return false;
            }
        }
    }

    /// The leader's ordering loop: one block in the log at a time, each proposed on the tip
    /// the previous one produced.
    async fn propose_loop(self: Arc<Self>) {
        loop {
            if !self.ready_to_propose().await {
                if self.ledger.halted().is_some()
                    || self.raft.metrics().borrow().running_state.is_err()
                {
                    return;
                }
                continue;
            }
            let ledger = self.ledger.clone();
            let proposal: Option<Proposal> =
                match tokio::task::spawn_blocking(move || ledger.order_next()).await {
                    Ok(p) => p,
                    Err(_) => return,
                };
            let Some(proposal) = proposal else {
                return; // shutting down
            };
            let batch = Batch {
                height: proposal.context.height,
                timestamp_ms: proposal.context.timestamp_ms,
                prev_hash: proposal.context.prev_hash,
                prev_state_root: proposal.context.prev_state_root,
                txs: proposal.txs.iter().map(|t| (*t.envelope).clone()).collect(),
            };
            match self.raft.client_write(batch).await {
                Ok(r) if matches!(r.data, Applied::Block { .. }) => {}
                Ok(_) => {
                    tracing::info!(height = proposal.context.height, "stale proposal skipped");
                    self.ledger.discard(&proposal.txs);
                }
                Err(e) => {
                    // Not the leader any more, or the node is stopping: the entry may still
                    // commit under the next leader (the transactions are then acknowledged
                    // wherever they were submitted); if not, their senders submit again.
                    tracing::info!(error = %e, "proposal not committed here");
                    self.ledger.discard(&proposal.txs);
                }
            }
        }
    }

    /// Sends a request to the leader: the forwarding of [`http`].
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}
