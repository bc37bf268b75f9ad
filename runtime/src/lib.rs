//! The Vellum contract runtime: a deterministic, metered wasmtime sandbox.
//!
//! A contract is deployed once ([`Runtime::deploy`] validates and compiles it) and then called
//! any number of times ([`Runtime::call`]); every call gets a fresh instance from a cached
//! `InstancePre` in the pooling allocator, a fuel budget, and a view of its storage through the
//! [`StateView`] trait that the node implements. A call returns an [`Outcome`]: the fuel it used
//! and either its output, events and writes, or a typed [`Failure`]. A failed call leaves no
//! writes. The runtime knows nothing of HTTP, redb or blocks.
//!
//! ```
//! use std::sync::Arc;
//! use vellum_runtime::{Call, EntryPoint, Env, Failure, MemoryState, Runtime, RuntimeConfig};
//!
//! // A contract whose `execute` loops forever: it ends in a typed failure, not a hang.
//! let wasm = wat::parse_str(r#"(module
//!     (memory (export "memory") 1)
//!     (func (export "vellum_abi_v1"))
//!     (func (export "instantiate") (result i32) i32.const 0)
//!     (func (export "execute") (result i32) (loop br 0) i32.const 0)
//!     (func (export "query") (result i32) i32.const 0))"#).unwrap();
//! let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
//! let code_hash = runtime.deploy(&wasm).unwrap();
//! let call = Call { code_hash, entry: EntryPoint::Execute, msg: b"{}".to_vec(),
//!                   env: Env::default(), fuel_limit: 100_000 };
//! let outcome = runtime.call(call, Arc::new(MemoryState::default())).unwrap();
//! assert_eq!(outcome.result, Err(Failure::OutOfFuel));
//! assert_eq!(outcome.fuel_used, 100_000);
//! ```

mod engine;
mod error;
mod executor;
mod host;
pub mod limits;
mod outcome;
mod state;
mod validate;

pub use engine::{ALLOWED_FEATURES, ModuleSource};
pub use error::{RuntimeError, StateError, ValidationError};
pub use executor::{
    Call, EntryPoint, Env, Runtime, RuntimeConfig, RuntimeMetrics, spawn_exec_thread,
};
pub use outcome::{Event, Failure, Outcome, Success, Write};
pub use state::{BackingScan, Entries, MemoryState, StateView, merge_scan};
pub use validate::validate;

/// SHA-256 of a contract's wasm bytes: its identity everywhere.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CodeHash(pub [u8; 32]);

impl CodeHash {
    /// Hashes wasm bytes.
    pub fn of(wasm: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(wasm).into())
    }
}

impl std::fmt::Display for CodeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeHash({self})")
    }
}
