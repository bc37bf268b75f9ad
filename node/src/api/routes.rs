//! The handlers and the request and response types of the wire (SPEC.md sections 2 to 4).
//! Each handler parses what the client sent, calls the ledger (on the blocking pool when the
//! call is CPU-bound or reads the store) and shapes the answer; nothing here decides anything
//! about the chain.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, OpenApi, ToSchema};
use vellum_runtime::Failure;

use super::{
    ApiError, ApiState, EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, ErrorBody,
    INLINE_VERIFY_PAYLOAD_BYTES_MAX,
};
use crate::chain::block::{Header, Receipt, ReceiptEvent};
use crate::chain::tx::{Envelope, Op};
use crate::chain::{Address, Hash, parse_hex};
use crate::execute::ContractMeta;
use crate::ledger::{LedgerError, QueryError};
use crate::limits::BATCH_TXS_MAX;
use crate::store::{Snapshot, keys};

// ---------------------------------------------------------------------------------------------
// Wire types.

/// `POST /v1/transactions` body (SPEC.md section 2). `Deserialize` only so that the schema
/// says what the node enforces: no field but these (`additionalProperties: false`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(as = Envelope)]
struct EnvelopeDoc {
    /// The exact JSON text of a payload, as signed.
    payload: String,
    /// Hex of the 33-byte compressed secp256k1 public key.
    #[schema(pattern = "^[0-9a-fA-F]{66}$")]
    public_key: String,
    /// Hex of the 64-byte low-S signature `r || s` over SHA-256 of the payload bytes.
    #[schema(pattern = "^[0-9a-fA-F]{128}$")]
    signature: String,
}

/// Query string of `POST /v1/transactions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubmitParams {
    /// Answer once the transaction is committed, with its receipt (200), instead of at
    /// admission (202).
    pub wait: Option<bool>,
}

/// `202` answer of `POST /v1/transactions`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TxSubmitted {
    /// Hex SHA-256 of the payload bytes.
    pub tx_hash: String,
}

/// `POST /v1/transactions/batch` body, for the OpenAPI document (`Deserialize` as for
/// [`EnvelopeDoc`]).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(as = BatchRequest)]
struct BatchRequestDoc {
    /// 1 to 1,024 envelopes, admitted in this order. The attribute takes a literal: it is
    /// [`BATCH_TXS_MAX`], which `tests/api.rs` checks against the served document.
    #[schema(min_items = 1, max_items = 1024)]
    transactions: Vec<EnvelopeDoc>,
}

/// `POST /v1/transactions/batch` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The envelopes, admitted in this order (so one account's nonces may follow each other).
    pub transactions: Vec<Envelope>,
}

/// One envelope's outcome in a [`BatchAnswer`].
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// Hex SHA-256 of the payload bytes (also for a refused envelope).
    pub tx_hash: String,
    /// `pending` (admitted), `committed` (with `?wait=true`, beside its receipt) or `refused`
    /// (beside the error that a single `POST /v1/transactions` would have answered). With
    /// `?wait=true` an admitted transaction not committed in time stays `pending`, with the
    /// `wait_timeout` or `not_committed` error.
    pub status: &'static str,
    /// The receipt, once committed (serialized as it is, not copied to text first).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "shared_receipt"
    )]
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<std::sync::Arc<Receipt>>,
    /// Why the envelope was refused, or why its commit was not seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<super::ErrorDetail>,
}

/// Serializes the receipt a waiter got (shared with the block's other waiters and the stream).
fn shared_receipt<S: serde::Serializer>(
    receipt: &Option<std::sync::Arc<Receipt>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    receipt.as_deref().serialize(serializer)
}

/// `200` answer of `POST /v1/transactions/batch`: one item per envelope, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    /// The outcomes, in the order of the request's envelopes.
    pub results: Vec<BatchItem>,
}

/// A receipt (SPEC.md section 3), for the OpenAPI document.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
#[schema(as = Receipt)]
struct ReceiptDoc {
    tx_hash: String,
    block_height: u64,
    /// Position in the block.
    index: u32,
    signer: String,
    nonce: u64,
    success: bool,
    error: Option<String>,
    fuel_used: u64,
    /// `[{"contract", "type", "attributes": {string: string}}]`.
    #[schema(value_type = Vec<Object>)]
    events: Vec<()>,
    /// deploy: `{"code_hash"}`; instantiate: `{"contract"}`; execute: the contract's answer.
    #[schema(value_type = Object)]
    output: (),
}

/// `GET /v1/transactions/{hash}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TxStatus {
    /// The hash asked for.
    pub tx_hash: String,
    /// `pending` or `committed`.
    pub status: &'static str,
    /// The receipt, once committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<Box<RawValue>>,
}

/// `GET /v1/contracts/{address}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractView {
    /// The contract's address.
    pub address: String,
    /// Hex SHA-256 of its code.
    pub code_hash: String,
    /// Address of the account that instantiated it.
    pub creator: String,
    /// The label given at instantiation.
    pub label: String,
    /// Height of the block that instantiated it.
    pub created_height: u64,
}

/// `GET /v1/accounts/{address}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// The account's address.
    pub address: String,
    /// The nonce its next transaction must carry.
    pub nonce: u64,
}

/// `GET /v1/blocks/{height}` and `/v1/blocks/latest`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockView {
    /// 0 is genesis.
    pub height: u64,
    /// Hex SHA-256 of the canonical header.
    pub hash: String,
    /// `hash` of the previous block (zeros for genesis).
    pub prev_hash: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Transaction hashes in block order.
    pub tx_hashes: Vec<String>,
    /// Commitment to all state after this block.
    pub state_root: String,
    /// Merkle root of the transaction hashes.
    pub tx_root: String,
    /// Merkle root of the receipt hashes.
    pub receipt_root: String,
    /// Number of transactions.
    pub tx_count: u32,
}

/// `GET /v1/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusView {
    /// The chain id transactions must carry.
    pub chain_id: String,
    /// Height of the latest committed block.
    pub height: u64,
    /// Its hash.
    pub latest_hash: String,
    /// Transactions admitted and not yet committed.
    pub mempool_txs: usize,
    /// On a cluster member: its role, the leader and the members (docs/cluster.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::ClusterStatus>,
}

/// `GET /v1/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// `ok`.
    pub status: &'static str,
}

/// Query string of `GET /v1/contracts/{address}/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Attribute key, e.g. `document_id`.
    pub key: String,
    /// Attribute value.
    pub value: String,
    /// The `cursor` of the last event already seen (from `next`).
    #[param(pattern = "^[0-9a-fA-F]{28}$")]
    pub after: Option<String>,
    /// Most events to return (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One event found in the index.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventItem {
    /// Transaction that emitted it.
    pub tx_hash: String,
    /// Block that committed it.
    pub block_height: u64,
    /// Position of the transaction in the block.
    pub tx_index: u32,
    /// Position of the event in the transaction's receipt.
    pub event_index: u16,
    /// Pass as `after` to continue after this event.
    pub cursor: String,
    /// `{"contract", "type", "attributes"}`.
    #[schema(value_type = Object)]
    pub event: ReceiptEvent,
}

/// A page of events, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    /// The events.
    pub events: Vec<EventItem>,
    /// The cursor of the next page, `null` when this is the last.
    pub next: Option<String>,
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Vellum node API",
        version = "1",
        description = "SPEC.md v1: transactions, receipts, contracts, accounts, blocks."
    ),
    paths(
        submit_transaction,
        submit_batch,
        get_transaction,
        get_contract,
        query_contract,
        contract_events,
        get_account,
        latest_block,
        get_block,
        status,
        health,
        openapi,
        metrics,
        super::stream::stream
    ),
    components(schemas(
        ErrorBody,
        EnvelopeDoc,
        BatchRequestDoc,
        BatchItem,
        BatchAnswer,
        ReceiptDoc,
        TxSubmitted,
        TxStatus,
        ContractView,
        AccountView,
        BlockView,
        StatusView,
        HealthView,
        EventItem,
        EventsPage,
        super::stream::Lagged
    ))
)]
pub struct ApiDoc;

// ---------------------------------------------------------------------------------------------
// Parsing helpers.

fn parse_address(s: &str) -> Result<Address, ApiError> {
    parse_hex(s).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_address",
            format!("`{s}` is not an address (40 hex characters)"),
        )
    })
}

fn parse_hash(s: &str) -> Result<Hash, ApiError> {
    parse_hex(s).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_hash",
            format!("`{s}` is not a transaction hash (64 hex characters)"),
        )
    })
}

fn snapshot(state: &ApiState) -> Result<Snapshot, ApiError> {
    state.ledger.snapshot().map_err(|e| match e {
        LedgerError::Halted(why) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "halted",
            format!(
                "the block pipeline stopped ({why}) before writing the latest acknowledged \
                 blocks into the store; they are in its journal and are served again once the \
                 node restarts"
            ),
        ),
        e => ApiError::internal(e),
    })
}

pub(super) fn block_view(header: &Header, tx_hashes: &[Hash]) -> BlockView {
    BlockView {
        height: header.height,
        hash: hex::encode(header.hash()),
        prev_hash: hex::encode(header.prev_hash),
        timestamp: header.timestamp_ms,
        tx_hashes: tx_hashes.iter().map(hex::encode).collect(),
        state_root: hex::encode(header.state_root),
        tx_root: hex::encode(header.tx_root),
        receipt_root: hex::encode(header.receipt_root),
        tx_count: header.tx_count,
    }
}

/// The `cursor` of an event: the suffix of its event-index key (height, transaction index and
/// event index, big-endian), in hex.
pub(super) fn event_cursor(height: u64, tx_index: u32, event_index: u16) -> String {
    let mut suffix = [0u8; 14];
    suffix[..8].copy_from_slice(&height.to_be_bytes());
    suffix[8..12].copy_from_slice(&tx_index.to_be_bytes());
    suffix[12..].copy_from_slice(&event_index.to_be_bytes());
    hex::encode(suffix)
}

fn block_at(state: &ApiState, height: u64) -> Result<BlockView, ApiError> {
    let snap = snapshot(state)?;
    let header = snap
        .header(height)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::not_found("block_not_found", format!("no block at height {height}"))
        })?;
    let txs = snap.block_tx_hashes(height).map_err(ApiError::internal)?;
    Ok(block_view(&header, &txs))
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/// Submits a signed transaction.
#[utoipa::path(post, path = "/v1/transactions", tag = "transactions",
    request_body = EnvelopeDoc, params(SubmitParams),
    responses(
        (status = 202, description = "admitted", body = TxSubmitted),
        (status = 200, description = "committed (with `?wait=true`)", body = ReceiptDoc),
        (status = 400, description = "malformed or invalid", body = ErrorBody),
        (status = 409, description = "stale or gapped nonce, duplicate", body = ErrorBody),
        (status = 413, description = "too large", body = ErrorBody),
        (status = 415, description = "the body is not sent as `application/json`", body = ErrorBody),
        (status = 503, description = "mempool full or shutting down", body = ErrorBody),
        (status = 504, description = "`?wait=true` and not committed in time", body = ErrorBody),
    ))]
pub async fn submit_transaction(
    State(state): State<ApiState>,
    params: Result<Query<SubmitParams>, QueryRejection>,
    body: Result<Json<Envelope>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    let Json(envelope) = body?;
    let submitted = if envelope.payload.len() <= INLINE_VERIFY_PAYLOAD_BYTES_MAX {
        // A small envelope's check (one signature, ~55 us) is cheaper than the hop to the
        // blocking pool and back; deploys still compile there.
        match state.ledger.verify(envelope) {
            Ok(tx) if !matches!(tx.op, Op::Deploy(_)) => {
                let hash = tx.hash;
                state.ledger.admit(tx).map(|r| (hash, r))
            }
            Ok(tx) => {
                let ledger = state.ledger.clone();
                state
                    .blocking(move || {
                        let hash = tx.hash;
                        ledger.admit(tx).map(|r| (hash, r))
                    })
                    .await?
            }
            Err(e) => Err(e),
        }
    } else {
        let ledger = state.ledger.clone();
        state.blocking(move || ledger.submit(envelope)).await?
    };
    let (hash, receiver) = match submitted {
        Ok(ok) => ok,
        Err(e) => {
            state.metrics.refused(e.code());
            return Err(e.into());
        }
    };
    state.metrics.txs_admitted.fetch_add(1, Ordering::Relaxed);
    let tx_hash = hex::encode(hash);
    if !params.wait.unwrap_or(false) {
        return Ok((StatusCode::ACCEPTED, Json(TxSubmitted { tx_hash })).into_response());
    }
    let wait = Duration::from_millis(state.config.wait_timeout_ms);
    match tokio::time::timeout(wait, receiver).await {
        Ok(Ok(receipt)) => Ok((StatusCode::OK, Json(&*receipt)).into_response()),
        Ok(Err(_)) => Err(not_committed(&tx_hash)),
        Err(_) => Err(wait_timeout(&tx_hash, state.config.wait_timeout_ms)),
    }
}

/// Submits up to [`BATCH_TXS_MAX`] signed transactions in one request (an extension of
/// SPEC.md: bulk ingestion, e.g. a registry importing its archive). Each envelope gets exactly
/// the checks and refusals of `POST /v1/transactions`, in order, and its own outcome in the
/// answer; one refused envelope does not refuse the others. The batch as a whole is refused
/// (4xx, SPEC error body) only when it is not a batch of envelopes: malformed, empty, too
/// large, or an envelope not of the wire's shape (see `docs/api.md`).
#[utoipa::path(post, path = "/v1/transactions/batch", tag = "transactions",
    request_body = BatchRequestDoc, params(SubmitParams),
    responses(
        (status = 200, description = "every envelope's outcome, in order", body = BatchAnswer),
        (status = 400, description = "malformed, or no envelope", body = ErrorBody),
        (status = 413, description = "more than 1,024 envelopes, or too many bytes", body = ErrorBody),
        (status = 415, description = "the body is not sent as `application/json`", body = ErrorBody),
        (status = 503, description = "shutting down", body = ErrorBody),
    ))]
pub async fn submit_batch(
    State(state): State<ApiState>,
    params: Result<Query<SubmitParams>, QueryRejection>,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> Result<Json<BatchAnswer>, ApiError> {
    let Query(params) = params?;
    let Json(BatchRequest { transactions }) = body?;
    if transactions.is_empty() {
        return Err(ApiError::bad_request(
            "empty_batch",
            format!(
                "the batch holds no transaction; send 1 to {BATCH_TXS_MAX} envelopes in `transactions`"
            ),
        ));
    }
    if transactions.len() > BATCH_TXS_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "the batch holds {} transactions; send at most {BATCH_TXS_MAX} per request",
                transactions.len()
            ),
        ));
    }
    // An envelope that is not even of the wire's shape (size, hex key and signature: what the
    // OpenAPI document states) makes the request not a batch of envelopes: refused whole, so a
    // client bug is not reported as a transaction-level refusal.
    for (i, envelope) in transactions.iter().enumerate() {
        if let Err(e) = envelope.decode_fields() {
            let e = ApiError::from(e);
            return Err(ApiError::new(
                e.status,
                e.code,
                format!("transaction {i} of the batch: {}", e.message),
            ));
        }
    }
    // One hop to the blocking pool for the whole batch: its signature checks (and any
    // deploy's compilation) are CPU-bound, and admission must follow the request's order.
    let ledger = state.ledger.clone();
    let admitted = state
        .blocking(move || {
            transactions
                .into_iter()
                .map(|envelope| {
                    let hash = crate::chain::sha256(&[envelope.payload.as_bytes()]);
                    let outcome = ledger.submit(envelope).map(|(_, receiver)| receiver);
                    (hash, outcome)
                })
                .collect::<Vec<_>>()
        })
        .await?;
    let wait = params.wait.unwrap_or(false);
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(state.config.wait_timeout_ms);
    let mut results = Vec::with_capacity(admitted.len());
    for (hash, outcome) in admitted {
        let tx_hash = hex::encode(hash);
        let (status, receipt, error) = match outcome {
            Err(e) => {
                state.metrics.refused(e.code());
                ("refused", None, Some(ApiError::from(e).detail()))
            }
            Ok(receiver) => {
                state.metrics.txs_admitted.fetch_add(1, Ordering::Relaxed);
                if !wait {
                    ("pending", None, None)
                } else {
                    match tokio::time::timeout_at(deadline, receiver).await {
                        Ok(Ok(receipt)) => ("committed", Some(receipt), None),
                        Ok(Err(_)) => ("pending", None, Some(not_committed(&tx_hash).detail())),
                        Err(_) => {
                            let e = wait_timeout(&tx_hash, state.config.wait_timeout_ms);
                            ("pending", None, Some(e.detail()))
                        }
                    }
                }
            }
        };
        results.push(BatchItem {
            tx_hash,
            status,
            receipt,
            error,
        });
    }
    Ok(Json(BatchAnswer { results }))
}

/// `?wait=true`: admitted, but the pipeline stopped before acknowledging the transaction.
fn not_committed(tx_hash: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_committed",
        format!(
            "transaction {tx_hash} was admitted but the block pipeline stopped before acknowledging it; \
             it may or may not be committed (a commit that failed may still have reached the disk): \
             GET /v1/transactions/{tx_hash} says which"
        ),
    )
}

/// `?wait=true`: admitted, but not committed within the wait.
fn wait_timeout(tx_hash: &str, wait_timeout_ms: u64) -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "wait_timeout",
        format!(
            "transaction {tx_hash} was admitted but not committed within {wait_timeout_ms} ms; poll GET /v1/transactions/{tx_hash}"
        ),
    )
}

/// A transaction's status, with its receipt once committed.
#[utoipa::path(get, path = "/v1/transactions/{hash}", tag = "transactions",
    params(("hash" = String, Path, description = "hex SHA-256 of the payload", pattern = "^[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, body = TxStatus),
        (status = 400, body = ErrorBody),
        (status = 404, description = "unknown transaction", body = ErrorBody),
    ))]
pub async fn get_transaction(
    State(state): State<ApiState>,
    Path(hash): Path<String>,
) -> Result<Json<TxStatus>, ApiError> {
    let hash = parse_hash(&hash)?;
    let s = state.clone();
    state
        .blocking(move || {
            let committed = || -> Result<Option<TxStatus>, ApiError> {
                let Some(bytes) = snapshot(&s)?.receipt(&hash).map_err(ApiError::internal)? else {
                    return Ok(None);
                };
                let text = String::from_utf8(bytes).map_err(ApiError::internal)?;
                let receipt = RawValue::from_string(text).map_err(ApiError::internal)?;
                Ok(Some(TxStatus {
                    tx_hash: hex::encode(hash),
                    status: "committed",
                    receipt: Some(receipt),
                }))
            };
            if let Some(found) = committed()? {
                return Ok(Json(found));
            }
            if s.ledger.is_pending(&hash) {
                return Ok(Json(TxStatus {
                    tx_hash: hex::encode(hash),
                    status: "pending",
                    receipt: None,
                }));
            }
            // It may have been committed between the two looks: the mempool forgets a
            // transaction only after its block is durable.
            match committed()? {
                Some(found) => Ok(Json(found)),
                None => Err(ApiError::not_found(
                    "transaction_not_found",
                    format!(
                        "no transaction {} is pending or committed",
                        hex::encode(hash)
                    ),
                )),
            }
        })
        .await?
}

/// A contract's metadata.
#[utoipa::path(get, path = "/v1/contracts/{address}", tag = "contracts",
    params(("address" = String, Path, description = "contract address, 40 hex characters", pattern = "^[0-9a-fA-F]{40}$")),
    responses(
        (status = 200, body = ContractView),
        (status = 400, body = ErrorBody),
        (status = 404, description = "no contract there", body = ErrorBody),
    ))]
pub async fn get_contract(
    State(state): State<ApiState>,
    Path(address): Path<String>,
) -> Result<Json<ContractView>, ApiError> {
    let address = parse_address(&address)?;
    let s = state.clone();
    state
        .blocking(move || {
            let bytes = snapshot(&s)?
                .get(&keys::contract(&address))
                .map_err(ApiError::internal)?
                .ok_or_else(|| contract_not_found(&address))?;
            let meta: ContractMeta = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
            Ok(Json(ContractView {
                address: hex::encode(address),
                code_hash: meta.code_hash,
                creator: meta.creator,
                label: meta.label,
                created_height: meta.created_height,
            }))
        })
        .await?
}

fn contract_not_found(address: &Address) -> ApiError {
    ApiError::not_found(
        "contract_not_found",
        format!("no contract at {}", hex::encode(address)),
    )
}

/// Runs a read-only query; the body is the contract's query message.
#[utoipa::path(post, path = "/v1/contracts/{address}/query", tag = "contracts",
    params(("address" = String, Path, description = "contract address", pattern = "^[0-9a-fA-F]{40}$")),
    request_body(content = Object, description = "the query message, e.g. `{\"document\": {\"document_id\": \"d1\"}}`"),
    responses(
        (status = 200, description = "the contract's JSON answer", body = Object),
        (status = 400, description = "the contract refused the query (`contract_error`) or failed (`query_failed`)", body = ErrorBody),
        (status = 404, description = "no contract there", body = ErrorBody),
        (status = 413, description = "too large", body = ErrorBody),
        (status = 415, description = "the body is not sent as `application/json`", body = ErrorBody),
    ))]
pub async fn query_contract(
    State(state): State<ApiState>,
    Path(address): Path<String>,
    body: Result<Json<Box<RawValue>>, JsonRejection>,
) -> Result<Response, ApiError> {
    let address = parse_address(&address)?;
    let Json(msg) = body?;
    let ledger = state.ledger.clone();
    let outcome = state
        .blocking(move || ledger.query(&address, msg.get().as_bytes()))
        .await?
        .map_err(ApiError::internal)?;
    let outcome = match outcome {
        Ok(o) => o,
        Err(QueryError::UnknownContract) => return Err(contract_not_found(&address)),
        Err(e @ QueryError::TooLarge(_)) => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                e.to_string(),
            ));
        }
    };
    match outcome.result {
        Ok(success) => {
            let output = if success.output.is_empty() {
                b"null".to_vec()
            } else {
                success.output
            };
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                output,
            )
                .into_response())
        }
        Err(Failure::ContractError(message)) => {
            Err(ApiError::bad_request("contract_error", message))
        }
        Err(other) => Err(ApiError::bad_request("query_failed", other.to_string())),
    }
}

/// Events of a contract with a given attribute, from the event index, oldest first.
#[utoipa::path(get, path = "/v1/contracts/{address}/events", tag = "contracts",
    params(("address" = String, Path, description = "contract address", pattern = "^[0-9a-fA-F]{40}$"), EventsParams),
    responses(
        (status = 200, body = EventsPage),
        (status = 400, body = ErrorBody),
        (status = 404, description = "no contract there", body = ErrorBody),
    ))]
pub async fn contract_events(
    State(state): State<ApiState>,
    Path(address): Path<String>,
    params: Result<Query<EventsParams>, QueryRejection>,
) -> Result<Json<EventsPage>, ApiError> {
    let address = parse_address(&address)?;
    let Query(params) = params?;
    let limit = params.limit.unwrap_or(EVENTS_PAGE_DEFAULT);
    if limit == 0 || limit > EVENTS_PAGE_MAX {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {EVENTS_PAGE_MAX}"),
        ));
    }
    let prefix = keys::event_prefix(&address, &params.key, &params.value);
    let start_after = match &params.after {
        None => None,
        Some(c) => {
            let suffix: [u8; 14] = parse_hex(c).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_cursor",
                    "`after` must be a `cursor` from an earlier page (28 hex characters)",
                )
            })?;
            Some([prefix.as_slice(), &suffix].concat())
        }
    };
    let s = state.clone();
    state
        .blocking(move || {
            let snap = snapshot(&s)?;
            if snap
                .get(&keys::contract(&address))
                .map_err(ApiError::internal)?
                .is_none()
            {
                return Err(contract_not_found(&address));
            }
            let mut found = snap
                .events(&prefix, start_after.as_deref(), limit + 1)
                .map_err(ApiError::internal)?;
            let more = found.len() > limit;
            found.truncate(limit);
            let mut receipts: Option<(Hash, Receipt)> = None;
            let mut events = Vec::with_capacity(found.len());
            for (key, tx_hash) in found {
                let suffix = key.get(prefix.len()..).unwrap_or_default();
                let (Some(height), Some(tx_index), Some(event_index)) = (
                    suffix
                        .get(0..8)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_be_bytes),
                    suffix
                        .get(8..12)
                        .and_then(|b| b.try_into().ok())
                        .map(u32::from_be_bytes),
                    suffix
                        .get(12..14)
                        .and_then(|b| b.try_into().ok())
                        .map(u16::from_be_bytes),
                ) else {
                    return Err(ApiError::internal("event index key of the wrong length"));
                };
                // Consecutive events often come from one transaction: parse its receipt once.
                // The index key holds the transaction's position, so the receipt is read by
                // position directly rather than through the hash index (one B-tree lookup
                // instead of two on a chain of a million transactions).
                if receipts.as_ref().is_none_or(|(h, _)| *h != tx_hash) {
                    let bytes = snap
                        .receipt_at(height, tx_index)
                        .map_err(ApiError::internal)?
                        .ok_or_else(|| ApiError::internal("indexed event without a receipt"))?;
                    let receipt: Receipt =
                        serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
                    if receipt.tx_hash != hex::encode(tx_hash) {
                        return Err(ApiError::internal(
                            "event index entry and receipt disagree on the transaction",
                        ));
                    }
                    receipts = Some((tx_hash, receipt));
                }
                let event = receipts
                    .as_ref()
                    .and_then(|(_, r)| r.events.get(usize::from(event_index)))
                    .cloned()
                    .ok_or_else(|| ApiError::internal("indexed event missing from its receipt"))?;
                events.push(EventItem {
                    tx_hash: hex::encode(tx_hash),
                    block_height: height,
                    tx_index,
                    event_index,
                    cursor: event_cursor(height, tx_index, event_index),
                    event,
                });
            }
            let next = if more {
                events.last().map(|e| e.cursor.clone())
            } else {
                None
            };
            Ok(Json(EventsPage { events, next }))
        })
        .await?
}

/// An account's next nonce.
#[utoipa::path(get, path = "/v1/accounts/{address}", tag = "accounts",
    params(("address" = String, Path, description = "account address, 40 hex characters", pattern = "^[0-9a-fA-F]{40}$")),
    responses((status = 200, body = AccountView), (status = 400, body = ErrorBody)))]
pub async fn get_account(
    State(state): State<ApiState>,
    Path(address): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    let address = parse_address(&address)?;
    let ledger = state.ledger.clone();
    let nonce = state
        .blocking(move || ledger.next_nonce(&address))
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(AccountView {
        address: hex::encode(address),
        nonce,
    }))
}

/// The latest committed block.
#[utoipa::path(get, path = "/v1/blocks/latest", tag = "blocks",
    responses((status = 200, body = BlockView)))]
pub async fn latest_block(State(state): State<ApiState>) -> Result<Json<BlockView>, ApiError> {
    let s = state.clone();
    state
        .blocking(move || {
            let (tip, _) = s.ledger.tip();
            block_at(&s, tip.height).map(Json)
        })
        .await?
}

/// A block by height (0 is genesis).
#[utoipa::path(get, path = "/v1/blocks/{height}", tag = "blocks",
    params(("height" = u64, Path, description = "block height")),
    responses(
        (status = 200, body = BlockView),
        (status = 400, body = ErrorBody),
        (status = 404, description = "no block at that height yet", body = ErrorBody),
    ))]
pub async fn get_block(
    State(state): State<ApiState>,
    Path(height): Path<String>,
) -> Result<Json<BlockView>, ApiError> {
    let height: u64 = height.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_height",
            format!("`{height}` is not a block height (a non-negative integer, or `latest`)"),
        )
    })?;
    let s = state.clone();
    state
        .blocking(move || block_at(&s, height).map(Json))
        .await?
}

/// The chain id and the latest block.
#[utoipa::path(get, path = "/v1/status", tag = "node",
    responses((status = 200, body = StatusView)))]
pub async fn status(State(state): State<ApiState>) -> Json<StatusView> {
    let (tip, hash) = state.ledger.tip();
    Json(StatusView {
        chain_id: state.ledger.chain_id().to_string(),
        height: tip.height,
        latest_hash: hex::encode(hash),
        mempool_txs: state.ledger.mempool_len(),
        cluster: state.cluster.as_ref().map(|c| c.status()),
    })
}

/// Liveness: 200 while the block pipeline runs, 503 once it has stopped.
#[utoipa::path(get, path = "/v1/health", tag = "node",
    responses((status = 200, body = HealthView), (status = 503, body = ErrorBody)))]
pub async fn health(State(state): State<ApiState>) -> Result<Json<HealthView>, ApiError> {
    match state.ledger.halted() {
        None => Ok(Json(HealthView { status: "ok" })),
        Some(why) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "halted",
            format!("the block pipeline has stopped: {why}"),
        )),
    }
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "node",
    responses((status = 200, description = "OpenAPI 3 document", body = Object)))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<ApiState>) -> Response {
    let ledger = state.ledger.metrics();
    let m = &state.metrics;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    metric(
        "vellum_txs_admitted_total",
        "counter",
        "Transactions admitted to the mempool.",
        &[(String::new(), m.txs_admitted.load(Ordering::Relaxed))],
    );
    let refused: Vec<(String, u64)> = m
        .txs_refused
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(code, n)| (format!("{{reason=\"{code}\"}}"), *n))
        .collect();
    metric(
        "vellum_txs_refused_total",
        "counter",
        "Transactions refused at submission, by reason.",
        &refused,
    );
    metric(
        "vellum_txs_committed_total",
        "counter",
        "Transactions committed in blocks.",
        &[(String::new(), ledger.txs_committed.load(Ordering::Relaxed))],
    );
    metric(
        "vellum_blocks_committed_total",
        "counter",
        "Blocks committed since the node started.",
        &[(
            String::new(),
            ledger.blocks_committed.load(Ordering::Relaxed),
        )],
    );
    metric(
        "vellum_block_height",
        "gauge",
        "Height of the latest committed block.",
        &[(String::new(), state.ledger.tip().0.height)],
    );
    metric(
        "vellum_mempool_txs",
        "gauge",
        "Transactions admitted and not yet committed.",
        &[(String::new(), state.ledger.mempool_len() as u64)],
    );
    let runtime = state.ledger.runtime().metrics();
    metric(
        "vellum_contract_compilations_total",
        "counter",
        "Contract modules compiled from wasm since the node started (a restart with an intact module cache compiles none).",
        &[(String::new(), runtime.compilations.load(Ordering::Relaxed))],
    );
    metric(
        "vellum_module_disk_loads_total",
        "counter",
        "Contract modules loaded from the on-disk module cache since the node started.",
        &[(String::new(), runtime.disk_loads.load(Ordering::Relaxed))],
    );
    metric(
        "vellum_http_requests_shed_total",
        "counter",
        "Requests refused with 503 because too many were in flight.",
        &[(String::new(), m.requests_shed.load(Ordering::Relaxed))],
    );
    metric(
        "vellum_http_requests_timed_out_total",
        "counter",
        "Requests that hit the request timeout.",
        &[(String::new(), m.requests_timed_out.load(Ordering::Relaxed))],
    );
    metric(
        "vellum_store_commits_total",
        "counter",
        "Durable redb transactions that wrote acknowledged blocks (each holds one or more).",
        &[(
            String::new(),
            ledger.store_commits_total.load(Ordering::Relaxed),
        )],
    );
    let _ = writeln!(
        out,
        "# HELP vellum_tx_verify_seconds CPU time spent verifying envelopes (signature, payload, chain id).\n\
         # TYPE vellum_tx_verify_seconds summary\n\
         vellum_tx_verify_seconds_sum {}\n\
         vellum_tx_verify_seconds_count {}",
        ledger.verify_nanos_total.load(Ordering::Relaxed) as f64 / 1e9,
        ledger.verified_total.load(Ordering::Relaxed)
    );
    for (stage, micros) in [
        ("execute", &ledger.execute_micros_total),
        ("write", &ledger.write_micros_total),
        ("apply", &ledger.apply_micros_total),
    ] {
        let _ = writeln!(
            out,
            "# HELP vellum_block_{stage}_seconds_total Time spent in the block pipeline's {stage} stage.\n\
             # TYPE vellum_block_{stage}_seconds_total counter\n\
             vellum_block_{stage}_seconds_total {}",
            micros.load(Ordering::Relaxed) as f64 / 1e6
        );
    }
    ledger.journal_flush.render(
        &mut out,
        "vellum_journal_flush_seconds",
        "Time to append and flush a block's journal record (a single node acknowledges after it).",
    );
    ledger.store_commit.render(
        &mut out,
        "vellum_store_commit_seconds",
        "Time of each durable redb transaction that writes acknowledged blocks.",
    );
    // Commit latency as a Prometheus summary without quantiles: rate(sum) / rate(count) is the
    // mean latency of a block's execution and durable commit.
    let micros = ledger.commit_micros_total.load(Ordering::Relaxed);
    let blocks = ledger.blocks_committed.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "# HELP vellum_block_commit_seconds Time to execute and durably commit a block.\n\
         # TYPE vellum_block_commit_seconds summary\n\
         vellum_block_commit_seconds_sum {}\n\
         vellum_block_commit_seconds_count {blocks}",
        micros as f64 / 1e6
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
