//! The execution stage: a pure function from (state before, ordered transactions, block
//! context) to (receipts, state changes, header). It reads state only through [`StateBase`] and
//! writes nothing: the commit stage persists what it returns. The node's producer and the
//! verifier both call [`execute_block`], so replay runs exactly the code that produced the chain.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use vellum_runtime::{
    Call, CodeHash, Entries, EntryPoint, Env, Failure, Runtime, RuntimeError, StateError, StateView,
};

use crate::chain::block::{Attributes, Header, Receipt, ReceiptEvent};
use crate::chain::tx::{Op, VerifiedTx};
use crate::chain::{Address, Hash, contract_address, merkle, sha256};
use crate::limits::{DEPLOY_FUEL_PER_BYTE, INDEXED_ATTRIBUTE_BYTES_MAX};
use crate::store::{CommitBatch, StoredTx, keys};

/// Read access to committed state in the unified key space of [`keys`].
pub trait StateBase: Send + Sync {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Up to `limit` entries in `[start, end)`.
    fn scan(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Entries, StateError>;
}

impl StateBase for crate::store::Snapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        crate::store::Snapshot::get(self, key).map_err(|e| StateError(e.to_string()))
    }
    fn scan(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Entries, StateError> {
        crate::store::Snapshot::scan(self, start, end, limit).map_err(|e| StateError(e.to_string()))
    }
}

/// An in-memory state: the verifier's replay state and a reference model in tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemoryBase(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl MemoryBase {
    /// Applies a block's net writes.
    pub fn apply(&mut self, writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        for (k, v) in writes {
            match v {
                Some(v) => {
                    self.0.insert(k.clone(), v.clone());
                }
                None => {
                    self.0.remove(k);
                }
            }
        }
    }
}

impl StateBase for MemoryBase {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.0.get(key).cloned())
    }
    fn scan(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Entries, StateError> {
        use std::ops::Bound;
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .0
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// Committed state plus the writes of the block's earlier transactions.
struct BlockState {
    base: Arc<dyn StateBase>,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl BlockState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.pending.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }
}

/// What a contract sees: its own storage inside the block state, and the code store.
struct ContractView {
    block: Arc<BlockState>,
    prefix: Vec<u8>,
}

impl StateView for ContractView {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.block.get(&[self.prefix.as_slice(), key].concat())
    }

    fn scan(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Entries, StateError> {
        let start = [self.prefix.as_slice(), start].concat();
        let end = match end {
            Some(e) => [self.prefix.as_slice(), e].concat(),
            None => prefix_end(&self.prefix),
        };
        let base = &self.block.base;
        let entries = vellum_runtime::merge_scan(
            &self.block.pending,
            &mut |s, e, n| base.scan(s, e, n),
            &start,
            Some(&end),
            limit,
        )?;
        let n = self.prefix.len();
        Ok(entries
            .into_iter()
            .map(|(k, v)| (k[n..].to_vec(), v))
            .collect())
    }

    fn code(&self, code_hash: &CodeHash) -> Result<Option<Vec<u8>>, StateError> {
        self.block.get(&keys::code(&code_hash.0))
    }
}

/// The view a contract's call gets over `base` (a query, outside any block).
pub fn contract_view(base: Arc<dyn StateBase>, contract: &Address) -> Arc<dyn StateView> {
    Arc::new(ContractView {
        block: Arc::new(BlockState {
            base,
            pending: BTreeMap::new(),
        }),
        prefix: keys::storage_prefix(contract),
    })
}

/// The smallest key above every key starting with `prefix` (prefixes here never end in 0xff
/// bytes only, as they start with a type byte below 0xff).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            break;
        }
    }
    end
}

/// A contract's metadata as stored (`0x02 || address`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContractMeta {
    /// Code hash, hex.
    pub code_hash: String,
    /// Creator's address, hex.
    pub creator: String,
    /// Label given at instantiation.
    pub label: String,
    /// Height of the instantiating block.
    pub created_height: u64,
}

/// The block context chosen by the ordering stage.
#[derive(Debug, Clone, Copy)]
pub struct BlockContext {
    /// Height of the block.
    pub height: u64,
    /// Its timestamp.
    pub timestamp_ms: u64,
    /// Hash of the previous header.
    pub prev_hash: Hash,
    /// State root after the previous block.
    pub prev_state_root: Hash,
}

/// An executed block, ready to commit.
#[derive(Debug)]
pub struct ExecutedBlock {
    /// The header (its hash is the block hash).
    pub header: Header,
    /// Receipts in block order.
    pub receipts: Vec<Receipt>,
    /// What the commit stage writes.
    pub batch: CommitBatch,
}

/// Why a block could not be executed. Never the transactions' fault: a transaction that fails
/// gets a failed receipt. These are host faults (storage, engine) and stop the pipeline.
#[derive(Debug, thiserror::Error)]
#[error("executing block {height}: {reason}")]
pub struct ExecuteError {
    /// The block.
    pub height: u64,
    /// What failed.
    pub reason: String,
}

/// The state-root chain: `SHA-256("vellum/state-root/v1" || previous root || writes digest)`.
pub fn next_state_root(prev: &Hash, writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> Hash {
    let mut d = sha2::Sha256::default();
    use sha2::Digest;
    for (k, v) in writes {
        d.update((k.len() as u32).to_be_bytes());
        d.update(k);
        match v {
            Some(v) => {
                d.update([1]);
                d.update((v.len() as u32).to_be_bytes());
                d.update(v);
            }
            None => d.update([0]),
        }
    }
    let digest: Hash = d.finalize().into();
    sha256(&[b"vellum/state-root/v1", prev, &digest])
}

/// The genesis header of a chain.
pub fn genesis(chain_id: &str, timestamp_ms: u64) -> Header {
    Header {
        height: 0,
        prev_hash: [0; 32],
        timestamp_ms,
        tx_root: merkle::EMPTY_ROOT,
        receipt_root: merkle::EMPTY_ROOT,
        state_root: sha256(&[b"vellum/genesis/v1", chain_id.as_bytes()]),
        tx_count: 0,
    }
}

struct TxResult {
    success: bool,
    error: Option<String>,
    fuel_used: u64,
    output: Box<RawValue>,
    events: Vec<vellum_runtime::Event>,
    contract: Option<Address>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

fn null() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

fn failed(error: String, fuel_used: u64) -> TxResult {
    TxResult {
        success: false,
        error: Some(error),
        fuel_used,
        output: null(),
        events: Vec::new(),
        contract: None,
        writes: BTreeMap::new(),
    }
}

fn json_output(bytes: &[u8]) -> Result<Box<RawValue>, String> {
    if bytes.is_empty() {
        return Ok(null());
    }
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| "contract answer is not UTF-8".to_string())?;
    RawValue::from_string(text).map_err(|e| format!("contract answer is not JSON: {e}"))
}

/// Host faults stop the block; everything else is the transaction's failure.
fn host_fault(e: &RuntimeError) -> bool {
    matches!(
        e,
        RuntimeError::State(_) | RuntimeError::Engine(_) | RuntimeError::ExecutorGone
    )
}

/// Runs one contract call and turns its outcome into a transaction result.
fn call_contract(
    runtime: &Runtime,
    block: &Arc<BlockState>,
    code_hash: Hash,
    entry: EntryPoint,
    msg: &str,
    env: Env,
    fuel_limit: u64,
) -> Result<TxResult, String> {
    let contract = env.contract;
    let prefix = keys::storage_prefix(&contract);
    let view = Arc::new(ContractView {
        block: block.clone(),
        prefix: prefix.clone(),
    });
    let call = Call {
        code_hash: CodeHash(code_hash),
        entry,
        msg: msg.as_bytes().to_vec(),
        env,
        fuel_limit,
    };
    let outcome = match runtime.call(call, view) {
        Ok(o) => o,
        Err(e) if host_fault(&e) => return Err(e.to_string()),
        Err(e) => return Ok(failed(e.to_string(), 0)),
    };
    let success = match outcome.result {
        Ok(s) => s,
        Err(f) => return Ok(failed(f.to_string(), outcome.fuel_used)),
    };
    let output = match json_output(&success.output) {
        Ok(o) => o,
        Err(e) => return Ok(failed(e, outcome.fuel_used)),
    };
    let writes = success
        .writes
        .into_iter()
        .map(|w| ([prefix.as_slice(), &w.key].concat(), w.value))
        .collect();
    Ok(TxResult {
        success: true,
        error: None,
        fuel_used: outcome.fuel_used,
        output,
        events: success.events,
        contract: Some(contract),
        writes,
    })
}

/// Executes one transaction against the block state.
fn execute_tx(
    runtime: &Runtime,
    block: &Arc<BlockState>,
    ctx: &BlockContext,
    tx: &VerifiedTx,
    code_cache: &mut std::collections::HashMap<Address, Hash>,
) -> Result<TxResult, String> {
    let env = Env {
        contract: [0; 20],
        caller: tx.signer,
        block_height: ctx.height,
        block_time_ms: ctx.timestamp_ms,
        tx_hash: tx.hash,
    };
    match &tx.op {
        Op::Deploy(wasm) => {
            let fuel = (wasm.len() as u64).saturating_mul(DEPLOY_FUEL_PER_BYTE);
            if fuel > tx.fuel_limit {
                return Ok(failed(Failure::OutOfFuel.to_string(), tx.fuel_limit));
            }
            let hash = match runtime.deploy(wasm) {
                Ok(h) => h,
                Err(e) if host_fault(&e) => return Err(e.to_string()),
                Err(e) => return Ok(failed(e.to_string(), fuel)),
            };
            let mut writes = BTreeMap::new();
            let key = keys::code(&hash.0);
            if block.get(&key).map_err(|e| e.to_string())?.is_none() {
                writes.insert(key, Some(wasm.to_vec()));
            }
            let output = serde_json::value::to_raw_value(
                &serde_json::json!({ "code_hash": hash.to_string() }),
            )
            .map_err(|e| e.to_string())?;
            Ok(TxResult {
                success: true,
                error: None,
                fuel_used: fuel,
                output,
                events: Vec::new(),
                contract: None,
                writes,
            })
        }
        Op::Instantiate {
            code_hash,
            msg,
            label,
        } => {
            if block
                .get(&keys::code(code_hash))
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Ok(failed(
                    format!("no code with hash {}", hex::encode(code_hash)),
                    0,
                ));
            }
            let address = contract_address(&tx.signer, tx.nonce);
            let env = Env {
                contract: address,
                ..env
            };
            let mut result = call_contract(
                runtime,
                block,
                *code_hash,
                EntryPoint::Instantiate,
                msg,
                env,
                tx.fuel_limit,
            )?;
            if result.success {
                let meta = ContractMeta {
                    code_hash: hex::encode(code_hash),
                    creator: hex::encode(tx.signer),
                    label: label.clone(),
                    created_height: ctx.height,
                };
                let meta = serde_json::to_vec(&meta).map_err(|e| e.to_string())?;
                result.writes.insert(keys::contract(&address), Some(meta));
                result.output = serde_json::value::to_raw_value(
                    &serde_json::json!({ "contract": hex::encode(address) }),
                )
                .map_err(|e| e.to_string())?;
            }
            Ok(result)
        }
        Op::Execute { contract, msg } => {
            // Contract metadata never changes after instantiation: parse it once per block.
            let code_hash = match code_cache.get(contract) {
                Some(h) => *h,
                None => {
                    let Some(meta) = block
                        .get(&keys::contract(contract))
                        .map_err(|e| e.to_string())?
                    else {
                        return Ok(failed(
                            format!("no contract at {}", hex::encode(contract)),
                            0,
                        ));
                    };
                    let meta: ContractMeta = serde_json::from_slice(&meta)
                        .map_err(|e| format!("contract metadata: {e}"))?;
                    let h = crate::chain::parse_hex::<32>(&meta.code_hash)
                        .ok_or("contract metadata: code hash")?;
                    code_cache.insert(*contract, h);
                    h
                }
            };
            let env = Env {
                contract: *contract,
                ..env
            };
            call_contract(
                runtime,
                block,
                code_hash,
                EntryPoint::Execute,
                msg,
                env,
                tx.fuel_limit,
            )
        }
    }
}

/// Executes the ordered transactions of one block on top of `base`.
pub fn execute_block(
    runtime: &Runtime,
    base: Arc<dyn StateBase>,
    ctx: BlockContext,
    txs: &[VerifiedTx],
) -> Result<ExecutedBlock, ExecuteError> {
    let fault = |reason: String| ExecuteError {
        height: ctx.height,
        reason,
    };
    let mut block = Arc::new(BlockState {
        base,
        pending: BTreeMap::new(),
    });
    let mut receipts = Vec::with_capacity(txs.len());
    let mut batch = CommitBatch::default();
    let mut code_cache = std::collections::HashMap::new();
    for (index, tx) in txs.iter().enumerate() {
        let index = index as u32;
        let nonce_key = keys::nonce(&tx.signer);
        let committed_nonce = match block.get(&nonce_key).map_err(|e| fault(e.to_string()))? {
            Some(v) => u64::from_be_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| fault("corrupt nonce".into()))?,
            ),
            None => 0,
        };
        let result = if tx.nonce != committed_nonce {
            // The ordering stage only proposes transactions in nonce order; a proposal that
            // breaks it (a faulty or malicious leader, later) gets a failed receipt and consumes
            // nothing.
            failed(
                format!(
                    "nonce {} does not follow the account's nonce {committed_nonce}",
                    tx.nonce
                ),
                0,
            )
        } else {
            execute_tx(runtime, &block, &ctx, tx, &mut code_cache).map_err(fault)?
        };
        let pending = &mut Arc::get_mut(&mut block)
            .ok_or_else(|| fault("block state still shared after a call".into()))?
            .pending;
        if tx.nonce == committed_nonce {
            pending.insert(
                nonce_key,
                Some((committed_nonce + 1).to_be_bytes().to_vec()),
            );
        }
        let mut events = Vec::with_capacity(result.events.len());
        if result.success {
            pending.extend(result.writes);
            if let Some(contract) = result.contract {
                for (event_index, e) in result.events.iter().enumerate() {
                    for (k, v) in &e.attributes {
                        if k.len() <= INDEXED_ATTRIBUTE_BYTES_MAX
                            && v.len() <= INDEXED_ATTRIBUTE_BYTES_MAX
                        {
                            let prefix = keys::event_prefix(&contract, k, v);
                            batch.events.push((
                                keys::event(&prefix, ctx.height, index, event_index as u16),
                                tx.hash,
                            ));
                        }
                    }
                }
                events = result
                    .events
                    .into_iter()
                    .map(|e| ReceiptEvent {
                        contract: hex::encode(contract),
                        ty: e.ty,
                        attributes: Attributes(e.attributes),
                    })
                    .collect();
            }
        }
        let receipt = Receipt {
            tx_hash: hex::encode(tx.hash),
            block_height: ctx.height,
            index,
            signer: hex::encode(tx.signer),
            nonce: tx.nonce,
            success: result.success,
            error: result.error,
            fuel_used: result.fuel_used,
            events,
            output: result.output,
        };
        batch.txs.push((tx.hash, StoredTx::record(tx)));
        batch.receipts.push((tx.hash, receipt.encode()));
        receipts.push(receipt);
    }
    #[allow(unused_mut)]
    let mut pending = match Arc::try_unwrap(block) {
        Ok(b) => b.pending,
        Err(_) => return Err(fault("block state still shared".into())),
    };
    if crate::failpoints::fires("execute.diverge") {
        pending.insert(
            b"failpoint/execute.diverge".to_vec(),
            Some(ctx.height.to_be_bytes().to_vec()),
        );
    }
    let tx_hashes: Vec<Hash> = txs.iter().map(|t| t.hash).collect();
    let receipt_hashes: Vec<Hash> = batch.receipts.iter().map(|(_, r)| sha256(&[r])).collect();
    let header = Header {
        height: ctx.height,
        prev_hash: ctx.prev_hash,
        timestamp_ms: ctx.timestamp_ms,
        tx_root: merkle::root(&tx_hashes),
        receipt_root: merkle::root(&receipt_hashes),
        state_root: next_state_root(&ctx.prev_state_root, &pending),
        tx_count: txs.len() as u32,
    };
    batch.header = Some(header);
    batch.writes = Arc::new(pending);
    Ok(ExecutedBlock {
        header,
        receipts,
        batch,
    })
}
