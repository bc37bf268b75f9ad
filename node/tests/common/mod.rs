//! Helpers shared by the node's integration tests: keys, signed transactions, the custody wasm.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use k256::ecdsa::SigningKey;
use serde_json::value::RawValue;
use vellum_node::chain::tx::{Action, Envelope, address_of_signing_key, payload_json, sign};
use vellum_node::chain::{Address, sha256};

pub const CHAIN: &str = "vellum-test";

pub fn key(seed: &str) -> SigningKey {
    SigningKey::from_slice(&sha256(&[seed.as_bytes()])).unwrap()
}

pub fn addr(key: &SigningKey) -> Address {
    address_of_signing_key(key)
}

pub fn raw(json: serde_json::Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(&json).unwrap()
}

pub fn signed(key: &SigningKey, nonce: u64, action: Action) -> Envelope {
    sign(&payload_json(CHAIN, &addr(key), nonce, None, &action), key)
}

pub fn custody_wasm() -> Vec<u8> {
    vellum_testing::build_contract(concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/custody"))
        .unwrap()
}

pub fn deploy(wasm: &[u8]) -> Action {
    use base64::Engine as _;
    Action::Deploy {
        code: base64::engine::general_purpose::STANDARD.encode(wasm),
    }
}

pub fn execute(contract: &Address, msg: serde_json::Value) -> Action {
    Action::Execute {
        contract: hex::encode(contract),
        msg: raw(msg),
    }
}
