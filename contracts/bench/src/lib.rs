//! The VM shoot-out's contract logic on the Vellum SDK. The same logic is written against
//! cosmwasm-std in `bench/cosmwasm/contract`; keep the two in step (see `bench/README.md`).
//!
//! - `store`: the "small" contract of issue 5: a 256-byte JSON message is parsed, its `data`
//!   is hashed with SHA-256 by the host, and the digest is written once under the `id`.
//! - `store_guest_hash`: the same, hashing inside the guest with pure-Rust SHA-256, which is
//!   what the CosmWasm version must do (cosmwasm-std 2 has no SHA-256 import).
//! - `heavy`: `rounds` iterations of SHA-256 over the previous digest, computed in wasm.
//! - `reads`: `n` storage reads of an absent key: `(reads n) - (reads 0)` over `n` is the cost
//!   of one host-function call as a contract sees it.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use vellum_sdk::storage::{Item, Map};
use vellum_sdk::{Ctx, StdError, entry_point, hex_encode};

const DIGESTS: Map<String, [u8; 32]> = Map::new("d");
const ABSENT: Item<u8> = Item::new("absent");

/// Execute messages.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecuteMsg {
    /// Hash `data` on the host and store the digest under `id`.
    Store { id: String, data: String },
    /// Hash `data` in the guest and store the digest under `id`.
    StoreGuestHash { id: String, data: String },
    /// `rounds` chained SHA-256 computations in the guest, starting from 32 zero bytes.
    Heavy { rounds: u32 },
    /// `n` reads of a key that is never written.
    Reads { n: u32 },
}

/// Query messages.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QueryMsg {
    /// The stored digest of `id`, as hex.
    Digest { id: String },
}

#[entry_point]
pub fn instantiate(_ctx: &mut Ctx, _msg: serde_json::Value) -> Result<(), StdError> {
    Ok(())
}

/// Chained SHA-256 in pure Rust: the compute-heavy workload.
pub fn heavy(rounds: u32) -> [u8; 32] {
    let mut h = [0u8; 32];
    for _ in 0..rounds {
        h = Sha256::digest(h).into();
    }
    h
}

#[entry_point]
pub fn execute(_ctx: &mut Ctx, msg: ExecuteMsg) -> Result<String, StdError> {
    match msg {
        ExecuteMsg::Store { id, data } => {
            let digest = vellum_sdk::sha256(data.as_bytes());
            DIGESTS.save(&id, &digest)?;
            Ok(hex_encode(&digest))
        }
        ExecuteMsg::StoreGuestHash { id, data } => {
            let digest: [u8; 32] = Sha256::digest(data.as_bytes()).into();
            DIGESTS.save(&id, &digest)?;
            Ok(hex_encode(&digest))
        }
        ExecuteMsg::Heavy { rounds } => Ok(hex_encode(&heavy(rounds))),
        ExecuteMsg::Reads { n } => {
            let mut found = 0u32;
            for _ in 0..n {
                found += u32::from(ABSENT.may_load()?.is_some());
            }
            Ok(found.to_string())
        }
    }
}

#[entry_point]
pub fn query(_ctx: &Ctx, msg: QueryMsg) -> Result<String, StdError> {
    match msg {
        QueryMsg::Digest { id } => Ok(hex_encode(&DIGESTS.load(&id)?)),
    }
}
