//! Safe wrappers over the raw imports. Every `unsafe` block here passes the host pointers into
//! live Rust buffers together with their exact lengths, which is all the host relies on: it
//! bounds-checks everything again on its side.

use alloc::string::ToString;
use alloc::vec::Vec;

use crate::imports as raw;

/// Size of the first buffer tried for reads of unknown length; a larger value costs a second
/// host call.
const READ_BUFFER_BYTES: usize = 1024;

pub(crate) fn input() -> Vec<u8> {
    // SAFETY: `input_len` takes no pointer.
    let len = unsafe { raw::input_len() } as usize;
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    // SAFETY: `buf` has `input_len()` writable bytes, all of which `input_read` fills, so they
    // are initialised when the length is set.
    unsafe {
        raw::input_read(buf.as_mut_ptr() as u32);
        buf.set_len(len);
    }
    buf
}

pub(crate) fn output_write(bytes: &[u8]) {
    // SAFETY: the pointer and length describe `bytes`, which the host only reads.
    unsafe { raw::output_write(bytes.as_ptr() as u32, bytes.len() as u32) }
}

/// Calls a host function that writes its result to `(dst, cap)` only when it fits and returns
/// the result's length (negative: no result). Starts with a buffer of `first_cap` bytes and
/// retries once with the exact size when the result is larger.
fn read_sized(first_cap: usize, mut call: impl FnMut(u32, u32) -> i64) -> Option<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::with_capacity(first_cap);
    loop {
        let len = call(buf.as_mut_ptr() as u32, buf.capacity() as u32);
        let len = usize::try_from(len).ok()?;
        if len <= buf.capacity() {
            // SAFETY: the host has just initialised the first `len` bytes (len <= capacity).
            unsafe { buf.set_len(len) };
            return Some(buf);
        }
        buf = Vec::with_capacity(len);
    }
}

pub(crate) fn storage_read(key: &[u8]) -> Option<Vec<u8>> {
    read_sized(READ_BUFFER_BYTES, |dst, cap| {
        // SAFETY: `key` is read-only input; `(dst, cap)` is a live buffer of `cap` writable
        // bytes, and the host writes only when the value fits in them.
        unsafe { raw::storage_read(key.as_ptr() as u32, key.len() as u32, dst, cap) }
    })
}

pub(crate) fn storage_write(key: &[u8], value: &[u8]) {
    // SAFETY: both pointers describe live slices with their exact lengths; the host only reads.
    unsafe {
        raw::storage_write(
            key.as_ptr() as u32,
            key.len() as u32,
            value.as_ptr() as u32,
            value.len() as u32,
        )
    }
}

pub(crate) fn storage_remove(key: &[u8]) {
    // SAFETY: the pointer and length describe `key`, which the host only reads.
    unsafe { raw::storage_remove(key.as_ptr() as u32, key.len() as u32) }
}

/// Entries with `start <= key < end` (`end` empty: no upper bound), at most `limit`.
pub(crate) fn storage_scan(start: &[u8], end: &[u8], limit: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    let buf = read_sized(READ_BUFFER_BYTES * 16, |dst, cap| {
        // SAFETY: `start` and `end` are read-only inputs; `(dst, cap)` is a live buffer of `cap`
        // writable bytes, and the host writes only when the whole result fits in them.
        unsafe {
            raw::storage_scan(
                start.as_ptr() as u32,
                start.len() as u32,
                end.as_ptr() as u32,
                end.len() as u32,
                limit,
                dst,
                cap,
            )
        }
    })
    .unwrap_or_default();
    // The host produced this encoding; a decoding failure would be a host bug, and aborting
    // is the right answer to it.
    match vellum_abi::codec::decode_scan(&buf) {
        Ok(entries) => entries,
        Err(e) => abort(&e.to_string()),
    }
}

#[cfg(target_arch = "wasm32")]
fn fixed<const N: usize>(f: unsafe extern "C" fn(u32)) -> [u8; N] {
    let mut out = [0u8; N];
    // SAFETY: `out` has N writable bytes, the size the host function writes.
    unsafe { f(out.as_mut_ptr() as u32) };
    out
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn caller() -> [u8; 20] {
    fixed(raw::caller)
}
#[cfg(target_arch = "wasm32")]
pub(crate) fn contract_address() -> [u8; 20] {
    fixed(raw::contract_address)
}
#[cfg(target_arch = "wasm32")]
pub(crate) fn tx_hash() -> [u8; 32] {
    fixed(raw::tx_hash)
}
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn caller() -> [u8; 20] {
    // SAFETY: native stub; panics without touching memory.
    unsafe { raw::caller(0) };
    [0; 20]
}
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn contract_address() -> [u8; 20] {
    // SAFETY: native stub; panics without touching memory.
    unsafe { raw::contract_address(0) };
    [0; 20]
}
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn tx_hash() -> [u8; 32] {
    // SAFETY: native stub; panics without touching memory.
    unsafe { raw::tx_hash(0) };
    [0; 32]
}

pub(crate) fn block_height() -> u64 {
    // SAFETY: no pointers.
    unsafe { raw::block_height() }
}

pub(crate) fn block_time_ms() -> u64 {
    // SAFETY: no pointers.
    unsafe { raw::block_time_ms() }
}

pub(crate) fn event_emit(event: &crate::Event) {
    let attrs: Vec<(&str, &str)> = event
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let bytes = vellum_abi::codec::encode_event(&event.ty, &attrs);
    // SAFETY: the pointer and length describe `bytes`, which the host only reads.
    unsafe { raw::event_emit(bytes.as_ptr() as u32, bytes.len() as u32) }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: `data` is read-only input; `out` has the 32 writable bytes the host writes.
    unsafe {
        raw::sha256(
            data.as_ptr() as u32,
            data.len() as u32,
            out.as_mut_ptr() as u32,
        )
    };
    out
}

pub(crate) fn secp256k1_verify(digest: &[u8; 32], signature: &[u8; 64], public_key: &[u8]) -> bool {
    // SAFETY: every pointer describes a live slice of the length the host reads (32, 64 and
    // `public_key.len()` bytes).
    unsafe {
        raw::secp256k1_verify(
            digest.as_ptr() as u32,
            signature.as_ptr() as u32,
            public_key.as_ptr() as u32,
            public_key.len() as u32,
        ) == 1
    }
}

pub(crate) fn debug_log(msg: &str) {
    // SAFETY: the pointer and length describe `msg`, which the host only reads.
    unsafe { raw::debug_log(msg.as_ptr() as u32, msg.len() as u32) }
}

pub(crate) fn abort(msg: &str) -> ! {
    // SAFETY: the pointer and length describe `msg`, which the host only reads.
    unsafe { raw::abort(msg.as_ptr() as u32, msg.len() as u32) };
    // `abort` never returns inside the runtime; if it somehow did, trap here anyway.
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    unreachable!("host functions panic outside the runtime")
}

/// Routes panics to `abort`, so the caller sees the panic message as the failure reason.
pub(crate) fn install_panic_hook() {
    #[cfg(target_arch = "wasm32")]
    std::panic::set_hook(alloc::boxed::Box::new(|info| {
        let msg = info.to_string();
        abort(&msg)
    }));
}
