//! The Vellum contract ABI, defined once.
//!
//! Both sides of the wasm boundary are generated from this crate: the runtime's linker registers
//! exactly the functions of [`for_each_host_function!`], and the SDK declares its imports from the
//! same table. A test in the runtime checks that the linker registers this set and nothing else.
//! `docs/abi.md` is the prose version of this file.
//!
//! ```
//! use vellum_abi::{HOST_FUNCTIONS, ValType};
//! let read = HOST_FUNCTIONS.iter().find(|f| f.name == "storage_read").unwrap();
//! assert_eq!(read.params, &[ValType::I32, ValType::I32, ValType::I32, ValType::I32]);
//! assert_eq!(read.results, &[ValType::I64]);
//! ```
#![no_std]

extern crate alloc;

pub mod codec;
pub mod limits;

/// Version of this ABI. A contract declares the version it was built for by exporting a function
/// named [`ABI_VERSION_EXPORT`]; deploy refuses a module that does not.
pub const ABI_VERSION: u32 = 1;

/// Name of the (empty) function a contract exports to declare that it speaks [`ABI_VERSION`].
pub const ABI_VERSION_EXPORT: &str = "vellum_abi_v1";

/// Every host function is imported from this module name.
pub const IMPORT_MODULE: &str = "vellum";

/// Name of the linear memory every contract must export.
pub const MEMORY_EXPORT: &str = "memory";

/// The entry points a contract exports, each of type `() -> i32` returning a [`ReturnCode`].
/// The message is pulled with `input_len`/`input_read`; the answer is pushed with `output_write`.
pub const ENTRY_POINTS: [&str; 3] = [ENTRY_INSTANTIATE, ENTRY_EXECUTE, ENTRY_QUERY];
/// Runs once when a contract instance is created, with the instantiate message.
pub const ENTRY_INSTANTIATE: &str = "instantiate";
/// Runs for every execute transaction.
pub const ENTRY_EXECUTE: &str = "execute";
/// Answers a read-only query; storage writes, removals and events are refused.
pub const ENTRY_QUERY: &str = "query";

/// What an entry point returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ReturnCode {
    /// Success: the output (if any) is the JSON answer.
    Ok = 0,
    /// The contract refused the message: the output is a UTF-8 error message for the caller.
    /// All writes and events of the call are discarded.
    Error = 1,
}

impl ReturnCode {
    /// Decodes a raw return value; any other value is an invalid return.
    pub fn from_raw(raw: i32) -> Option<Self> {
        match raw {
            0 => Some(Self::Ok),
            1 => Some(Self::Error),
            _ => None,
        }
    }
}

/// `storage_read` returns this when the key is absent.
pub const STORAGE_ABSENT: i64 = -1;

/// Wasm value types used by the ABI (only 32- and 64-bit integers cross it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    /// `i32`; in Rust `u32` (pointers and lengths) or `i32`.
    I32,
    /// `i64`; in Rust `u64` or `i64`.
    I64,
}

/// One host function as the table declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFunction {
    /// Import name (module [`IMPORT_MODULE`]).
    pub name: &'static str,
    /// Parameter types in order.
    pub params: &'static [ValType],
    /// Result types (zero or one).
    pub results: &'static [ValType],
    /// Fuel charged for every call, before any work.
    pub fuel_base: u64,
    /// Fuel charged per byte the call reads from or writes to guest memory or storage.
    pub fuel_per_byte: u64,
}

/// Maps an ABI Rust type to its wasm value type (used by [`for_each_host_function!`] users).
#[doc(hidden)]
#[macro_export]
macro_rules! __valtype {
    (u32) => {
        $crate::ValType::I32
    };
    (i32) => {
        $crate::ValType::I32
    };
    (u64) => {
        $crate::ValType::I64
    };
    (i64) => {
        $crate::ValType::I64
    };
}

/// The host-function table. Calls `$callback!` with every host function in the form
///
/// ```text
/// /// docs
/// fn name(arg: ty, ...) -> ret; fuel(base, per_byte);
/// ```
///
/// where every type is `u32`, `u64`, `i32` or `i64`. Pointers and lengths are `u32` offsets into
/// the guest's exported memory. Every pointer/length pair is bounds-checked by the host; a bad
/// one traps the call with an "invalid host call" failure.
#[macro_export]
macro_rules! for_each_host_function {
    ($callback:path) => {
        $callback! {
            /// Length in bytes of the message of this call (JSON).
            fn input_len() -> u32; fuel(50, 0);
            /// Copies the whole message to `dst` (which must have room for `input_len()` bytes).
            fn input_read(dst: u32); fuel(50, 1);
            /// Sets the call's answer (JSON on success, a UTF-8 message on error). A later call
            /// replaces an earlier one. At most `limits::OUTPUT_BYTES_MAX` bytes.
            fn output_write(src: u32, len: u32); fuel(100, 1);
            /// Reads `key`. Returns `STORAGE_ABSENT` (-1) if absent, else the value's length; the
            /// value is copied to `dst` only when it fits in `dst_cap` (call again with a larger
            /// buffer otherwise).
            fn storage_read(key: u32, key_len: u32, dst: u32, dst_cap: u32) -> i64; fuel(1_000, 1);
            /// Writes `key = value`. Refused in queries.
            fn storage_write(key: u32, key_len: u32, value: u32, value_len: u32); fuel(2_000, 10);
            /// Removes `key` (absent keys are fine). Refused in queries.
            fn storage_remove(key: u32, key_len: u32); fuel(1_000, 1);
            /// Ordered scan of keys in `[start, end)` (`end_len == 0` means no upper bound), at
            /// most `limit` entries (capped by `limits::SCAN_ENTRIES_MAX`). Returns the encoded
            /// length (see `codec::decode_scan`); the entries are copied to `dst` only when they
            /// fit in `dst_cap`. Sees the call's own writes.
            fn storage_scan(start: u32, start_len: u32, end: u32, end_len: u32, limit: u32, dst: u32, dst_cap: u32) -> i64; fuel(1_000, 1);
            /// Writes the 20-byte address of the account that signed the transaction (zeros in
            /// queries).
            fn caller(dst: u32); fuel(50, 0);
            /// Writes the 20-byte address of the running contract.
            fn contract_address(dst: u32); fuel(50, 0);
            /// Height of the block being executed (the latest committed height in queries).
            fn block_height() -> u64; fuel(50, 0);
            /// Block timestamp in milliseconds since the Unix epoch, set by the block's ordering.
            fn block_time_ms() -> u64; fuel(50, 0);
            /// Writes the 32-byte hash of the running transaction (zeros in queries).
            fn tx_hash(dst: u32); fuel(50, 0);
            /// Emits an event encoded with `codec::encode_event`. Refused in queries.
            fn event_emit(src: u32, len: u32); fuel(500, 2);
            /// Writes SHA-256 of `src[..len]` (32 bytes) to `dst`.
            fn sha256(src: u32, len: u32, dst: u32); fuel(200, 1);
            /// Verifies a secp256k1 ECDSA signature (64 bytes `r || s`, low-S only) over a 32-byte
            /// message digest with a SEC1 public key (33 or 65 bytes). Returns 1 if valid, 0 if not.
            fn secp256k1_verify(digest: u32, signature: u32, public_key: u32, public_key_len: u32) -> u32; fuel(150_000, 0);
            /// Sends a UTF-8 line to the node's debug log. Never part of consensus.
            fn debug_log(src: u32, len: u32); fuel(200, 1);
            /// Ends the call with a failure carrying this UTF-8 message (the SDK's panic hook
            /// uses it). Never returns.
            fn abort(src: u32, len: u32); fuel(0, 0);
        }
    };
}

macro_rules! __host_function_table {
    ($( $(#[$doc:meta])* fn $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; fuel($base:expr, $per_byte:expr); )*) => {
        /// The host-function table as data: name, signature and fuel cost of every import.
        pub const HOST_FUNCTIONS: &[HostFunction] = &[
            $( HostFunction {
                name: stringify!($name),
                params: &[$( __valtype!($ty) ),*],
                results: &[$( __valtype!($ret) )?],
                fuel_base: $base,
                fuel_per_byte: $per_byte,
            }, )*
        ];

        /// Fuel costs by name, for the host's implementations.
        pub mod fuel {
            $(
                #[allow(non_upper_case_globals, missing_docs)]
                pub const $name: (u64, u64) = ($base, $per_byte);
            )*
        }
    };
}

for_each_host_function!(__host_function_table);

/// Looks a host function up by name.
pub fn host_function(name: &str) -> Option<&'static HostFunction> {
    HOST_FUNCTIONS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_fuel_table_matches() {
        for (i, f) in HOST_FUNCTIONS.iter().enumerate() {
            assert!(
                HOST_FUNCTIONS[i + 1..].iter().all(|g| g.name != f.name),
                "{}",
                f.name
            );
            assert!(f.results.len() <= 1);
        }
        assert_eq!(fuel::storage_write, (2_000, 10));
        assert_eq!(host_function("abort").map(|f| f.params.len()), Some(2));
        assert!(host_function("nope").is_none());
    }

    #[test]
    fn return_codes_round_trip() {
        assert_eq!(ReturnCode::from_raw(0), Some(ReturnCode::Ok));
        assert_eq!(ReturnCode::from_raw(1), Some(ReturnCode::Error));
        assert_eq!(ReturnCode::from_raw(2), None);
        assert_eq!(ReturnCode::from_raw(-1), None);
    }
}
