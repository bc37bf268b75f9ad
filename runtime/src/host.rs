//! Host functions: the runtime's side of the ABI table in `vellum_abi`.
//!
//! Every function charges fuel before doing work (base cost plus a per-byte cost, as the table
//! states), bounds-checks every pointer and length against the guest's memory, and turns every
//! problem into a trap carrying a [`HostTrap`], which the executor maps to a typed failure.
//! Nothing here panics on guest input.

use std::ops::Range;
use std::sync::Arc;

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use vellum_abi::{STORAGE_ABSENT, codec, fuel, limits::*};
use wasmtime::{Caller, Linker, Memory, ResourceLimiter};

use crate::limits::{MEMORY_BYTES_MAX, TABLE_ELEMENTS_MAX};
use crate::state::Overlay;
use crate::{Env, Event, StateError, StateView};

/// Why the host stopped a call. Carried inside wasmtime's error and classified by the executor.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostTrap {
    #[error("out of fuel")]
    OutOfFuel,
    #[error("memory limit exceeded")]
    MemoryLimit,
    #[error("table limit exceeded")]
    TableLimit,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Abort(String),
    #[error(transparent)]
    State(StateError),
}

type HostResult<T> = wasmtime::Result<T>;

fn invalid<T>(msg: impl Into<String>) -> HostResult<T> {
    Err(wasmtime::Error::new(HostTrap::Invalid(msg.into())))
}

/// The store's data for one call.
pub(crate) struct HostState {
    pub(crate) limiter: Limiter,
    pub(crate) memory: Option<Memory>,
    pub(crate) input: Vec<u8>,
    pub(crate) env: Env,
    pub(crate) read_only: bool,
    pub(crate) state: Arc<dyn StateView>,
    pub(crate) overlay: Overlay,
    pub(crate) events: Vec<Event>,
    pub(crate) output: Vec<u8>,
}

/// Bounds linear memory and tables; growth past a limit traps with a typed reason.
#[derive(Debug, Default)]
pub(crate) struct Limiter;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> HostResult<bool> {
        if desired > MEMORY_BYTES_MAX {
            return Err(wasmtime::Error::new(HostTrap::MemoryLimit));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> HostResult<bool> {
        if desired as u64 > TABLE_ELEMENTS_MAX {
            return Err(wasmtime::Error::new(HostTrap::TableLimit));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }
    fn tables(&self) -> usize {
        1
    }
    fn memories(&self) -> usize {
        1
    }
}

/// Charges `base + per_byte * bytes` fuel, or traps with out-of-fuel (leaving none).
fn charge(
    c: &mut Caller<'_, HostState>,
    (base, per_byte): (u64, u64),
    bytes: usize,
) -> HostResult<()> {
    let cost = base.saturating_add(per_byte.saturating_mul(bytes as u64));
    let left = c.get_fuel()?;
    match left.checked_sub(cost) {
        Some(rest) => c.set_fuel(rest),
        None => {
            c.set_fuel(0)?;
            Err(wasmtime::Error::new(HostTrap::OutOfFuel))
        }
    }
}

fn range(memory_len: usize, ptr: u32, len: usize, what: &str) -> HostResult<Range<usize>> {
    let start = ptr as usize;
    match start.checked_add(len) {
        Some(end) if end <= memory_len => Ok(start..end),
        _ => invalid(format!(
            "{what}: {len} bytes at {ptr} lie outside memory of {memory_len} bytes"
        )),
    }
}

/// The guest's memory and the host state, borrowed together.
fn split<'a>(c: &'a mut Caller<'_, HostState>) -> HostResult<(&'a mut [u8], &'a mut HostState)> {
    let Some(memory) = c.data().memory else {
        return invalid("the contract exports no memory");
    };
    Ok(memory.data_and_store_mut(c))
}

fn read(
    c: &mut Caller<'_, HostState>,
    ptr: u32,
    len: u32,
    max: usize,
    what: &str,
) -> HostResult<Vec<u8>> {
    let len = len as usize;
    if len > max {
        return invalid(format!("{what}: {len} bytes exceed the limit of {max}"));
    }
    let (mem, _) = split(c)?;
    let r = range(mem.len(), ptr, len, what)?;
    Ok(mem[r].to_vec())
}

fn write(c: &mut Caller<'_, HostState>, ptr: u32, bytes: &[u8], what: &str) -> HostResult<()> {
    let (mem, _) = split(c)?;
    let r = range(mem.len(), ptr, bytes.len(), what)?;
    mem[r].copy_from_slice(bytes);
    Ok(())
}

fn deny_in_query(c: &Caller<'_, HostState>, what: &str) -> HostResult<()> {
    if c.data().read_only {
        invalid(format!("{what} is not allowed in a query"))
    } else {
        Ok(())
    }
}

fn state_err(e: StateError) -> wasmtime::Error {
    wasmtime::Error::new(HostTrap::State(e))
}

fn record_write(
    c: &mut Caller<'_, HostState>,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
) -> HostResult<()> {
    let overlay = &mut c.data_mut().overlay;
    let added = key.len() + value.as_ref().map_or(0, Vec::len);
    if overlay.entries.len() >= WRITES_PER_CALL_MAX && !overlay.entries.contains_key(&key) {
        return invalid(format!(
            "more than {WRITES_PER_CALL_MAX} keys written in one call"
        ));
    }
    if overlay.bytes + added > WRITE_BYTES_PER_CALL_MAX {
        return invalid(format!(
            "more than {WRITE_BYTES_PER_CALL_MAX} bytes written in one call"
        ));
    }
    overlay.bytes += added;
    overlay.entries.insert(key, value);
    Ok(())
}

/// The implementations, one per row of the ABI table, with the table's exact parameter types.
mod imp {
    use super::*;

    pub(super) fn input_len(mut c: Caller<'_, HostState>) -> HostResult<u32> {
        charge(&mut c, fuel::input_len, 0)?;
        Ok(c.data().input.len() as u32)
    }

    pub(super) fn input_read(mut c: Caller<'_, HostState>, dst: u32) -> HostResult<()> {
        let len = c.data().input.len();
        charge(&mut c, fuel::input_read, len)?;
        let (mem, st) = split(&mut c)?;
        let r = range(mem.len(), dst, len, "input_read")?;
        mem[r].copy_from_slice(&st.input);
        Ok(())
    }

    pub(super) fn output_write(mut c: Caller<'_, HostState>, src: u32, len: u32) -> HostResult<()> {
        let out = read(&mut c, src, len, OUTPUT_BYTES_MAX, "output_write")?;
        charge(&mut c, fuel::output_write, out.len())?;
        c.data_mut().output = out;
        Ok(())
    }

    pub(super) fn storage_read(
        mut c: Caller<'_, HostState>,
        key: u32,
        key_len: u32,
        dst: u32,
        dst_cap: u32,
    ) -> HostResult<i64> {
        let key = read(&mut c, key, key_len, KEY_BYTES_MAX, "storage_read key")?;
        charge(&mut c, fuel::storage_read, key.len())?;
        let st = c.data();
        let value = match st.overlay.get(&key) {
            Some(v) => v.clone(),
            None => st.state.get(&key).map_err(state_err)?,
        };
        let Some(value) = value else {
            return Ok(STORAGE_ABSENT);
        };
        charge(&mut c, (0, fuel::storage_read.1), value.len())?;
        if value.len() <= dst_cap as usize {
            write(&mut c, dst, &value, "storage_read destination")?;
        }
        Ok(value.len() as i64)
    }

    pub(super) fn storage_write(
        mut c: Caller<'_, HostState>,
        key: u32,
        key_len: u32,
        value: u32,
        value_len: u32,
    ) -> HostResult<()> {
        deny_in_query(&c, "storage_write")?;
        let key = read(&mut c, key, key_len, KEY_BYTES_MAX, "storage_write key")?;
        let value = read(
            &mut c,
            value,
            value_len,
            VALUE_BYTES_MAX,
            "storage_write value",
        )?;
        charge(&mut c, fuel::storage_write, key.len() + value.len())?;
        record_write(&mut c, key, Some(value))
    }

    pub(super) fn storage_remove(
        mut c: Caller<'_, HostState>,
        key: u32,
        key_len: u32,
    ) -> HostResult<()> {
        deny_in_query(&c, "storage_remove")?;
        let key = read(&mut c, key, key_len, KEY_BYTES_MAX, "storage_remove key")?;
        charge(&mut c, fuel::storage_remove, key.len())?;
        record_write(&mut c, key, None)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn storage_scan(
        mut c: Caller<'_, HostState>,
        start: u32,
        start_len: u32,
        end: u32,
        end_len: u32,
        limit: u32,
        dst: u32,
        dst_cap: u32,
    ) -> HostResult<i64> {
        let start = read(
            &mut c,
            start,
            start_len,
            KEY_BYTES_MAX,
            "storage_scan start",
        )?;
        let end = if end_len == 0 {
            None
        } else {
            Some(read(
                &mut c,
                end,
                end_len,
                KEY_BYTES_MAX,
                "storage_scan end",
            )?)
        };
        let bounds_len = start.len() + end.as_ref().map_or(0, Vec::len);
        charge(&mut c, fuel::storage_scan, bounds_len)?;
        let limit = limit.min(SCAN_ENTRIES_MAX) as usize;
        let st = c.data();
        let entries = st
            .overlay
            .scan(&*st.state, &start, end.as_deref(), limit)
            .map_err(state_err)?;
        let refs = || entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice()));
        let len = codec::encoded_scan_len(refs());
        charge(&mut c, (0, fuel::storage_scan.1), len)?;
        if len > SCAN_BYTES_MAX {
            return invalid(format!(
                "storage_scan: result of {len} bytes exceeds {SCAN_BYTES_MAX}; lower the limit"
            ));
        }
        if len <= dst_cap as usize {
            write(
                &mut c,
                dst,
                &codec::encode_scan(refs()),
                "storage_scan destination",
            )?;
        }
        Ok(len as i64)
    }

    pub(super) fn caller(mut c: Caller<'_, HostState>, dst: u32) -> HostResult<()> {
        charge(&mut c, fuel::caller, 0)?;
        let v = c.data().env.caller;
        write(&mut c, dst, &v, "caller")
    }

    pub(super) fn contract_address(mut c: Caller<'_, HostState>, dst: u32) -> HostResult<()> {
        charge(&mut c, fuel::contract_address, 0)?;
        let v = c.data().env.contract;
        write(&mut c, dst, &v, "contract_address")
    }

    pub(super) fn block_height(mut c: Caller<'_, HostState>) -> HostResult<u64> {
        charge(&mut c, fuel::block_height, 0)?;
        Ok(c.data().env.block_height)
    }

    pub(super) fn block_time_ms(mut c: Caller<'_, HostState>) -> HostResult<u64> {
        charge(&mut c, fuel::block_time_ms, 0)?;
        Ok(c.data().env.block_time_ms)
    }

    pub(super) fn tx_hash(mut c: Caller<'_, HostState>, dst: u32) -> HostResult<()> {
        charge(&mut c, fuel::tx_hash, 0)?;
        let v = c.data().env.tx_hash;
        write(&mut c, dst, &v, "tx_hash")
    }

    pub(super) fn event_emit(mut c: Caller<'_, HostState>, src: u32, len: u32) -> HostResult<()> {
        deny_in_query(&c, "event_emit")?;
        if c.data().events.len() >= EVENTS_PER_CALL_MAX {
            return invalid(format!(
                "more than {EVENTS_PER_CALL_MAX} events in one call"
            ));
        }
        let bytes = read(&mut c, src, len, EVENT_BYTES_MAX, "event_emit")?;
        charge(&mut c, fuel::event_emit, bytes.len())?;
        let (ty, attributes) = match codec::decode_event(&bytes, EVENT_ATTRIBUTES_MAX) {
            Ok(e) => e,
            Err(e) => return invalid(format!("event_emit: {e}")),
        };
        if ty.is_empty() || ty.len() > EVENT_TYPE_BYTES_MAX {
            return invalid(format!(
                "event_emit: type must be 1 to {EVENT_TYPE_BYTES_MAX} bytes"
            ));
        }
        for (i, (k, _)) in attributes.iter().enumerate() {
            if k.is_empty() || attributes[..i].iter().any(|(other, _)| other == k) {
                return invalid(format!(
                    "event_emit: attribute key `{k}` is empty or repeated"
                ));
            }
        }
        c.data_mut().events.push(Event { ty, attributes });
        Ok(())
    }

    pub(super) fn sha256(
        mut c: Caller<'_, HostState>,
        src: u32,
        len: u32,
        dst: u32,
    ) -> HostResult<()> {
        let (mem, _) = split(&mut c)?;
        let r = range(mem.len(), src, len as usize, "sha256 source")?;
        charge(&mut c, fuel::sha256, r.len())?;
        let (mem, _) = split(&mut c)?;
        let digest = Sha256::digest(&mem[r]);
        write(&mut c, dst, &digest, "sha256 destination")
    }

    pub(super) fn secp256k1_verify(
        mut c: Caller<'_, HostState>,
        digest: u32,
        signature: u32,
        public_key: u32,
        public_key_len: u32,
    ) -> HostResult<u32> {
        charge(&mut c, fuel::secp256k1_verify, 0)?;
        let digest = read(&mut c, digest, 32, 32, "secp256k1_verify digest")?;
        let signature = read(&mut c, signature, 64, 64, "secp256k1_verify signature")?;
        let key = read(
            &mut c,
            public_key,
            public_key_len,
            65,
            "secp256k1_verify public key",
        )?;
        let valid = match (
            Signature::from_slice(&signature),
            VerifyingKey::from_sec1_bytes(&key),
        ) {
            // High-S signatures are malleable twins: refused, as for transactions.
            (Ok(sig), Ok(vk)) => {
                sig.normalize_s() == sig && vk.verify_prehash(&digest, &sig).is_ok()
            }
            _ => false,
        };
        Ok(u32::from(valid))
    }

    pub(super) fn debug_log(mut c: Caller<'_, HostState>, src: u32, len: u32) -> HostResult<()> {
        let bytes = read(&mut c, src, len, MESSAGE_BYTES_MAX, "debug_log")?;
        charge(&mut c, fuel::debug_log, bytes.len())?;
        tracing::debug!(target: "vellum::contract", "{}", String::from_utf8_lossy(&bytes));
        Ok(())
    }

    pub(super) fn abort(mut c: Caller<'_, HostState>, src: u32, len: u32) -> HostResult<()> {
        // Long messages are cut rather than refused: the abort itself is what matters.
        let len = len.min(MESSAGE_BYTES_MAX as u32);
        let bytes = read(&mut c, src, len, MESSAGE_BYTES_MAX, "abort message")?;
        Err(wasmtime::Error::new(HostTrap::Abort(
            String::from_utf8_lossy(&bytes).into_owned(),
        )))
    }
}

macro_rules! __register {
    ($( $(#[$doc:meta])* fn $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; fuel($base:expr, $per_byte:expr); )*) => {
        /// Registers every host function of the ABI table, with the table's exact signature.
        pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
            $(
                linker.func_wrap(
                    vellum_abi::IMPORT_MODULE,
                    stringify!($name),
                    |c: Caller<'_, HostState>, $($arg: $ty),*| -> HostResult<__register!(@ret $($ret)?)> {
                        imp::$name(c, $($arg),*)
                    },
                )?;
            )*
            Ok(())
        }
    };
    (@ret) => { () };
    (@ret $ret:ident) => { $ret };
}

vellum_abi::for_each_host_function!(__register);
