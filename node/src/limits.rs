//! The node's limits, each a named constant with its unit. Contract-level limits live in
//! `vellum_runtime::limits`.

/// Largest accepted envelope (HTTP body), in bytes: room for a 2 MiB module in base64.
pub const TX_BYTES_MAX: usize = 3 * 1024 * 1024;
/// Most envelopes in one `POST /v1/transactions/batch`. The batch's body is also bounded by
/// the API's body limit, so this is reached only with small transactions.
pub const BATCH_TXS_MAX: usize = 1024;
/// Fuel a transaction gets when its payload names none.
pub const FUEL_DEFAULT: u64 = 10_000_000;
/// Largest fuel limit a transaction may ask for.
pub const FUEL_MAX: u64 = 1_000_000_000;
/// Fuel charged per byte of code deployed (validation and compilation are paid for here).
pub const DEPLOY_FUEL_PER_BYTE: u64 = 10;
/// Most transactions waiting in the mempool.
pub const MEMPOOL_TXS_MAX: usize = 100_000;
/// Most bytes of transactions waiting in the mempool.
pub const MEMPOOL_BYTES_MAX: usize = 256 * 1024 * 1024;
/// Most transactions in one block. Blocks are cut earlier when the pool drains.
pub const BLOCK_TXS_MAX: usize = 8_192;
/// While the writer is still committing a block, the producer starts the next one only once
/// this many transactions wait; with fewer it waits for the writer, so that under light load a
/// block gathers everything that arrived during the previous write (one durable commit for all
/// of them) instead of a few transactions each, and under heavy load execution still overlaps
/// the write.
pub const PIPELINE_EARLY_BLOCK_TXS_MIN: usize = 256;
/// Times admission reads an account's committed nonce outside the mempool's lock before it
/// reads it under the lock (each retry follows a commit that made the previous read stale).
pub const ADMIT_NONCE_READS_MAX: usize = 3;
/// Most payload bytes in one block.
pub const BLOCK_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Longest contract label, in bytes.
pub const LABEL_BYTES_MAX: usize = 128;
/// Cached parsed public keys (a SEC1 decompression costs about 6.6 us).
pub const KEY_CACHE_MAX: usize = 65_536;
/// Longest attribute key or value that goes into the event index, in bytes; longer ones are kept
/// in receipts but not indexed.
pub const INDEXED_ATTRIBUTE_BYTES_MAX: usize = 256;
/// redb's in-process page cache, in bytes (redb's own default is 1 GiB). Bounds the node's
/// resident memory whatever the size of the chain. Small enough to fill within the first
/// seconds of load (so resident memory is flat from then on: the load soak's criterion), while
/// pages it misses come from the kernel's page cache (a `pread`, a few microseconds). 64 MiB
/// was still filling a minute into the soak at 500 tx/s.
pub const STORE_CACHE_BYTES: usize = 16 * 1024 * 1024;
/// Most acknowledged blocks waiting for the applier to write them into redb; once that many
/// (or [`APPLY_QUEUE_BYTES_MAX`]) wait, the writer waits too (and with it the producer), so a
/// slow disk slows admission instead of growing memory. Deep enough to ride out a redb commit
/// that stalls for a second at 5,000 tx/s (about 1,000 blocks a second): with 64, commits this
/// machine's disk stalled for a few hundred milliseconds filled the queue and held every
/// acknowledgement back (docs/performance.md, "Riding out redb's stalls").
pub const APPLY_QUEUE_BLOCKS: usize = 1_024;
/// Most bytes (records, receipts, state writes and index entries) of the acknowledged blocks
/// waiting for the applier. A block larger than this alone still goes through. Also bounds
/// what a restart re-executes from the journal.
pub const APPLY_QUEUE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Most blocks the applier writes in one durable redb transaction.
pub const APPLY_GROUP_BLOCKS_MAX: usize = 64;
