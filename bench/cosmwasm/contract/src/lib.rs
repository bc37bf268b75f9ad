//! The VM shoot-out's contract logic against cosmwasm-std: the twin of `contracts/bench` (the
//! Vellum SDK version); keep the two in step. cosmwasm-std 2 offers no SHA-256 import, so the
//! `store` entry hashes in the guest, like the Vellum contract's `store_guest_hash`.

use cosmwasm_std::{
    Binary, Deps, DepsMut, Env, MessageInfo, Response, StdError, StdResult, entry_point,
    to_json_binary,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Deserialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecuteMsg {
    /// Hash `data` and store the digest under `id`.
    Store { id: String, data: String },
    /// `rounds` chained SHA-256 computations in the guest, starting from 32 zero bytes.
    Heavy { rounds: u32 },
    /// `n` reads of a key that is never written.
    Reads { n: u32 },
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QueryMsg {
    /// The stored digest of `id`, as hex.
    Digest { id: String },
}

#[derive(Deserialize, Debug)]
pub struct InstantiateMsg {}

fn key(id: &str) -> Vec<u8> {
    // The same layout as the Vellum SDK's map entries: u16 BE namespace length, namespace, key.
    let mut k = vec![0, 1, b'd'];
    k.extend_from_slice(id.as_bytes());
    k
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

#[entry_point]
pub fn instantiate(
    _deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    _msg: InstantiateMsg,
) -> StdResult<Response> {
    Ok(Response::new())
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
pub fn execute(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    msg: ExecuteMsg,
) -> StdResult<Response> {
    let answer = match msg {
        ExecuteMsg::Store { id, data } => {
            let digest: [u8; 32] = Sha256::digest(data.as_bytes()).into();
            deps.storage.set(&key(&id), &digest);
            hex(&digest)
        }
        ExecuteMsg::Heavy { rounds } => hex(&heavy(rounds)),
        ExecuteMsg::Reads { n } => {
            let mut found = 0u32;
            for _ in 0..n {
                found += u32::from(deps.storage.get(b"absent").is_some());
            }
            found.to_string()
        }
    };
    Ok(Response::new().set_data(to_json_binary(&answer)?))
}

#[entry_point]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Digest { id } => {
            let digest = deps
                .storage
                .get(&key(&id))
                .ok_or_else(|| StdError::not_found(id))?;
            to_json_binary(&hex(&digest))
        }
    }
}
