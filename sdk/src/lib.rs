//! The Vellum contract SDK: what a contract author touches.
//!
//! A contract is a `cdylib` crate with three entry points marked [`entry_point`], JSON messages
//! described by serde types, state kept in typed [`storage`] items and maps, and [`Event`]s for
//! everything worth indexing. It is built for `wasm32-unknown-unknown` and tested on the real
//! runtime with the `vellum-testing` harness.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use vellum_sdk::{Ctx, Event, entry_point, storage::Item};
//!
//! const COUNT: Item<u64> = Item::new("count");
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! pub enum ExecuteMsg { Increment {} }
//!
//! #[entry_point]
//! pub fn instantiate(_ctx: &mut Ctx, _msg: serde_json::Value) -> Result<(), String> {
//!     COUNT.save(&0).map_err(|e| e.to_string())
//! }
//!
//! #[entry_point]
//! pub fn execute(ctx: &mut Ctx, msg: ExecuteMsg) -> Result<u64, vellum_sdk::StdError> {
//!     match msg {
//!         ExecuteMsg::Increment {} => {
//!             let n = COUNT.may_load()?.unwrap_or(0) + 1;
//!             COUNT.save(&n)?;
//!             ctx.emit(Event::new("increment").attr("count", n.to_string()));
//!             Ok(n)
//!         }
//!     }
//! }
//!
//! #[entry_point]
//! pub fn query(_ctx: &Ctx, _msg: serde_json::Value) -> Result<u64, vellum_sdk::StdError> {
//!     COUNT.load()
//! }
//! ```

extern crate alloc;

mod address;
#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
mod allocator;
mod imports;
mod ops;
pub mod storage;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use address::Address;
pub use vellum_sdk_macros::entry_point;

/// What a call knows about its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// The account that signed the transaction (all zeros in queries).
    pub caller: Address,
    /// This contract's address.
    pub contract: Address,
    /// Height of the block being executed (the latest committed one in queries).
    pub block_height: u64,
    /// The block's timestamp in milliseconds since the Unix epoch.
    pub block_time_ms: u64,
    /// Hash of the running transaction (all zeros in queries).
    pub tx_hash: [u8; 32],
}

impl Env {
    /// The transaction hash as lowercase hex, as clients see it.
    pub fn tx_hash_hex(&self) -> String {
        hex_encode(&self.tx_hash)
    }
}

/// The handle an entry point receives: its [`Env`] and the ability to emit events.
#[derive(Debug)]
pub struct Ctx {
    /// The call's context.
    pub env: Env,
}

impl Ctx {
    fn load() -> Self {
        Self {
            env: Env {
                caller: Address(ops::caller()),
                contract: Address(ops::contract_address()),
                block_height: ops::block_height(),
                block_time_ms: ops::block_time_ms(),
                tx_hash: ops::tx_hash(),
            },
        }
    }

    /// Emits an event. Events of a failed call are discarded; in a query this aborts the call.
    pub fn emit(&mut self, event: Event) {
        ops::event_emit(&event);
    }

    /// Writes a line to the node's debug log (never part of consensus).
    pub fn debug(&self, msg: &str) {
        ops::debug_log(msg);
    }
}

/// An event: a type and string attributes. Attribute keys must be unique and non-empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event type, e.g. `access`.
    pub ty: String,
    /// The attributes, in order.
    pub attributes: Vec<(String, String)>,
}

impl Event {
    /// An event of type `ty` with no attributes.
    pub fn new(ty: impl Into<String>) -> Self {
        Self {
            ty: ty.into(),
            attributes: Vec::new(),
        }
    }

    /// Adds an attribute.
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((key.into(), value.into()));
        self
    }
}

/// Errors of the SDK itself (storage and serialisation). Contracts usually wrap it in their own
/// error type; its message reaches the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StdError {
    /// A value that must exist does not.
    NotFound(String),
    /// A stored value could not be (de)serialised.
    Serialization(String),
}

impl fmt::Display for StdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(what) => write!(f, "{what} not found"),
            Self::Serialization(e) => write!(f, "serialization: {e}"),
        }
    }
}

impl core::error::Error for StdError {}

/// SHA-256 computed by the host (much cheaper than in wasm).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    ops::sha256(data)
}

/// Verifies a secp256k1 ECDSA signature (`r || s`, low-S) over a 32-byte digest with a SEC1
/// public key, on the host.
pub fn secp256k1_verify(digest: &[u8; 32], signature: &[u8; 64], public_key: &[u8]) -> bool {
    ops::secp256k1_verify(digest, signature, public_key)
}

/// Lowercase hex of `bytes`.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Decodes exactly `N` bytes of hex (either case). `None` for any other input.
pub fn hex_decode<const N: usize>(s: &str) -> Option<[u8; N]> {
    let bytes = s.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Glue used by the code `#[entry_point]` generates. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    use super::*;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    fn finish<R: Serialize, E: fmt::Display>(result: Result<R, E>) -> i32 {
        match result {
            Ok(answer) => match serde_json::to_vec(&answer) {
                Ok(out) => {
                    ops::output_write(&out);
                    vellum_abi::ReturnCode::Ok as i32
                }
                Err(e) => fail(&alloc::format!("could not serialise the answer: {e}")),
            },
            Err(e) => fail(&alloc::format!("{e}")),
        }
    }

    fn fail(msg: &str) -> i32 {
        ops::output_write(msg.as_bytes());
        vellum_abi::ReturnCode::Error as i32
    }

    fn input<M: DeserializeOwned>() -> Result<M, i32> {
        ops::install_panic_hook();
        serde_json::from_slice(&ops::input())
            .map_err(|e| fail(&alloc::format!("invalid message: {e}")))
    }

    /// Runs `instantiate` or `execute`.
    pub fn run_mut<M, R, E>(f: fn(&mut Ctx, M) -> Result<R, E>) -> i32
    where
        M: DeserializeOwned,
        R: Serialize,
        E: fmt::Display,
    {
        match input::<M>() {
            Ok(msg) => finish(f(&mut Ctx::load(), msg)),
            Err(code) => code,
        }
    }

    /// Runs `query`.
    pub fn run_query<M, R, E>(f: fn(&Ctx, M) -> Result<R, E>) -> i32
    where
        M: DeserializeOwned,
        R: Serialize,
        E: fmt::Display,
    {
        match input::<M>() {
            Ok(msg) => finish(f(&Ctx::load(), msg)),
            Err(code) => code,
        }
    }
}

/// Declares that this contract speaks ABI v1 (`vellum_abi::ABI_VERSION_EXPORT`): deploy checks it.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn vellum_abi_v1() {}
