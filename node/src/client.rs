//! A typed, blocking HTTP client for a Vellum node (SPEC.md), with the signing helpers a
//! client needs. The CLI and the end-to-end tests use it.
//!
//! ```no_run
//! use vellum_node::client::Client;
//! let client = Client::new("http://127.0.0.1:8080").unwrap();
//! let key = vellum_node::client::generate_key().unwrap();
//! let receipt = client
//!     .execute(&key, "0123456789abcdef0123456789abcdef01234567",
//!              &serde_json::json!({"register": {"document_id": "d1", "sha256": "ab".repeat(32)}}))
//!     .unwrap();
//! assert!(receipt.success);
//! ```
//!
//! Blocking, because its users (a CLI, tests, scripts) are sequential; it must not be called
//! from inside an async runtime (reqwest's blocking client refuses that).

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use k256::ecdsa::SigningKey;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::chain::block::{Receipt, ReceiptEvent};
use crate::chain::tx::{Action, Envelope, address_of_signing_key, payload_json, sign};

/// How long one HTTP call may take, in ms: above the node's `?wait=true` bound.
pub const CLIENT_TIMEOUT_MS: u64 = 60_000;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The node answered with a SPEC.md section 4 error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error's snake_case code.
        code: String,
        /// The node's message.
        message: String,
    },
    /// The node could not be reached or the exchange broke off.
    #[error("cannot reach the node at {url}: {reason}; is `vellum node` running there?")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The answer was not what SPEC.md describes.
    #[error("unexpected answer from {url}: {reason}")]
    Decode {
        /// The URL called.
        url: String,
        /// What did not fit.
        reason: String,
    },
    /// A local problem (key generation, bad input).
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// The error code, when the node gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    /// The chain id.
    pub chain_id: String,
    /// Latest height.
    pub height: u64,
    /// Latest block hash.
    pub latest_hash: String,
    /// Transactions admitted and waiting for a block (not those in a block being made).
    /// Required: a test waits on it, and a missing field must fail, not read as empty.
    pub mempool_txs: usize,
}

/// `GET /v1/blocks/{height}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Block {
    /// Height.
    pub height: u64,
    /// Hash.
    pub hash: String,
    /// Previous block's hash.
    pub prev_hash: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Transaction hashes.
    pub tx_hashes: Vec<String>,
    /// State root.
    pub state_root: String,
}

/// `GET /v1/contracts/{address}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ContractInfo {
    /// Address.
    pub address: String,
    /// Code hash.
    pub code_hash: String,
    /// Creator.
    pub creator: String,
    /// Label.
    pub label: String,
}

/// `GET /v1/transactions/{hash}`.
#[derive(Debug, Clone, Deserialize)]
pub struct TxInfo {
    /// The hash.
    pub tx_hash: String,
    /// `pending` or `committed`.
    pub status: String,
    /// The receipt once committed.
    pub receipt: Option<Receipt>,
}

/// One item of `GET /v1/contracts/{address}/events`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventItem {
    /// Emitting transaction.
    pub tx_hash: String,
    /// Its block.
    pub block_height: u64,
    /// Paging cursor.
    pub cursor: String,
    /// The event.
    pub event: ReceiptEvent,
}

/// A page of events.
#[derive(Debug, Clone, Deserialize)]
pub struct EventsPage {
    /// Events, oldest first.
    pub events: Vec<EventItem>,
    /// Cursor of the next page.
    pub next: Option<String>,
}

/// One envelope's outcome in `POST /v1/transactions/batch`.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchItem {
    /// The envelope's transaction hash.
    pub tx_hash: String,
    /// `pending` (admitted), `committed` (waited for, with the receipt) or `refused`.
    pub status: String,
    /// The receipt, when committed.
    pub receipt: Option<Receipt>,
    /// Why it was refused, or why its commit was not seen in time.
    pub error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<BatchItem>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

/// The `error` part of a SPEC.md section 4 error body.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDetail {
    /// The snake_case code.
    pub code: String,
    /// The node's message.
    pub message: String,
}

#[derive(Deserialize)]
struct Submitted {
    tx_hash: String,
}

#[derive(Deserialize)]
struct Account {
    nonce: u64,
}

/// A node's HTTP API.
#[derive(Debug)]
pub struct Client {
    base: String,
    http: reqwest::blocking::Client,
    chain_id: OnceLock<String>,
}

impl Client {
    /// A client for the node at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_millis(CLIENT_TIMEOUT_MS))
            .build()
            .map_err(|e| ClientError::Local(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            http,
            chain_id: OnceLock::new(),
        })
    }

    /// The node's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<T, ClientError> {
        let response = request.send().map_err(|e| ClientError::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let status = response.status();
        let bytes = response.bytes().map_err(|e| ClientError::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => ClientError::Api {
                    status: status.as_u16(),
                    code: b.error.code,
                    message: b.error.message,
                },
                Err(_) => ClientError::Decode {
                    url: url.to_string(),
                    reason: format!("HTTP {status} without the SPEC error body"),
                },
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url: url.to_string(),
            reason: e.to_string(),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        self.call(self.http.get(&url), &url)
    }

    fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        self.call(self.http.post(&url).json(body), &url)
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<Status, ClientError> {
        self.get("/v1/status")
    }

    /// The node's chain id (asked once, then remembered).
    pub fn chain_id(&self) -> Result<String, ClientError> {
        if let Some(c) = self.chain_id.get() {
            return Ok(c.clone());
        }
        let id = self.status()?.chain_id;
        Ok(self.chain_id.get_or_init(|| id).clone())
    }

    /// The nonce the account's next transaction must carry.
    pub fn next_nonce(&self, address: &str) -> Result<u64, ClientError> {
        Ok(self
            .get::<Account>(&format!("/v1/accounts/{address}"))?
            .nonce)
    }

    /// Submits an envelope; returns its hash once admitted.
    pub fn submit(&self, envelope: &Envelope) -> Result<String, ClientError> {
        Ok(self
            .post::<Submitted>("/v1/transactions", envelope)?
            .tx_hash)
    }

    /// Submits an envelope and waits for its receipt.
    pub fn submit_wait(&self, envelope: &Envelope) -> Result<Receipt, ClientError> {
        self.post("/v1/transactions?wait=true", envelope)
    }

    /// Submits envelopes in one request (`POST /v1/transactions/batch`, at most
    /// [`crate::limits::BATCH_TXS_MAX`]): one outcome per envelope, in order. With `wait`, the
    /// answer comes once every admitted transaction is committed (or the node's wait ends).
    pub fn submit_batch(
        &self,
        envelopes: &[Envelope],
        wait: bool,
    ) -> Result<Vec<BatchItem>, ClientError> {
        let path = if wait {
            "/v1/transactions/batch?wait=true"
        } else {
            "/v1/transactions/batch"
        };
        let answer: BatchAnswer =
            self.post(path, &serde_json::json!({ "transactions": envelopes }))?;
        if answer.results.len() != envelopes.len() {
            return Err(ClientError::Decode {
                url: format!("{}{path}", self.base),
                reason: format!(
                    "{} outcomes for {} envelopes",
                    answer.results.len(),
                    envelopes.len()
                ),
            });
        }
        Ok(answer.results)
    }

    /// `GET /v1/transactions/{hash}`.
    pub fn transaction(&self, hash: &str) -> Result<TxInfo, ClientError> {
        self.get(&format!("/v1/transactions/{hash}"))
    }

    /// `GET /v1/contracts/{address}`.
    pub fn contract(&self, address: &str) -> Result<ContractInfo, ClientError> {
        self.get(&format!("/v1/contracts/{address}"))
    }

    /// Runs a read-only query.
    pub fn query(&self, contract: &str, msg: &Value) -> Result<Value, ClientError> {
        self.post(&format!("/v1/contracts/{contract}/query"), msg)
    }

    /// `GET /v1/blocks/{height}`.
    pub fn block(&self, height: u64) -> Result<Block, ClientError> {
        self.get(&format!("/v1/blocks/{height}"))
    }

    /// `GET /v1/blocks/latest`.
    pub fn latest_block(&self) -> Result<Block, ClientError> {
        self.get("/v1/blocks/latest")
    }

    /// One page of a contract's events with attribute `key` = `value`.
    pub fn events(
        &self,
        contract: &str,
        key: &str,
        value: &str,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<EventsPage, ClientError> {
        let url = format!("{}/v1/contracts/{contract}/events", self.base);
        let mut query: Vec<(&str, String)> = vec![("key", key.into()), ("value", value.into())];
        if let Some(a) = after {
            query.push(("after", a.into()));
        }
        if let Some(l) = limit {
            query.push(("limit", l.to_string()));
        }
        self.call(self.http.get(&url).query(&query), &url)
    }

    /// Signs `action` for `key` with the node's chain id and the account's next nonce.
    pub fn sign_action(
        &self,
        key: &SigningKey,
        action: &Action,
        fuel_limit: Option<u64>,
    ) -> Result<Envelope, ClientError> {
        let signer = address_of_signing_key(key);
        let nonce = self.next_nonce(&hex::encode(signer))?;
        let payload = payload_json(&self.chain_id()?, &signer, nonce, fuel_limit, action);
        Ok(sign(&payload, key))
    }

    /// Signs, submits and waits for the receipt of `action`.
    pub fn transact(&self, key: &SigningKey, action: &Action) -> Result<Receipt, ClientError> {
        self.submit_wait(&self.sign_action(key, action, None)?)
    }

    /// Deploys wasm; the receipt's output is `{"code_hash"}`.
    pub fn deploy(&self, key: &SigningKey, wasm: &[u8]) -> Result<Receipt, ClientError> {
        let code = base64::engine::general_purpose::STANDARD.encode(wasm);
        self.transact(key, &Action::Deploy { code })
    }

    /// Instantiates code; the receipt's output is `{"contract"}`.
    pub fn instantiate(
        &self,
        key: &SigningKey,
        code_hash: &str,
        msg: &Value,
        label: &str,
    ) -> Result<Receipt, ClientError> {
        let action = Action::Instantiate {
            code_hash: code_hash.into(),
            msg: raw(msg)?,
            label: label.into(),
        };
        self.transact(key, &action)
    }

    /// Calls a contract; the receipt's output is its answer.
    pub fn execute(
        &self,
        key: &SigningKey,
        contract: &str,
        msg: &Value,
    ) -> Result<Receipt, ClientError> {
        let action = Action::Execute {
            contract: contract.into(),
            msg: raw(msg)?,
        };
        self.transact(key, &action)
    }
}

fn raw(msg: &Value) -> Result<Box<serde_json::value::RawValue>, ClientError> {
    serde_json::value::to_raw_value(msg).map_err(|e| ClientError::Local(format!("message: {e}")))
}

/// A receipt's output as JSON (`null` if it does not parse, which a node never sends).
pub fn output(receipt: &Receipt) -> Value {
    serde_json::from_str(receipt.output.get()).unwrap_or(Value::Null)
}

/// A fresh random signing key from the operating system's generator.
pub fn generate_key() -> Result<SigningKey, ClientError> {
    // A uniformly random 32-byte string is a valid scalar except with negligible probability;
    // retry rather than assume.
    for _ in 0..16 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| ClientError::Local(format!("randomness: {e}")))?;
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
    Err(ClientError::Local("could not generate a valid key".into()))
}

/// The address of a key, as hex.
pub fn address_hex(key: &SigningKey) -> String {
    hex::encode(address_of_signing_key(key))
}
