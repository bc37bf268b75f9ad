//! Vellum's ABI on wasmi: the host functions the shoot-out's contracts import, with the same
//! semantics as `runtime/src/host.rs` (the same fuel charges from `vellum_abi::fuel`, bounds
//! checks, limits, read-only queries, writes kept in an overlay), so that the same wasm does
//! the same work on both engines. `storage_scan` and `secp256k1_verify` are not provided: the
//! benchmark contracts do not import them, and instantiating a module that does fails.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};
use vellum_abi::{STORAGE_ABSENT, codec, fuel, limits::*};
use wasmi::{Caller, Config, Engine, Error, Linker, Memory};

/// Why the host stopped a call.
#[derive(Debug)]
pub(crate) enum HostTrap {
    /// Fuel ran out in a host function.
    OutOfFuel,
    /// A bad pointer, size or call.
    Invalid(String),
    /// The contract aborted (panicked) with this message.
    Abort(String),
}

impl fmt::Display for HostTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfFuel => f.write_str("out of fuel"),
            Self::Invalid(m) | Self::Abort(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HostTrap {}
impl wasmi::errors::HostError for HostTrap {}

/// The store's data for one call.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    /// The instance's exported memory, set after instantiation.
    pub memory: Option<Memory>,
    /// The message.
    pub input: Vec<u8>,
    /// `caller`, `contract`, `block_height`, `block_time_ms`, `tx_hash`.
    pub caller: [u8; 20],
    /// The contract's address.
    pub contract: [u8; 20],
    /// Block height.
    pub block_height: u64,
    /// Block time.
    pub block_time_ms: u64,
    /// Transaction hash.
    pub tx_hash: [u8; 32],
    /// Queries may not write.
    pub read_only: bool,
    /// Committed storage the call reads.
    pub storage: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The call's own writes (`None` = removed).
    pub overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Bytes the overlay holds, against the per-call limit.
    pub(crate) overlay_bytes: usize,
    /// Emitted events: type and attributes.
    pub events: Vec<(String, Vec<(String, String)>)>,
    /// The call's output.
    pub output: Vec<u8>,
}

type R<T> = Result<T, Error>;
type C<'a> = Caller<'a, HostState>;

fn invalid<T>(msg: impl Into<String>) -> R<T> {
    Err(Error::host(HostTrap::Invalid(msg.into())))
}

fn charge(c: &mut C<'_>, (base, per_byte): (u64, u64), bytes: usize) -> R<()> {
    let cost = base.saturating_add(per_byte.saturating_mul(bytes as u64));
    let left = c.get_fuel()?;
    match left.checked_sub(cost) {
        Some(rest) => c.set_fuel(rest),
        None => {
            c.set_fuel(0)?;
            Err(Error::host(HostTrap::OutOfFuel))
        }
    }
}

fn split<'a>(c: &'a mut C<'_>) -> R<(&'a mut [u8], &'a mut HostState)> {
    let Some(memory) = c.data().memory else {
        return invalid("the contract exports no memory");
    };
    Ok(memory.data_and_store_mut(c))
}

fn range(mem_len: usize, ptr: u32, len: usize, what: &str) -> R<std::ops::Range<usize>> {
    let start = ptr as usize;
    match start.checked_add(len) {
        Some(end) if end <= mem_len => Ok(start..end),
        _ => invalid(format!("{what}: {len} bytes at {ptr} lie outside memory")),
    }
}

fn read(c: &mut C<'_>, ptr: u32, len: u32, max: usize, what: &str) -> R<Vec<u8>> {
    let len = len as usize;
    if len > max {
        return invalid(format!("{what}: {len} bytes exceed the limit of {max}"));
    }
    let (mem, _) = split(c)?;
    let r = range(mem.len(), ptr, len, what)?;
    Ok(mem[r].to_vec())
}

fn write(c: &mut C<'_>, ptr: u32, bytes: &[u8], what: &str) -> R<()> {
    let (mem, _) = split(c)?;
    let r = range(mem.len(), ptr, bytes.len(), what)?;
    mem[r].copy_from_slice(bytes);
    Ok(())
}

fn deny_in_query(c: &C<'_>, what: &str) -> R<()> {
    if c.data().read_only {
        invalid(format!("{what} is not allowed in a query"))
    } else {
        Ok(())
    }
}

fn record_write(c: &mut C<'_>, key: Vec<u8>, value: Option<Vec<u8>>) -> R<()> {
    let st = c.data_mut();
    let added = key.len() + value.as_ref().map_or(0, Vec::len);
    if st.overlay.len() >= WRITES_PER_CALL_MAX && !st.overlay.contains_key(&key) {
        return invalid("too many keys written in one call");
    }
    if st.overlay_bytes + added > WRITE_BYTES_PER_CALL_MAX {
        return invalid("too many bytes written in one call");
    }
    st.overlay_bytes += added;
    st.overlay.insert(key, value);
    Ok(())
}

/// The engine configuration closest to Vellum's: fuel metering, the same wasm features, and
/// eager or lazy translation.
pub(crate) fn engine(eager: bool) -> Engine {
    let mut config = Config::default();
    config.consume_fuel(true);
    config.wasm_bulk_memory(true);
    config.wasm_reference_types(true);
    config.wasm_sign_extension(true);
    config.wasm_saturating_float_to_int(true);
    config.wasm_multi_value(true);
    config.wasm_extended_const(true);
    // SIMD is compiled out of wasmi unless its `simd` feature is on (it is not here).
    config.wasm_tail_call(false);
    config.wasm_memory64(false);
    config.wasm_multi_memory(false);
    config.compilation_mode(if eager {
        wasmi::CompilationMode::Eager
    } else {
        wasmi::CompilationMode::LazyTranslation
    });
    Engine::new(&config)
}

/// A linker with Vellum's host functions (all but `storage_scan` and `secp256k1_verify`).
pub(crate) fn linker(engine: &Engine) -> R<Linker<HostState>> {
    const M: &str = vellum_abi::IMPORT_MODULE;
    let mut l = Linker::new(engine);
    l.func_wrap(M, "input_len", |mut c: C<'_>| -> R<u32> {
        charge(&mut c, fuel::input_len, 0)?;
        Ok(c.data().input.len() as u32)
    })?;
    l.func_wrap(M, "input_read", |mut c: C<'_>, dst: u32| -> R<()> {
        let len = c.data().input.len();
        charge(&mut c, fuel::input_read, len)?;
        let (mem, st) = split(&mut c)?;
        let r = range(mem.len(), dst, len, "input_read")?;
        mem[r].copy_from_slice(&st.input);
        Ok(())
    })?;
    l.func_wrap(
        M,
        "output_write",
        |mut c: C<'_>, src: u32, len: u32| -> R<()> {
            let out = read(&mut c, src, len, OUTPUT_BYTES_MAX, "output_write")?;
            charge(&mut c, fuel::output_write, out.len())?;
            c.data_mut().output = out;
            Ok(())
        },
    )?;
    l.func_wrap(
        M,
        "storage_read",
        |mut c: C<'_>, key: u32, key_len: u32, dst: u32, dst_cap: u32| -> R<i64> {
            let key = read(&mut c, key, key_len, KEY_BYTES_MAX, "storage_read key")?;
            charge(&mut c, fuel::storage_read, key.len())?;
            let st = c.data();
            let value = match st.overlay.get(&key) {
                Some(v) => v.clone(),
                None => st.storage.get(&key).cloned(),
            };
            let Some(value) = value else {
                return Ok(STORAGE_ABSENT);
            };
            charge(&mut c, (0, fuel::storage_read.1), value.len())?;
            if value.len() <= dst_cap as usize {
                write(&mut c, dst, &value, "storage_read destination")?;
            }
            Ok(value.len() as i64)
        },
    )?;
    l.func_wrap(
        M,
        "storage_write",
        |mut c: C<'_>, key: u32, key_len: u32, value: u32, value_len: u32| -> R<()> {
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
        },
    )?;
    l.func_wrap(
        M,
        "storage_remove",
        |mut c: C<'_>, key: u32, key_len: u32| -> R<()> {
            deny_in_query(&c, "storage_remove")?;
            let key = read(&mut c, key, key_len, KEY_BYTES_MAX, "storage_remove key")?;
            charge(&mut c, fuel::storage_remove, key.len())?;
            record_write(&mut c, key, None)
        },
    )?;
    l.func_wrap(M, "caller", |mut c: C<'_>, dst: u32| -> R<()> {
        charge(&mut c, fuel::caller, 0)?;
        let v = c.data().caller;
        write(&mut c, dst, &v, "caller")
    })?;
    l.func_wrap(M, "contract_address", |mut c: C<'_>, dst: u32| -> R<()> {
        charge(&mut c, fuel::contract_address, 0)?;
        let v = c.data().contract;
        write(&mut c, dst, &v, "contract_address")
    })?;
    l.func_wrap(M, "block_height", |mut c: C<'_>| -> R<u64> {
        charge(&mut c, fuel::block_height, 0)?;
        Ok(c.data().block_height)
    })?;
    l.func_wrap(M, "block_time_ms", |mut c: C<'_>| -> R<u64> {
        charge(&mut c, fuel::block_time_ms, 0)?;
        Ok(c.data().block_time_ms)
    })?;
    l.func_wrap(M, "tx_hash", |mut c: C<'_>, dst: u32| -> R<()> {
        charge(&mut c, fuel::tx_hash, 0)?;
        let v = c.data().tx_hash;
        write(&mut c, dst, &v, "tx_hash")
    })?;
    l.func_wrap(
        M,
        "event_emit",
        |mut c: C<'_>, src: u32, len: u32| -> R<()> {
            deny_in_query(&c, "event_emit")?;
            if c.data().events.len() >= EVENTS_PER_CALL_MAX {
                return invalid("too many events in one call");
            }
            let bytes = read(&mut c, src, len, EVENT_BYTES_MAX, "event_emit")?;
            charge(&mut c, fuel::event_emit, bytes.len())?;
            match codec::decode_event(&bytes, EVENT_ATTRIBUTES_MAX) {
                Ok((ty, attributes)) if !ty.is_empty() && ty.len() <= EVENT_TYPE_BYTES_MAX => {
                    c.data_mut().events.push((ty, attributes));
                    Ok(())
                }
                Ok(_) => invalid("event_emit: bad type"),
                Err(e) => invalid(format!("event_emit: {e}")),
            }
        },
    )?;
    l.func_wrap(
        M,
        "sha256",
        |mut c: C<'_>, src: u32, len: u32, dst: u32| -> R<()> {
            let (mem, _) = split(&mut c)?;
            let r = range(mem.len(), src, len as usize, "sha256 source")?;
            charge(&mut c, fuel::sha256, r.len())?;
            let (mem, _) = split(&mut c)?;
            let digest = Sha256::digest(&mem[r]);
            write(&mut c, dst, &digest, "sha256 destination")
        },
    )?;
    l.func_wrap(
        M,
        "debug_log",
        |mut c: C<'_>, src: u32, len: u32| -> R<()> {
            let bytes = read(&mut c, src, len, MESSAGE_BYTES_MAX, "debug_log")?;
            charge(&mut c, fuel::debug_log, bytes.len())
        },
    )?;
    l.func_wrap(M, "abort", |mut c: C<'_>, src: u32, len: u32| -> R<()> {
        let len = len.min(MESSAGE_BYTES_MAX as u32);
        let bytes = read(&mut c, src, len, MESSAGE_BYTES_MAX, "abort message")?;
        Err(Error::host(HostTrap::Abort(
            String::from_utf8_lossy(&bytes).into_owned(),
        )))
    })?;
    Ok(l)
}
