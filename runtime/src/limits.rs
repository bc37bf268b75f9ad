//! Every limit the runtime enforces, in one place, with its unit and its default.
//!
//! Limits on what crosses the boundary at run time (keys, values, events, output) are part of
//! the ABI and live in [`vellum_abi::limits`]; they are re-exported here so that a reader finds
//! all of them in one module.

pub use vellum_abi::limits::*;

/// Largest wasm module accepted at deploy, in bytes.
pub const CODE_BYTES_MAX: usize = 2 * 1024 * 1024;
/// Most functions a module may define.
pub const FUNCTIONS_MAX: u32 = 20_000;
/// Most function types a module may declare.
pub const TYPES_MAX: u32 = 2_000;
/// Most parameters (and, separately, results) of any function type.
pub const FUNCTION_PARAMS_MAX: usize = 32;
/// Most locals one function may declare (parameters not counted).
pub const FUNCTION_LOCALS_MAX: u32 = 4_096;
/// Largest single function body, in bytes.
pub const FUNCTION_BODY_BYTES_MAX: u32 = 512 * 1024;
/// Most `block`, `loop` and `if` frames in one function. Compile time with fuel metering grows
/// with the square of this number (20,000 loops in one function took 4.5 s to compile). The
/// custody contract's largest function has 136.
pub const FUNCTION_CONTROL_FRAMES_MAX: u32 = 1_024;
/// Most control frames in the whole module (the custody contract has 2,804), which bounds the
/// worst compile time to well under a second.
pub const MODULE_CONTROL_FRAMES_MAX: u32 = 32_768;
/// Most targets of one `br_table` (cranelift refuses more than 65,520).
pub const BR_TABLE_TARGETS_MAX: u32 = 16_384;
/// Most globals a module may define.
pub const GLOBALS_MAX: u32 = 1_024;
/// Most data segments a module may define.
pub const DATA_SEGMENTS_MAX: u32 = 1_024;
/// Most element segments a module may define.
pub const ELEMENT_SEGMENTS_MAX: u32 = 1_024;
/// Most exports a module may declare.
pub const EXPORTS_MAX: u32 = 1_024;
/// Most tables a module may define (Rust emits one, for indirect calls).
pub const TABLES_MAX: u32 = 1;
/// Most elements a table may hold, initially or after growth.
pub const TABLE_ELEMENTS_MAX: u64 = 16_384;
/// Size of a wasm page, in bytes.
pub const WASM_PAGE_BYTES: u64 = 64 * 1024;
/// Largest initial linear memory, in wasm pages (4 MiB).
pub const MEMORY_PAGES_INITIAL_MAX: u64 = 64;
/// Largest linear memory a call may grow to, in bytes (16 MiB).
pub const MEMORY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Bytes at the start of each pooled linear memory that stay mapped between calls (only the
/// pages a call dirtied are zeroed again), so a call does not page-fault on its stack, data and
/// first heap pages.
pub const MEMORY_KEEP_RESIDENT_BYTES: usize = 2 * 1024 * 1024;
/// Wasm stack a call may use, in bytes; deeper recursion ends in a stack-overflow failure.
pub const WASM_STACK_BYTES_MAX: usize = 512 * 1024;
/// Native stack of every thread that runs guests. It must exceed [`WASM_STACK_BYTES_MAX`] by a
/// wide margin: wasmtime only bounds the wasm part, and running out of the real stack aborts the
/// process.
pub const EXEC_THREAD_STACK_BYTES: usize = 8 * 1024 * 1024;
/// Instances that may be alive at once in the pooling allocator (one per call in flight).
pub const POOL_INSTANCES_MAX: u32 = 64;
/// Compiled modules kept in memory; the least recently loaded is dropped beyond this.
pub const MODULES_IN_MEMORY_MAX: usize = 256;
/// Largest fuel limit one call may ask for.
pub const FUEL_PER_CALL_MAX: u64 = 10_000_000_000;
