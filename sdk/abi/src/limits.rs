//! Limits that are part of the ABI: a contract can rely on them and the host enforces them.
//! Exceeding one is an "invalid host call" failure of the call (never a host error).

/// Largest call message (`input_len`), in bytes.
pub const INPUT_BYTES_MAX: usize = 256 * 1024;
/// Largest answer a call may set with `output_write`, in bytes.
pub const OUTPUT_BYTES_MAX: usize = 256 * 1024;
/// Largest storage key, in bytes.
pub const KEY_BYTES_MAX: usize = 1024;
/// Largest storage value, in bytes.
pub const VALUE_BYTES_MAX: usize = 128 * 1024;
/// Most entries one `storage_scan` returns.
pub const SCAN_ENTRIES_MAX: u32 = 1024;
/// Largest encoded `storage_scan` result, in bytes.
pub const SCAN_BYTES_MAX: usize = 1024 * 1024;
/// Most storage writes and removals (distinct keys) one call may leave.
pub const WRITES_PER_CALL_MAX: usize = 4096;
/// Total bytes of keys and values one call may write.
pub const WRITE_BYTES_PER_CALL_MAX: usize = 4 * 1024 * 1024;
/// Largest encoded event, in bytes.
pub const EVENT_BYTES_MAX: usize = 8 * 1024;
/// Most attributes in one event.
pub const EVENT_ATTRIBUTES_MAX: usize = 32;
/// Most events one call may emit.
pub const EVENTS_PER_CALL_MAX: usize = 64;
/// Longest debug line or abort message kept, in bytes (longer ones are refused).
pub const MESSAGE_BYTES_MAX: usize = 4 * 1024;
/// Longest event type, in bytes.
pub const EVENT_TYPE_BYTES_MAX: usize = 64;
