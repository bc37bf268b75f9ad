//! The ledger: a store, a runtime, a mempool and the block pipeline, behind one handle.
//!
//! The pipeline has three stages with a seam between each (see ARCHITECTURE.md):
//!
//! 1. **Ordering** ([`Ledger::next_proposal`]): which transactions go into the next block, in
//!    which order, with which timestamp. Today the local mempool decides: it drains whatever
//!    is waiting (up to a size bound), so a slow commit yields bigger blocks, not a queue.
//!    Replicated, an openraft leader proposes and every node applies the same [`Proposal`].
//! 2. **Execution** ([`crate::execute::execute_block`]): a pure function of the committed state
//!    and the proposal, on one executor thread.
//! 3. **Commit**. A single node appends the block to its journal ([`crate::journal`]) and
//!    flushes it; only then are receipts handed to waiters, so nothing acknowledged can be
//!    lost. The applier thread then writes blocks into redb, several per durable transaction
//!    ([`crate::store::Store::commit_blocks`]), off the acknowledgement path; readers wait for
//!    it to reach the tip ([`Ledger::snapshot`]), so a receipt handed out can always be read
//!    back. A replicated node's Raft log plays the journal's part: it commits each block to
//!    redb in [`Ledger::apply`].

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};
use vellum_runtime::{
    Call, CodeHash, EntryPoint, Env, Outcome, Runtime, RuntimeConfig, RuntimeError,
};

use crate::chain::block::{Header, Receipt};
use crate::chain::tx::{Envelope, KeyCache, Op, TxError, VerifiedTx, verify_envelope};
use crate::chain::{Address, Hash};
use crate::execute::{BlockContext, ContractMeta, ExecuteError, StateBase, execute_block, genesis};
use crate::journal::{self, Journal, JournalError, JournalLock, JournalRecord};
use crate::limits::{
    ADMIT_NONCE_READS_MAX, APPLY_GROUP_BLOCKS_MAX, APPLY_QUEUE_BLOCKS, APPLY_QUEUE_BYTES_MAX,
    BLOCK_BYTES_MAX, BLOCK_TXS_MAX, PIPELINE_EARLY_BLOCK_TXS_MIN,
};
use crate::mempool::Mempool;
use crate::procstat::{THREAD_APPLIER, THREAD_PRODUCER, THREAD_WRITER};
use crate::store::{CommitBatch, Snapshot, Store, StoreError, StoredTx, keys};

/// How often a reader waiting for the applier ([`Ledger::snapshot`]) looks again whether the
/// pipeline halted (a move of `applied` wakes it at once).
const APPLIED_WAIT_POLL: Duration = Duration::from_millis(100);
/// A journal flush at least this slow is logged (it held every acknowledgement back).
const SLOW_FLUSH: Duration = Duration::from_millis(100);

/// Committed blocks buffered for each subscriber ([`Ledger::subscribe`]); one that falls
/// further behind misses the oldest and is told how many.
pub const SUBSCRIBER_BUFFER_BLOCKS: usize = 1024;

/// How a ledger is set up.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// Directory holding `chain.redb` and the compiled-module cache.
    pub data_dir: PathBuf,
    /// The chain id every transaction must carry.
    pub chain_id: String,
    /// Timestamp of the genesis block, in ms (part of the chain's identity).
    pub genesis_time_ms: u64,
    /// Most transactions per block.
    pub block_txs_max: usize,
    /// Replicated (docs/cluster.md): no local producer; the cluster's leader orders blocks with
    /// [`Ledger::order_next`] and every node applies them with [`Ledger::apply`].
    pub replicated: bool,
    /// Where a single node keeps its journal (`--journal-dir`); `None`: `DATA_DIR/journal`.
    /// See `crate::journal`, "Somewhere else".
    pub journal_dir: Option<PathBuf>,
}

impl LedgerConfig {
    /// Defaults for a data directory and chain id.
    pub fn new(data_dir: impl Into<PathBuf>, chain_id: impl Into<String>) -> Self {
        Self {
            data_dir: data_dir.into(),
            chain_id: chain_id.into(),
            genesis_time_ms: 0,
            block_txs_max: BLOCK_TXS_MAX,
            replicated: false,
            journal_dir: None,
        }
    }

    /// The journal directory in effect.
    pub fn journal_dir(&self) -> PathBuf {
        self.journal_dir
            .clone()
            .unwrap_or_else(|| journal::default_dir(&self.data_dir))
    }
}

/// Why the ledger could not open or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The journal failed, or replaying it at start-up did.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A block could not be executed; the pipeline has stopped.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    /// IO (creating the data directory, spawning threads).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The pipeline stopped after a fault and refuses new work.
    #[error("the block pipeline has stopped: {0}")]
    Halted(String),
}

/// One block's worth of ordered transactions: what the ordering stage hands to execution.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The block context (height, timestamp, parent).
    pub context: BlockContext,
    /// The transactions, in order.
    pub txs: Vec<VerifiedTx>,
}

/// A committed block, as announced to subscribers.
#[derive(Debug, Clone)]
pub struct CommittedBlock {
    /// Its header.
    pub header: Header,
    /// Its hash.
    pub hash: Hash,
    /// Receipts in block order.
    pub receipts: Vec<Arc<Receipt>>,
}

/// The net state changes of one block.
type Writes = std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A block executed and on its way to the writer.
struct InFlight {
    context: BlockContext,
    txs: Vec<VerifiedTx>,
    executed: crate::execute::ExecutedBlock,
    started: std::time::Instant,
}

/// A block acknowledged (durable in the journal) and on its way to redb.
struct Acked {
    txs: Vec<VerifiedTx>,
    batch: CommitBatch,
    /// About what it holds in memory: what counts against [`APPLY_QUEUE_BYTES_MAX`].
    bytes: usize,
}

impl Acked {
    fn new(txs: Vec<VerifiedTx>, batch: CommitBatch) -> Self {
        let b = &batch;
        let bytes = b.txs.iter().map(|(_, r)| r.len()).sum::<usize>()
            + b.receipts.iter().map(|(_, r)| r.len()).sum::<usize>()
            + b.writes
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
            + b.events
                .iter()
                .map(|(k, _)| k.len() + std::mem::size_of::<Hash>())
                .sum::<usize>();
        Self { txs, batch, bytes }
    }
}

/// A bound on the bytes of the acknowledged blocks waiting for the applier: the writer reserves
/// room for each block before handing it over, and the applier releases it once redb holds the
/// block. A block alone always fits, however large.
struct Backlog {
    bytes: Mutex<usize>,
    room: Condvar,
    max: usize,
}

impl Backlog {
    fn new(max: usize) -> Self {
        Self {
            bytes: Mutex::new(0),
            room: Condvar::new(),
            max,
        }
    }

    /// Waits until `bytes` more fit, then counts them in. `false`, without counting them, once
    /// `stop` says so (checked at every wake-up and at least every [`APPLIED_WAIT_POLL`]).
    fn reserve(&self, bytes: usize, stop: impl Fn() -> bool) -> bool {
        let mut held = lock(&self.bytes);
        while *held > 0 && held.saturating_add(bytes) > self.max {
            if stop() {
                return false;
            }
            held = self
                .room
                .wait_timeout(held, APPLIED_WAIT_POLL)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        *held += bytes;
        true
    }

    /// The applier wrote blocks of `bytes` into redb.
    fn release(&self, bytes: usize) {
        let mut held = lock(&self.bytes);
        *held = held.saturating_sub(bytes);
        self.room.notify_all();
    }

    /// Wakes every waiter to check its `stop`.
    fn wake_all(&self) {
        self.room.notify_all();
    }
}

/// Committed state with the writes of blocks redb does not hold yet on top (oldest first).
struct Layered {
    base: Snapshot,
    tops: Vec<Arc<Writes>>,
}

impl Layered {
    fn scan_below(
        &self,
        layers: usize,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<vellum_runtime::Entries, vellum_runtime::StateError> {
        match layers.checked_sub(1) {
            None => StateBase::scan(&self.base, start, end, limit),
            Some(below) => vellum_runtime::merge_scan(
                &self.tops[below],
                &mut |s, e, n| self.scan_below(below, s, e, n),
                start,
                end,
                limit,
            ),
        }
    }
}

impl StateBase for Layered {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, vellum_runtime::StateError> {
        for top in self.tops.iter().rev() {
            if let Some(v) = top.get(key) {
                return Ok(v.clone());
            }
        }
        StateBase::get(&self.base, key)
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<vellum_runtime::Entries, vellum_runtime::StateError> {
        self.scan_below(self.tops.len(), start, end, limit)
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct LedgerMetrics {
    /// Transactions committed.
    pub txs_committed: AtomicU64,
    /// Blocks committed.
    pub blocks_committed: AtomicU64,
    /// Sum of commit latencies (execute + write), microseconds.
    pub commit_micros_total: AtomicU64,
    /// Sum of time spent executing blocks, microseconds.
    pub execute_micros_total: AtomicU64,
    /// Sum of time spent making blocks durable before their acknowledgement (the journal's
    /// append and flush; a replicated node's redb commit), microseconds.
    pub write_micros_total: AtomicU64,
    /// Sum of time the applier spent writing acknowledged blocks into redb, microseconds.
    pub apply_micros_total: AtomicU64,
    /// Durable redb transactions the applier committed (each holds one or more blocks).
    pub store_commits_total: AtomicU64,
    /// How long each journal append and flush took (a single node's acknowledgement path).
    pub journal_flush: crate::histogram::LatencyHistogram,
    /// How long each of the applier's redb commits took.
    pub store_commit: crate::histogram::LatencyHistogram,
    /// Envelopes verified (signature, payload, chain id), accepted or not.
    pub verified_total: AtomicU64,
    /// Sum of the CPU time those verifications took, nanoseconds (on whichever thread ran them).
    pub verify_nanos_total: AtomicU64,
}

struct Shared {
    chain_id: String,
    store: Store,
    runtime: Runtime,
    keys: KeyCache,
    pool: Mutex<Mempool>,
    /// Signalled when the pool becomes non-empty, when it reaches
    /// [`PIPELINE_EARLY_BLOCK_TXS_MIN`], when the writer finishes a block, and at shutdown.
    wake: Condvar,
    /// Blocks handed to the writer and not yet committed. Changed under the `pool` lock, so the
    /// producer's wait on `wake` cannot miss the writer becoming free.
    blocks_in_writer: AtomicUsize,
    waiters: Mutex<HashMap<Hash, Vec<oneshot::Sender<Arc<Receipt>>>>>,
    /// The last acknowledged block (redb may not hold it yet: see `applied`).
    tip: Mutex<(Header, Hash)>,
    /// Blocks executed and not yet in redb, oldest first: height and state writes. The
    /// producer executes on redb's snapshot with these on top; the applier drops them once
    /// redb holds them.
    unapplied: Mutex<VecDeque<(u64, Arc<Writes>)>>,
    /// Height of the last block redb holds durably. Readers wait for it to reach the tip.
    applied: Mutex<u64>,
    /// Signalled when `applied` moves, and at a halt.
    applied_moved: Condvar,
    /// Bytes of the acknowledged blocks waiting for the applier.
    apply_backlog: Backlog,
    blocks: broadcast::Sender<Arc<CommittedBlock>>,
    stopping: AtomicBool,
    halted: Mutex<Option<String>>,
    /// Set with `halted` when this node's chain left the cluster's: its own last blocks may be
    /// a fork, so it no longer serves the chain at all.
    diverged: std::sync::atomic::AtomicBool,
    block_txs_max: usize,
    metrics: LedgerMetrics,
    /// Blocks replayed from the journal when the ledger opened.
    replayed: usize,
}

/// The ledger handle. Cheap to share behind an `Arc`.
pub struct Ledger {
    shared: Arc<Shared>,
    producer: Mutex<Option<JoinHandle<()>>>,
    /// Held until the producer, which appends to the journal, has stopped (`Drop` joins it
    /// before the fields go).
    _journal_lock: Option<JournalLock>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("chain_id", &self.shared.chain_id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks would already have stopped the pipeline; the
    // data itself stays consistent, so keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The wall clock, read only by the ordering stage to timestamp a block.
#[allow(clippy::disallowed_methods)]
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Ledger {
    /// Opens the ledger in `config.data_dir` (creating the chain at genesis if it is new),
    /// resumes at the last committed block and starts the block pipeline.
    pub fn open(config: LedgerConfig) -> Result<Self, LedgerError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let opening = std::time::Instant::now();
        let store = Store::open(&config.data_dir.join("chain.redb"))?;
        let store_open_ms = opening.elapsed().as_secs_f64() * 1e3;
        store.check_chain_id(&config.chain_id)?;
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(config.data_dir.join("modules")),
        })?;
        let snapshot = store.snapshot()?;
        let mut tip = match snapshot.tip_height()? {
            Some(h) => snapshot
                .header(h)?
                .ok_or_else(|| StoreError::Corrupt(format!("tip header {h} missing")))?,
            None => {
                let header = genesis(&config.chain_id, config.genesis_time_ms);
                store.commit(&CommitBatch {
                    header: Some(header),
                    ..CommitBatch::default()
                })?;
                header
            }
        };
        drop(snapshot);
        // Blocks acknowledged before a crash (or a shutdown) that redb did not get: replay them.
        let keys = KeyCache::default();
        if config.replicated && config.journal_dir.is_some() {
            return Err(LedgerError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a cluster member has no journal of its own (the Raft log is its journal): \
                 --journal-dir applies to a single node",
            )));
        }
        let configured = config.journal_dir();
        let journal_lock = JournalLock::acquire(&configured)?;
        let journal_dir = configured.canonicalize()?;
        let records = Journal::recover(&journal_dir)?;
        let moved = journal::check_placement(&config.data_dir, &journal_dir, &records, tip.height)?;
        let replayed = replay(&store, &runtime, &config.chain_id, &keys, &mut tip, records)?;
        let journal = if config.replicated {
            // The Raft log is this node's journal; one left from single-node days is applied.
            if journal_dir.exists() {
                std::fs::remove_dir_all(&journal_dir)?;
            }
            None
        } else {
            Some(Journal::start(&journal_dir)?)
        };
        if moved && !config.replicated {
            journal::record_dir(&config.data_dir, &journal_dir)?;
        }
        // Nothing here may grow with the chain's length: a restart must serve in well under two
        // seconds on a chain of a million transactions (`scale-bench` measures it).
        tracing::info!(
            height = tip.height,
            replayed,
            store_open_ms,
            ledger_open_ms = opening.elapsed().as_secs_f64() * 1e3,
            "opened the ledger"
        );
        let (blocks, _) = broadcast::channel(SUBSCRIBER_BUFFER_BLOCKS);
        let shared = Arc::new(Shared {
            chain_id: config.chain_id,
            store,
            runtime,
            keys,
            pool: Mutex::new(Mempool::default()),
            wake: Condvar::new(),
            blocks_in_writer: AtomicUsize::new(0),
            waiters: Mutex::new(HashMap::new()),
            tip: Mutex::new((tip, tip.hash())),
            unapplied: Mutex::new(VecDeque::new()),
            applied: Mutex::new(tip.height),
            applied_moved: Condvar::new(),
            apply_backlog: Backlog::new(APPLY_QUEUE_BYTES_MAX),
            blocks,
            stopping: AtomicBool::new(false),
            halted: Mutex::new(None),
            diverged: std::sync::atomic::AtomicBool::new(false),
            block_txs_max: config.block_txs_max.clamp(1, BLOCK_TXS_MAX),
            metrics: LedgerMetrics::default(),
            replayed,
        });
        let producer = match journal {
            None => None,
            Some(journal) => {
                let worker = shared.clone();
                Some(vellum_runtime::spawn_exec_thread(
                    THREAD_PRODUCER.into(),
                    move || worker.run(journal),
                )?)
            }
        };
        Ok(Self {
            shared,
            producer: Mutex::new(producer),
            _journal_lock: (!config.replicated).then_some(journal_lock),
        })
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.shared.chain_id
    }

    /// The runtime (for read-only queries and tools).
    pub fn runtime(&self) -> &Runtime {
        &self.shared.runtime
    }

    /// The latest committed header and its hash.
    pub fn tip(&self) -> (Header, Hash) {
        *lock(&self.shared.tip)
    }

    /// Blocks replayed from the journal when the ledger opened: acknowledged before a crash,
    /// not yet written into redb then.
    pub fn replayed_at_open(&self) -> usize {
        self.shared.replayed
    }

    /// Counters.
    pub fn metrics(&self) -> &LedgerMetrics {
        &self.shared.metrics
    }

    /// Transactions waiting in the mempool.
    pub fn mempool_len(&self) -> usize {
        lock(&self.shared.pool).len()
    }

    /// Whether a transaction is admitted and not yet committed.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        lock(&self.shared.pool).contains(hash)
    }

    /// A read view of the latest committed state: it holds every block acknowledged when the
    /// call began (waiting, if need be, for the applier to write them into redb, usually well
    /// under a millisecond), so a receipt handed out can always be read back.
    pub fn snapshot(&self) -> Result<Snapshot, LedgerError> {
        let height = self.tip().0.height;
        self.shared.wait_applied(height)?;
        Ok(self.shared.store.snapshot()?)
    }

    /// Committed blocks as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.shared.blocks.subscribe()
    }

    /// The nonce an account's next transaction must carry (counting admitted, uncommitted ones).
    pub fn next_nonce(&self, address: &Address) -> Result<u64, LedgerError> {
        let pool = lock(&self.shared.pool);
        let committed = self.shared.store.committed_nonce(address)?;
        Ok(pool.next_nonce(address, committed))
    }

    /// Verifies an envelope (everything but the nonce). Thread-safe and CPU-bound: call it from
    /// as many threads as there are cores.
    pub fn verify(&self, envelope: Envelope) -> Result<VerifiedTx, TxError> {
        // CPU time, not wall time: on a busy machine a thread can be preempted mid-check.
        let started = crate::procstat::this_thread_cpu();
        let verified = verify_envelope(envelope, &self.shared.chain_id, &self.shared.keys);
        let m = &self.shared.metrics;
        m.verified_total.fetch_add(1, Ordering::Relaxed);
        if let Some(used) = started
            .zip(crate::procstat::this_thread_cpu())
            .map(|(s, e)| e.saturating_sub(s))
        {
            m.verify_nanos_total
                .fetch_add(used.as_nanos() as u64, Ordering::Relaxed);
        }
        verified
    }

    /// Admits a verified transaction. Returns a receiver for its receipt, which fires once the
    /// block that holds it is durably committed.
    pub fn admit(&self, tx: VerifiedTx) -> Result<oneshot::Receiver<Arc<Receipt>>, TxError> {
        if self.shared.stopping.load(Ordering::Acquire) || lock(&self.shared.halted).is_some() {
            return Err(TxError::ShuttingDown);
        }
        if let Op::Deploy(wasm) = &tx.op {
            // Compile now, off the execution thread, so that executing the deploy only finds
            // the module in the cache. Validation already passed in `verify`.
            self.shared
                .runtime
                .deploy(wasm)
                .map_err(|e| TxError::InvalidCode(e.to_string()))?;
        }
        let (sender, receiver) = oneshot::channel();
        let hash = tx.hash;
        let signer = tx.signer;
        let store = &self.shared.store;
        // The committed nonce of an account the pool holds nothing for comes from redb, read
        // outside the pool's lock: a read that misses the page cache would otherwise stop
        // admission and the producer while it waits for the disk. It is still current once the
        // lock is taken again if no account was forgotten meanwhile (`Mempool::forgotten`);
        // otherwise it is read again, and after a few tries under the lock.
        let mut read: Option<(u64, u64)> = None;
        let mut tries = 0;
        let mut pool = loop {
            let pool = lock(&self.shared.pool);
            let current = read.is_some_and(|(forgotten, _)| forgotten == pool.forgotten());
            if current || pool.holds_account(&signer) || tries == ADMIT_NONCE_READS_MAX {
                break pool;
            }
            let forgotten = pool.forgotten();
            drop(pool);
            read = Some((forgotten, store.committed_nonce(&signer).unwrap_or(0)));
            crate::failpoint!("ledger.admit.after_nonce_read");
            tries += 1;
        };
        let current = read
            .filter(|(forgotten, _)| *forgotten == pool.forgotten())
            .map(|(_, nonce)| nonce);
        let len_before = pool.len();
        let admitted = pool.admit(tx, || {
            current.unwrap_or_else(|| store.committed_nonce(&signer).unwrap_or(0))
        });
        if let Err(e) = admitted {
            drop(pool);
            return Err(match e {
                // A committed transaction sent again carries a used nonce: say what really
                // happened.
                TxError::StaleNonce { .. } if store.has_tx(&hash).unwrap_or(false) => {
                    TxError::Duplicate(hex::encode(hash))
                }
                e => e,
            });
        }
        {
            // `halt` sets `halted`, then clears the waiters: checking `halted` under the
            // waiters' lock means a waiter is either cleared by `halt` or never registered
            // (its sender dropped here, so `?wait=true` answers `not_committed` at once).
            // Registering it after the clear left it waiting for a commit that never comes,
            // until the wait timed out (504): seen in `tests/tests/faults.rs`.
            let mut waiters = lock(&self.shared.waiters);
            if lock(&self.shared.halted).is_none() {
                waiters.entry(hash).or_default().push(sender);
            }
        }
        drop(pool);
        // Waking the producer costs a system call: do it only when this transaction changed
        // what it waits for (the pool became non-empty, or big enough for an early block).
        if len_before == 0 || len_before + 1 == PIPELINE_EARLY_BLOCK_TXS_MIN {
            self.shared.wake.notify_one();
        }
        Ok(receiver)
    }

    /// Verifies and admits an envelope.
    pub fn submit(
        &self,
        envelope: Envelope,
    ) -> Result<(Hash, oneshot::Receiver<Arc<Receipt>>), TxError> {
        let tx = self.verify(envelope)?;
        let hash = tx.hash;
        Ok((hash, self.admit(tx)?))
    }

    /// Runs a read-only query against the latest committed state.
    pub fn query(
        &self,
        contract: &Address,
        msg: &[u8],
    ) -> Result<Result<Outcome, QueryError>, LedgerError> {
        let snapshot = self.snapshot()?;
        let Some(meta) = snapshot.get(&keys::contract(contract))? else {
            return Ok(Err(QueryError::UnknownContract));
        };
        let meta: ContractMeta = serde_json::from_slice(&meta)
            .map_err(|e| StoreError::Corrupt(format!("contract metadata: {e}")))?;
        let code_hash = crate::chain::parse_hex::<32>(&meta.code_hash)
            .ok_or_else(|| StoreError::Corrupt("contract code hash".into()))?;
        let (tip, _) = self.tip();
        let view = crate::execute::contract_view(Arc::new(snapshot), contract);
        let call = Call {
            code_hash: CodeHash(code_hash),
            entry: EntryPoint::Query,
            msg: msg.to_vec(),
            env: Env {
                contract: *contract,
                block_height: tip.height,
                block_time_ms: tip.timestamp_ms,
                ..Env::default()
            },
            fuel_limit: crate::limits::FUEL_DEFAULT,
        };
        match self.shared.runtime.call(call, view) {
            Ok(o) => Ok(Ok(o)),
            Err(RuntimeError::InputTooLarge(n)) => Ok(Err(QueryError::TooLarge(n))),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops admitting, lets the pipeline commit what it has, and waits for it to finish.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        if let Some(handle) = lock(&self.producer).take() {
            let _ = handle.join();
        }
    }

    /// Why the pipeline stopped, if it did.
    pub fn halted(&self) -> Option<String> {
        lock(&self.shared.halted).clone()
    }

    /// Stops the pipeline for good, saying why (a replicated node that finds its chain
    /// diverging from the cluster's uses it): nothing more is admitted or committed.
    pub fn halt(&self, reason: String) {
        self.shared.halt(reason);
    }

    /// [`Ledger::halt`] for a chain found diverging from the cluster's: besides stopping, the
    /// node stops serving its chain (the API answers 503 `diverged`), since its last blocks
    /// may be a fork nobody else has.
    pub fn halt_diverged(&self, reason: String) {
        self.shared
            .diverged
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.halt(reason);
    }

    /// Whether [`Ledger::halt_diverged`] stopped this node.
    pub fn diverged(&self) -> bool {
        self.shared
            .diverged
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The store (the replication layer records its Raft position and snapshots through it).
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The ordering stage, for a replicated node's leader: waits for transactions and returns
    /// the next block's proposal on top of the current tip, or `None` once shutting down.
    pub fn order_next(&self) -> Option<Proposal> {
        let tip = self.tip();
        self.shared.next_proposal(&tip)
    }

    /// Forgets transactions taken by [`Ledger::order_next`] whose proposal will not commit
    /// (leadership lost, or stale): their senders must submit again.
    pub fn discard(&self, txs: &[VerifiedTx]) {
        lock(&self.shared.pool).committed(txs);
    }

    /// Executes and durably commits one block on the current tip (a replicated node's state
    /// machine), writing `meta` in the same transaction, then acknowledges its transactions.
    /// The caller has checked that the proposal extends the tip.
    pub fn apply(
        &self,
        proposal: Proposal,
        meta: Vec<(&'static str, Vec<u8>)>,
    ) -> Result<(Header, Hash), LedgerError> {
        if let Some(why) = self.halted() {
            return Err(LedgerError::Halted(why));
        }
        let started = std::time::Instant::now();
        let snapshot = self.shared.store.snapshot()?;
        let executed = match execute_block(
            &self.shared.runtime,
            Arc::new(snapshot),
            proposal.context,
            &proposal.txs,
        ) {
            Ok(e) => e,
            Err(e) => {
                self.shared.halt(e.to_string());
                return Err(e.into());
            }
        };
        self.shared
            .metrics
            .execute_micros_total
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let mut executed = executed;
        executed.batch.meta = meta;
        let write_started = std::time::Instant::now();
        if let Err(e) = self.shared.store.commit(&executed.batch) {
            self.shared.halt(e.to_string());
            return Err(e.into());
        }
        let header = executed.header;
        self.shared.set_applied(header.height);
        lock(&self.shared.pool).committed(&proposal.txs);
        self.shared.finish(
            &proposal.txs,
            header,
            executed.receipts,
            started,
            write_started,
        );
        Ok((header, header.hash()))
    }

    /// Re-reads the tip from the store (after a snapshot replaced its content).
    pub fn reload_tip(&self) -> Result<(), LedgerError> {
        let snapshot = self.shared.store.snapshot()?;
        let h = snapshot
            .tip_height()?
            .ok_or_else(|| StoreError::Corrupt("no tip".into()))?;
        let header = snapshot
            .header(h)?
            .ok_or_else(|| StoreError::Corrupt(format!("tip header {h} missing")))?;
        self.shared.set_applied(header.height);
        *lock(&self.shared.tip) = (header, header.hash());
        Ok(())
    }
}

/// Replays journal records the store does not hold yet onto it, moving `tip`: each block is
/// re-executed from its context and transactions, must come out with the hash it was
/// acknowledged with, and is committed durably. Returns how many were replayed.
fn replay(
    store: &Store,
    runtime: &Runtime,
    chain_id: &str,
    keys: &KeyCache,
    tip: &mut Header,
    records: Vec<JournalRecord>,
) -> Result<usize, LedgerError> {
    let mut replayed = 0;
    let snapshot = store.snapshot()?;
    for record in records {
        if record.height <= tip.height {
            // redb got it before the journal was released; unless the journal is another
            // chain's (a `--journal-dir` shared by mistake), whose segments `Journal::start`
            // would then delete.
            let stored = snapshot.header(record.height)?.map(|h| h.hash());
            if stored != Some(record.hash) {
                return Err(LedgerError::Journal(JournalError::Corrupt(format!(
                    "block {} of the journal is not this chain's block at that height: the \
                     journal belongs to another chain",
                    record.height
                ))));
            }
            continue;
        }
        let corrupt = |why: String| {
            LedgerError::Journal(JournalError::Corrupt(format!(
                "block {}: {why}",
                record.height
            )))
        };
        if record.height != tip.height + 1 || record.prev_hash != tip.hash() {
            return Err(corrupt(format!(
                "does not extend the stored tip {} ({})",
                tip.height,
                hex::encode(tip.hash())
            )));
        }
        let mut txs = Vec::with_capacity(record.txs.len());
        for (i, bytes) in record.txs.iter().enumerate() {
            let envelope = StoredTx::decode(record.height, i as u32, bytes)?.envelope;
            txs.push(
                verify_envelope(envelope, chain_id, keys)
                    .map_err(|e| corrupt(format!("transaction {i}: {e}")))?,
            );
        }
        let executed = execute_block(runtime, Arc::new(store.snapshot()?), record.context(), &txs)?;
        if executed.header.hash() != record.hash {
            return Err(corrupt(format!(
                "re-executes to {}, but {} was acknowledged",
                hex::encode(executed.header.hash()),
                hex::encode(record.hash)
            )));
        }
        store.commit(&executed.batch)?;
        *tip = executed.header;
        replayed += 1;
    }
    Ok(replayed)
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Why a query could not run (the caller's fault, unlike [`LedgerError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No contract at that address.
    #[error("no contract at that address")]
    UnknownContract,
    /// The message is too large.
    #[error("query message of {0} bytes is too large")]
    TooLarge(usize),
}

impl Shared {
    /// The ordering stage: waits for transactions and proposes the next block. While the writer
    /// is busy it waits for it, unless [`PIPELINE_EARLY_BLOCK_TXS_MIN`] transactions are
    /// already waiting (see there).
    fn next_proposal(&self, tip: &(Header, Hash)) -> Option<Proposal> {
        let mut pool = lock(&self.pool);
        loop {
            let stopping = self.stopping.load(Ordering::Acquire);
            if pool.is_empty() {
                if stopping {
                    return None;
                }
            } else if stopping
                || self.blocks_in_writer.load(Ordering::Acquire) == 0
                || pool.len() >= PIPELINE_EARLY_BLOCK_TXS_MIN
            {
                break;
            }
            pool = self
                .wake
                .wait_timeout(pool, Duration::from_millis(200))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let txs = pool.take(self.block_txs_max, BLOCK_BYTES_MAX);
        drop(pool);
        let (tip, tip_hash) = *tip;
        Some(Proposal {
            context: BlockContext {
                height: tip.height + 1,
                timestamp_ms: now_ms().max(tip.timestamp_ms),
                prev_hash: tip_hash,
                prev_state_root: tip.state_root,
            },
            txs,
        })
    }

    /// The producer: orders and executes blocks, and journals each one itself when the writer
    /// thread is idle, which is every block under light and moderate load (the producer then
    /// waits for the write anyway, see [`Shared::next_proposal`]; doing it here saves two
    /// thread wake-ups per block, each 0.1 ms or more on a busy two-core machine). Under heavy
    /// load, once [`PIPELINE_EARLY_BLOCK_TXS_MIN`] transactions wait, it hands blocks to the
    /// writer thread instead, so that block n is journaled while block n+1 executes. Either way
    /// blocks reach the journal in order: the producer writes only when no block is with the
    /// writer. Block n+1 executes on redb's snapshot with the writes of every block redb does
    /// not hold yet on top (`unapplied`).
    fn run(self: Arc<Self>, journal: Journal) {
        let journal = Mutex::new(journal);
        let (to_applier, from_writer) = std::sync::mpsc::sync_channel::<Acked>(APPLY_QUEUE_BLOCKS);
        let (to_writer, from_producer) = std::sync::mpsc::sync_channel::<InFlight>(0);
        std::thread::scope(|scope| {
            // Returning drops the senders: the writer and then the applier finish what they
            // have and end, and the scope waits for them.
            let applier = std::thread::Builder::new()
                .name(THREAD_APPLIER.into())
                .spawn_scoped(scope, || self.apply_loop(from_writer));
            if let Err(e) = applier {
                return self.halt(format!("spawning the applier thread: {e}"));
            }
            let writer_to_applier = to_applier.clone();
            let writer = std::thread::Builder::new()
                .name(THREAD_WRITER.into())
                .spawn_scoped(scope, || {
                    self.write_loop(from_producer, &journal, writer_to_applier)
                });
            if let Err(e) = writer {
                return self.halt(format!("spawning the writer thread: {e}"));
            }
            self.produce_loop(&journal, to_writer, to_applier);
        });
    }

    fn produce_loop(
        &self,
        journal: &Mutex<Journal>,
        to_writer: std::sync::mpsc::SyncSender<InFlight>,
        to_applier: std::sync::mpsc::SyncSender<Acked>,
    ) {
        let mut exec_tip = *lock(&self.tip);
        while let Some(proposal) = self.next_proposal(&exec_tip) {
            if lock(&self.halted).is_some() {
                break;
            }
            let started = std::time::Instant::now();
            let base = match self.exec_base() {
                Ok(b) => b,
                Err(e) => {
                    self.halt(e.to_string());
                    break;
                }
            };
            let executed = match execute_block(&self.runtime, base, proposal.context, &proposal.txs)
            {
                Ok(e) => e,
                Err(e) => {
                    self.halt(e.to_string());
                    break;
                }
            };
            self.metrics
                .execute_micros_total
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            exec_tip = (executed.header, executed.header.hash());
            lock(&self.unapplied)
                .push_back((executed.header.height, executed.batch.writes.clone()));
            crate::failpoint!("ledger.produce.before_send");
            let block = InFlight {
                context: proposal.context,
                txs: proposal.txs,
                executed,
                started,
            };
            let writer_idle = {
                let _pool = lock(&self.pool);
                let idle = self.blocks_in_writer.load(Ordering::Acquire) == 0;
                if !idle {
                    self.blocks_in_writer.fetch_add(1, Ordering::AcqRel);
                }
                idle
            };
            let going_on = if writer_idle {
                // Every block handed to the writer is journaled: this one comes next.
                self.write_block(journal, block, &to_applier)
            } else {
                // `Err`: the writer stopped after a fault; `halted` says why.
                to_writer.send(block).is_ok()
            };
            if !going_on {
                break;
            }
        }
    }

    /// The state the next block executes on: redb's snapshot, with the writes of the blocks
    /// it does not hold yet on top. Taken under the `unapplied` lock, which the applier takes
    /// only after its commit, so every block newer than the snapshot is still listed.
    fn exec_base(&self) -> Result<Arc<dyn StateBase>, StoreError> {
        let unapplied = lock(&self.unapplied);
        let snapshot = self.store.snapshot()?;
        let at = snapshot.tip_height()?.unwrap_or(0);
        let tops: Vec<Arc<Writes>> = unapplied
            .iter()
            .filter(|(h, _)| *h > at)
            .map(|(_, w)| w.clone())
            .collect();
        drop(unapplied);
        Ok(if tops.is_empty() {
            Arc::new(snapshot)
        } else {
            Arc::new(Layered {
                base: snapshot,
                tops,
            })
        })
    }

    fn halt(&self, reason: String) {
        tracing::error!(error = %reason, "block pipeline stopped");
        *lock(&self.halted) = Some(reason);
        // Waiters of blocks not yet durable get no receipt: their senders are dropped, which
        // the API reports as an error, never as success.
        lock(&self.waiters).clear();
        // Readers waiting for the applier, and a writer waiting for room, stop waiting.
        self.applied_moved.notify_all();
        self.apply_backlog.wake_all();
    }

    /// Records that redb holds every block up to `height` durably.
    fn set_applied(&self, height: u64) {
        *lock(&self.applied) = height;
        self.applied_moved.notify_all();
    }

    /// Waits until redb holds every block up to `height`, or the pipeline halts.
    fn wait_applied(&self, height: u64) -> Result<(), LedgerError> {
        let mut applied = lock(&self.applied);
        while *applied < height {
            if let Some(why) = lock(&self.halted).clone() {
                return Err(LedgerError::Halted(why));
            }
            applied = self
                .applied_moved
                .wait_timeout(applied, APPLIED_WAIT_POLL)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        Ok(())
    }

    /// The writer thread, under heavy load (see [`Shared::run`]): journals the blocks the
    /// producer hands it, in order.
    fn write_loop(
        &self,
        blocks: std::sync::mpsc::Receiver<InFlight>,
        journal: &Mutex<Journal>,
        to_applier: std::sync::mpsc::SyncSender<Acked>,
    ) {
        for block in blocks {
            if !self.write_block(journal, block, &to_applier) {
                return;
            }
            {
                let _pool = lock(&self.pool);
                self.blocks_in_writer.fetch_sub(1, Ordering::AcqRel);
            }
            // The producer may be holding a small block back until this write ended.
            self.wake.notify_one();
        }
    }

    /// The commit stage, on the producer's thread or the writer's: the block's journal record
    /// appended and flushed, then the acknowledgements, then the block handed to the applier.
    /// `false` once the pipeline has stopped.
    fn write_block(
        &self,
        journal: &Mutex<Journal>,
        block: InFlight,
        to_applier: &std::sync::mpsc::SyncSender<Acked>,
    ) -> bool {
        let InFlight {
            context,
            txs,
            executed,
            started,
        } = block;
        if lock(&self.halted).is_some() {
            return false;
        }
        let write_started = std::time::Instant::now();
        let hash = executed.header.hash();
        let record: Vec<&[u8]> = executed
            .batch
            .txs
            .iter()
            .map(|(_, r)| r.as_slice())
            .collect();
        let flush_started = std::time::Instant::now();
        if let Err(e) = lock(journal).append_block(&context, &hash, &record) {
            self.halt(e.to_string());
            return false;
        }
        let flushed_in = flush_started.elapsed();
        self.metrics.journal_flush.record(flushed_in);
        if flushed_in >= SLOW_FLUSH {
            tracing::warn!(
                millis = flushed_in.as_millis() as u64,
                height = context.height,
                "the journal's flush was slow: every acknowledgement waited for it (is the disk busy or throttled?)"
            );
        }
        crate::failpoint!("ledger.write.after_commit");
        let crate::execute::ExecutedBlock {
            header,
            receipts,
            batch,
        } = executed;
        self.finish(&txs, header, receipts, started, write_started);
        let acked = Acked::new(txs, batch);
        let room = self
            .apply_backlog
            .reserve(acked.bytes, || lock(&self.halted).is_some());
        if !room || to_applier.send(acked).is_err() {
            return false; // the applier stopped after a fault; `halted` says why
        }
        if let Err(e) = lock(journal).release(*lock(&self.applied)) {
            self.halt(e.to_string());
            return false;
        }
        true
    }

    /// The apply stage: acknowledged blocks written into redb, as many per durable
    /// transaction as are waiting (up to [`APPLY_GROUP_BLOCKS_MAX`]); then the mempool forgets
    /// their transactions (only now: until redb holds them, it is what refuses them again).
    fn apply_loop(&self, blocks: std::sync::mpsc::Receiver<Acked>) {
        while let Ok(first) = blocks.recv() {
            let mut group = vec![first];
            while group.len() < APPLY_GROUP_BLOCKS_MAX {
                match blocks.try_recv() {
                    Ok(b) => group.push(b),
                    Err(_) => break,
                }
            }
            let started = std::time::Instant::now();
            let bytes: usize = group.iter().map(|a| a.bytes).sum();
            let (txs, batches): (Vec<Vec<VerifiedTx>>, Vec<CommitBatch>) =
                group.into_iter().map(|a| (a.txs, a.batch)).unzip();
            let commit_started = std::time::Instant::now();
            if let Err(e) = self.store.commit_blocks(&batches) {
                return self.halt(e.to_string());
            }
            self.metrics.store_commit.record(commit_started.elapsed());
            let height = batches
                .iter()
                .filter_map(|b| b.header.map(|h| h.height))
                .max()
                .unwrap_or(0);
            {
                let mut unapplied = lock(&self.unapplied);
                while unapplied.front().is_some_and(|(h, _)| *h <= height) {
                    unapplied.pop_front();
                }
            }
            self.set_applied(height);
            self.apply_backlog.release(bytes);
            {
                let mut pool = lock(&self.pool);
                for t in &txs {
                    pool.committed(t);
                }
            }
            self.metrics
                .apply_micros_total
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            self.metrics
                .store_commits_total
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// After a block is durable: the tip, the acknowledgements, the counters and the
    /// announcement. (The mempool forgets the transactions once redb holds them.)
    fn finish(
        &self,
        txs: &[VerifiedTx],
        header: Header,
        receipts: Vec<Receipt>,
        started: std::time::Instant,
        write_started: std::time::Instant,
    ) {
        {
            self.metrics.write_micros_total.fetch_add(
                write_started.elapsed().as_micros() as u64,
                Ordering::Relaxed,
            );
            let hash = header.hash();
            *lock(&self.tip) = (header, hash);
            let receipts: Vec<Arc<Receipt>> = receipts.into_iter().map(Arc::new).collect();
            crate::failpoint!("ledger.write.before_acks");
            {
                let mut waiters = lock(&self.waiters);
                for (tx, receipt) in txs.iter().zip(&receipts) {
                    for w in waiters.remove(&tx.hash).unwrap_or_default() {
                        let _ = w.send(receipt.clone());
                    }
                }
            }
            crate::failpoint!("ledger.write.after_acks");
            self.metrics
                .txs_committed
                .fetch_add(txs.len() as u64, Ordering::Relaxed);
            self.metrics
                .blocks_committed
                .fetch_add(1, Ordering::Relaxed);
            self.metrics
                .commit_micros_total
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            let _ = self.blocks.send(Arc::new(CommittedBlock {
                header,
                hash,
                receipts,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_applier_backlog_holds_a_block_back_until_room_is_released_or_the_pipeline_stops() {
        let backlog = Arc::new(Backlog::new(100));
        // A block larger than the bound alone goes through.
        assert!(backlog.reserve(150, || false));
        backlog.release(150);
        assert!(backlog.reserve(60, || false));
        assert!(backlog.reserve(40, || false)); // exactly full
        // The next one waits until the applier releases room.
        let waiter = {
            let backlog = backlog.clone();
            std::thread::spawn(move || backlog.reserve(30, || false))
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(!waiter.is_finished(), "reserved beyond the bound");
        backlog.release(60);
        assert!(waiter.join().unwrap());
        assert_eq!(*lock(&backlog.bytes), 70);
        // A waiter gives up, counting nothing, once the pipeline stops.
        let stopped = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (backlog, stopped) = (backlog.clone(), stopped.clone());
            std::thread::spawn(move || backlog.reserve(50, || stopped.load(Ordering::SeqCst)))
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(!waiter.is_finished());
        stopped.store(true, Ordering::SeqCst);
        backlog.wake_all();
        assert!(!waiter.join().unwrap());
        assert_eq!(*lock(&backlog.bytes), 70);
    }
}
