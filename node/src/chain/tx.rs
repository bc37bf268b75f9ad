//! Transactions (SPEC.md section 2): the signed envelope, the payload, and their verification.
//!
//! Verification is in two parts. [`verify_envelope`] is stateless (hex and JSON shapes, the
//! public key, the low-S signature over the exact payload bytes, the chain id, the signer, the
//! fuel limit) and runs in parallel on all cores. The nonce check needs the account's state and
//! happens in the mempool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use k256::ecdsa::{Signature, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Address, Hash, address_of_key, parse_hex, sha256};
use crate::limits::{FUEL_DEFAULT, FUEL_MAX, KEY_CACHE_MAX, LABEL_BYTES_MAX, TX_BYTES_MAX};

/// What a client sends: the payload as the exact JSON text that was signed, the compressed
/// public key and the signature, both in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The exact JSON text of a [`Payload`].
    pub payload: String,
    /// Hex of the 33-byte compressed SEC1 public key.
    pub public_key: String,
    /// Hex of the 64-byte signature `r || s`.
    pub signature: String,
}

/// Bytes of a compressed SEC1 public key.
pub const PUBLIC_KEY_BYTES: usize = 33;
/// Bytes of a signature `r || s`.
pub const SIGNATURE_BYTES: usize = 64;

impl Envelope {
    /// Bytes the envelope occupies as received (its three fields), checked against
    /// [`TX_BYTES_MAX`] and counted by the mempool and the block bound.
    pub fn size(&self) -> usize {
        self.payload.len() + self.public_key.len() + self.signature.len()
    }

    /// Checks the size and decodes the key and signature hex: the first steps of both
    /// [`verify_envelope`] and [`decode_verified`], and the wire-shape check of a batch.
    pub fn decode_fields(
        &self,
    ) -> Result<([u8; PUBLIC_KEY_BYTES], [u8; SIGNATURE_BYTES]), TxError> {
        let size = self.size();
        if size > TX_BYTES_MAX {
            return Err(TxError::TooLarge(size));
        }
        let public_key = parse_hex(&self.public_key).ok_or_else(|| {
            TxError::InvalidPublicKey(
                "expected 66 hex characters (33-byte compressed SEC1 key)".into(),
            )
        })?;
        let signature = parse_hex(&self.signature).ok_or_else(|| {
            TxError::InvalidSignature("expected 128 hex characters (64-byte r || s)".into())
        })?;
        Ok((public_key, signature))
    }
}

/// The signed content of a transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// Must equal the node's chain id.
    pub chain_id: String,
    /// Address of the public key, hex.
    pub signer: String,
    /// The account's next nonce.
    pub nonce: u64,
    /// Fuel the transaction may use; the node's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_limit: Option<u64>,
    /// What to do.
    pub action: Action,
}

/// The three kinds of transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Stores contract code; the receipt's output is `{"code_hash"}`.
    Deploy {
        /// The wasm module, base64.
        code: String,
    },
    /// Creates a contract instance; the receipt's output is `{"contract"}`.
    Instantiate {
        /// Hex SHA-256 of deployed code.
        code_hash: String,
        /// The instantiate message, passed to the contract byte for byte.
        msg: Box<RawValue>,
        /// A human label.
        #[serde(default)]
        label: String,
    },
    /// Calls a contract; the receipt's output is the contract's answer.
    Execute {
        /// The contract's address, hex.
        contract: String,
        /// The execute message, passed to the contract byte for byte.
        msg: Box<RawValue>,
    },
}

/// A parsed action with its fields decoded.
#[derive(Debug, Clone)]
pub enum Op {
    /// Deploy this wasm.
    Deploy(Arc<Vec<u8>>),
    /// Instantiate.
    Instantiate {
        /// Code to instantiate.
        code_hash: Hash,
        /// JSON message text.
        msg: Arc<str>,
        /// Label.
        label: String,
    },
    /// Execute.
    Execute {
        /// Contract to call.
        contract: Address,
        /// JSON message text.
        msg: Arc<str>,
    },
}

/// A transaction whose envelope has been verified (everything but the nonce).
#[derive(Debug, Clone)]
pub struct VerifiedTx {
    /// SHA-256 of the payload bytes.
    pub hash: Hash,
    /// The envelope as received (stored as is).
    pub envelope: Arc<Envelope>,
    /// The signer's address.
    pub signer: Address,
    /// The envelope's public key, decoded (compressed SEC1).
    pub public_key: [u8; PUBLIC_KEY_BYTES],
    /// The envelope's signature, decoded (`r || s`).
    pub signature: [u8; SIGNATURE_BYTES],
    /// The payload's nonce.
    pub nonce: u64,
    /// The effective fuel limit.
    pub fuel_limit: u64,
    /// The decoded action.
    pub op: Op,
}

impl VerifiedTx {
    /// Bytes this transaction occupies in the mempool and in a block.
    pub fn size(&self) -> usize {
        self.envelope.size()
    }
}

/// Why a transaction was refused. Each variant has a stable snake_case code for the SPEC error
/// body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// The envelope or payload is not what SPEC.md describes.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// The transaction is larger than the node accepts.
    #[error("transaction is {0} bytes, the limit is {TX_BYTES_MAX}")]
    TooLarge(usize),
    /// The public key is not a valid 33-byte compressed secp256k1 key.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(String),
    /// The signature does not verify over the payload bytes with the public key.
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    /// The signature's `s` is in the upper half of the group order (a malleable twin).
    #[error("signature is not low-S (malleable); normalise s before sending")]
    HighS,
    /// The payload's chain id is not the node's.
    #[error("wrong chain: this node is `{expected}`, the transaction is for `{got}`")]
    WrongChain {
        /// The node's chain id.
        expected: String,
        /// The payload's.
        got: String,
    },
    /// `signer` is not the address of `public_key`.
    #[error("signer {signer} is not the address of the public key ({actual})")]
    SignerMismatch {
        /// As stated in the payload.
        signer: String,
        /// The key's address.
        actual: String,
    },
    /// The fuel limit is above the node's maximum.
    #[error("fuel limit {0} exceeds the maximum {FUEL_MAX}")]
    FuelLimit(u64),
    /// The code of a deploy is not a valid contract.
    #[error("invalid contract code: {0}")]
    InvalidCode(String),
    /// The nonce was already used (stale, duplicate or a replay).
    #[error("nonce {got} is already used; the account's next nonce is {expected}")]
    StaleNonce {
        /// The account's next nonce.
        expected: u64,
        /// The payload's.
        got: u64,
    },
    /// The nonce skips ahead of the account's next nonce.
    #[error("nonce {got} leaves a gap; the account's next nonce is {expected}")]
    NonceGap {
        /// The account's next nonce.
        expected: u64,
        /// The payload's.
        got: u64,
    },
    /// This exact transaction is already pending or committed.
    #[error("transaction {0} is already known")]
    Duplicate(String),
    /// The mempool is full; try again later.
    #[error("the mempool is full ({0}); retry later")]
    MempoolFull(&'static str),
    /// The node is shutting down.
    #[error("the node is shutting down")]
    ShuttingDown,
}

impl TxError {
    /// The stable error code of SPEC.md section 4.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_transaction",
            Self::TooLarge(_) => "payload_too_large",
            Self::InvalidPublicKey(_) => "invalid_public_key",
            Self::InvalidSignature(_) => "invalid_signature",
            Self::HighS => "malleable_signature",
            Self::WrongChain { .. } => "wrong_chain",
            Self::SignerMismatch { .. } => "signer_mismatch",
            Self::FuelLimit(_) => "fuel_limit_too_high",
            Self::InvalidCode(_) => "invalid_code",
            Self::StaleNonce { .. } => "stale_nonce",
            Self::NonceGap { .. } => "nonce_gap",
            Self::Duplicate(_) => "duplicate_transaction",
            Self::MempoolFull(_) => "mempool_full",
            Self::ShuttingDown => "shutting_down",
        }
    }
}

/// Parsed public keys by their compressed bytes: SEC1 decompression costs more than a tenth of a
/// verification, and accounts send many transactions.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<[u8; 33], secp256k1::PublicKey>>,
}

impl KeyCache {
    fn get(&self, bytes: &[u8; 33]) -> Result<secp256k1::PublicKey, TxError> {
        if let Some(k) = self.keys.lock().ok().and_then(|m| m.get(bytes).copied()) {
            return Ok(k);
        }
        // Only the compressed form (tag 0x02 or 0x03) is a valid 33-byte key on the wire.
        if !matches!(bytes[0], 0x02 | 0x03) {
            return Err(TxError::InvalidPublicKey(
                "not a compressed SEC1 key (tag 0x02 or 0x03)".into(),
            ));
        }
        let key = secp256k1::PublicKey::from_byte_array_compressed(*bytes).map_err(|_| {
            TxError::InvalidPublicKey("not the x coordinate of a point on secp256k1".into())
        })?;
        if let Ok(mut m) = self.keys.lock() {
            if m.len() >= KEY_CACHE_MAX {
                m.clear();
            }
            m.insert(*bytes, key);
        }
        Ok(key)
    }
}

/// The signature check of SPEC.md section 2: ECDSA over secp256k1 with SHA-256 of `message`,
/// `r || s` with `s` in the lower half of the group order, by a 33-byte compressed key.
///
/// The check runs on libsecp256k1 (the `secp256k1` crate, Bitcoin Core's library): it verifies
/// in about half the time of k256 on this machine (docs/performance.md), and signature checks
/// are most of a transaction's cost. It accepts exactly what k256 accepts: `r` and `s` in
/// `1..n`, `s <= n/2`, a valid curve point; `node/tests/properties.rs` checks the two agree on
/// valid, mutated and high-S signatures, and the Wycheproof vectors pass through this function.
/// Keys, signing and addresses stay on k256.
pub fn verify_signature(
    public_key: &[u8; 33],
    message: &[u8],
    signature: &[u8; 64],
    keys: &KeyCache,
) -> Result<(), TxError> {
    // k256 parses r and s as scalars in 1..n; libsecp256k1's compact parser refuses only values
    // of n or more (and fails zeros at verification): refuse zeros here, with the parse error.
    if signature[..32].iter().all(|b| *b == 0) || signature[32..].iter().all(|b| *b == 0) {
        return Err(TxError::InvalidSignature(
            "r and s must be in 1..n (the group order)".into(),
        ));
    }
    let parsed = secp256k1::ecdsa::Signature::from_compact(signature).map_err(|_| {
        TxError::InvalidSignature("r and s must be in 1..n (the group order)".into())
    })?;
    let mut low = parsed;
    low.normalize_s();
    if low.serialize_compact() != *signature {
        return Err(TxError::HighS);
    }
    let key = keys.get(public_key)?;
    secp256k1::ecdsa::verify(
        &parsed,
        secp256k1::Message::from_digest(sha256(&[message])),
        &key,
    )
    .map_err(|_| TxError::InvalidSignature("does not verify over the payload bytes".into()))
}

/// The exact payload text a client signs (serde_json's serialisation of [`Payload`]).
pub fn payload_json(
    chain_id: &str,
    signer: &Address,
    nonce: u64,
    fuel_limit: Option<u64>,
    action: &Action,
) -> String {
    let payload = Payload {
        chain_id: chain_id.into(),
        signer: hex::encode(signer),
        nonce,
        fuel_limit,
        action: action.clone(),
    };
    // Strings, integers and raw JSON always serialise.
    serde_json::to_string(&payload).unwrap_or_default()
}

/// Verifies everything about an envelope that does not depend on state.
pub fn verify_envelope(
    envelope: Envelope,
    chain_id: &str,
    keys: &KeyCache,
) -> Result<VerifiedTx, TxError> {
    let (public_key, signature) = envelope.decode_fields()?;
    verify_signature(&public_key, envelope.payload.as_bytes(), &signature, keys)?;
    decode_checked(envelope, chain_id, public_key, signature)
}

/// Decodes an envelope that a cluster member already verified, skipping only the signature
/// check (the expensive part): a follower applying the leader's batch uses it, trusting its
/// members as the crash-fault model says (docs/cluster.md). Every other check still runs.
pub fn decode_verified(envelope: Envelope, chain_id: &str) -> Result<VerifiedTx, TxError> {
    let (public_key, signature) = envelope.decode_fields()?;
    decode_checked(envelope, chain_id, public_key, signature)
}

/// Everything [`verify_envelope`] checks after the signature.
fn decode_checked(
    envelope: Envelope,
    chain_id: &str,
    public_key: [u8; PUBLIC_KEY_BYTES],
    signature: [u8; SIGNATURE_BYTES],
) -> Result<VerifiedTx, TxError> {
    let payload: Payload = serde_json::from_str(&envelope.payload)
        .map_err(|e| TxError::Malformed(format!("payload: {e}")))?;
    if payload.chain_id != chain_id {
        return Err(TxError::WrongChain {
            expected: chain_id.into(),
            got: payload.chain_id,
        });
    }
    let signer = address_of_key(&public_key);
    if parse_hex::<20>(&payload.signer) != Some(signer) {
        return Err(TxError::SignerMismatch {
            signer: payload.signer,
            actual: hex::encode(signer),
        });
    }
    let fuel_limit = payload.fuel_limit.unwrap_or(FUEL_DEFAULT);
    if fuel_limit > FUEL_MAX {
        return Err(TxError::FuelLimit(fuel_limit));
    }
    let op = match payload.action {
        Action::Deploy { code } => {
            let wasm = base64::engine::general_purpose::STANDARD
                .decode(code.as_bytes())
                .map_err(|e| TxError::Malformed(format!("code is not base64: {e}")))?;
            vellum_runtime::validate(&wasm).map_err(|e| TxError::InvalidCode(e.to_string()))?;
            Op::Deploy(Arc::new(wasm))
        }
        Action::Instantiate {
            code_hash,
            msg,
            label,
        } => {
            if label.len() > LABEL_BYTES_MAX {
                return Err(TxError::Malformed(format!(
                    "label is longer than {LABEL_BYTES_MAX} bytes"
                )));
            }
            let code_hash = parse_hex(&code_hash)
                .ok_or_else(|| TxError::Malformed("code_hash must be 64 hex characters".into()))?;
            Op::Instantiate {
                code_hash,
                msg: Arc::from(msg.get()),
                label,
            }
        }
        Action::Execute { contract, msg } => {
            let contract = parse_hex(&contract)
                .ok_or_else(|| TxError::Malformed("contract must be 40 hex characters".into()))?;
            Op::Execute {
                contract,
                msg: Arc::from(msg.get()),
            }
        }
    };
    Ok(VerifiedTx {
        hash: sha256(&[envelope.payload.as_bytes()]),
        envelope: Arc::new(envelope),
        signer,
        public_key,
        signature,
        nonce: payload.nonce,
        fuel_limit,
        op,
    })
}

/// Signs `payload` (the exact text) with `key`: what clients do.
pub fn sign(payload: &str, key: &SigningKey) -> Envelope {
    use k256::ecdsa::signature::Signer;
    let signature: Signature = key.sign(payload.as_bytes());
    Envelope {
        payload: payload.to_string(),
        public_key: hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
        signature: hex::encode(signature.to_bytes()),
    }
}

/// The address of a signing key.
pub fn address_of_signing_key(key: &SigningKey) -> Address {
    address_of_key(key.verifying_key().to_sec1_point(true).as_bytes())
}
