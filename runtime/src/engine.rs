//! The deterministic engine configuration and the compiled-module caches.
//!
//! Determinism is decided here and nowhere else: fuel metering, NaN canonicalisation, and the
//! exact set of wasm features (SIMD, relaxed SIMD, threads and every other proposal whose results
//! can differ between machines are off). [`ALLOWED_FEATURES`] is used both by the engine and by
//! deploy-time validation, so a module that validates is a module the engine will run.

use std::collections::HashMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, InstancePre, Module, OptLevel,
    PoolingAllocationConfig, WasmFeatures,
};

use crate::limits::{
    MEMORY_BYTES_MAX, MEMORY_KEEP_RESIDENT_BYTES, MODULES_IN_MEMORY_MAX, POOL_INSTANCES_MAX,
    TABLE_ELEMENTS_MAX, TABLES_MAX, WASM_STACK_BYTES_MAX,
};
use crate::{CodeHash, RuntimeError, host::HostState};

/// The wasm features contracts may use. Rust 1.95 emits bulk memory, sign extension, saturating
/// float-to-int conversions, multi-value and the reference-types encoding of `call_indirect`;
/// all are deterministic. Floats are allowed because NaN canonicalisation makes them so.
pub const ALLOWED_FEATURES: WasmFeatures = WasmFeatures::MUTABLE_GLOBAL
    .union(WasmFeatures::SATURATING_FLOAT_TO_INT)
    .union(WasmFeatures::SIGN_EXTENSION)
    .union(WasmFeatures::MULTI_VALUE)
    .union(WasmFeatures::BULK_MEMORY)
    .union(WasmFeatures::REFERENCE_TYPES)
    .union(WasmFeatures::FLOATS)
    .union(WasmFeatures::EXTENDED_CONST);

/// Builds the one engine configuration every node uses. Changing anything here changes consensus
/// behaviour (and the module-cache key, so stale artifacts are never loaded).
pub(crate) fn config() -> Config {
    let mut config = Config::new();
    config.wasm_features(WasmFeatures::all(), false);
    config.wasm_features(ALLOWED_FEATURES, true);
    config.consume_fuel(true);
    config.cranelift_nan_canonicalization(true);
    config.cranelift_opt_level(OptLevel::Speed);
    config.max_wasm_stack(WASM_STACK_BYTES_MAX);
    // Backtraces cost time on every trap and are not part of any outcome.
    config.wasm_backtrace_max_frames(None);
    config.parallel_compilation(true);

    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(POOL_INSTANCES_MAX);
    pool.total_memories(POOL_INSTANCES_MAX);
    pool.total_tables(POOL_INSTANCES_MAX);
    pool.max_memories_per_module(1);
    pool.max_tables_per_module(TABLES_MAX);
    pool.max_memory_size(MEMORY_BYTES_MAX);
    pool.table_elements(TABLE_ELEMENTS_MAX as usize);
    // Resetting a memory slot by madvise makes the next call take a page fault (about 1.2 us on
    // this VM) for every page it touches again; a typical call touches ten. Keeping the first
    // pages resident and, with the kernel's PAGEMAP_SCAN, zeroing only those that were written
    // made the custody `register` call 20 -> 13.7 us (see docs/performance.md).
    pool.linear_memory_keep_resident(MEMORY_KEEP_RESIDENT_BYTES);
    pool.table_keep_resident(MEMORY_KEEP_RESIDENT_BYTES);
    pool.pagemap_scan(Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

pub(crate) fn engine() -> Result<Engine, RuntimeError> {
    Engine::new(&config()).map_err(RuntimeError::engine)
}

/// Feeds `Hash` output into SHA-256, so the cache key is stable across processes (unlike
/// `DefaultHasher`'s contract) and wide enough that collisions are not a concern.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0 // unused: the digest is read with `finalize`
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// A fingerprint of the engine's compilation settings and wasmtime's version: part of every
/// cache file name, so an artifact is only ever loaded by an engine that could have written it.
pub(crate) fn fingerprint(engine: &Engine) -> String {
    let mut h = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    h.write(env!("CARGO_PKG_VERSION").as_bytes());
    hex::encode(&h.0.finalize()[..16])
}

/// Magic bytes at the start of every cache file.
const CACHE_MAGIC: &[u8; 8] = b"VLMCWSM1";

/// Compiled modules: in memory (ready `InstancePre`s) and, optionally, on disk.
pub(crate) struct ModuleCache {
    dir: Option<PathBuf>,
    fingerprint: String,
    memory: Mutex<HashMap<CodeHash, Arc<InstancePre<HostState>>>>,
}

/// Where a module came from, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleSource {
    /// Already compiled and instantiable in memory.
    Memory,
    /// Loaded from the on-disk cache (no compilation).
    Disk,
    /// Compiled from wasm now.
    Compiled,
}

impl ModuleCache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Result<Self, RuntimeError> {
        if let Some(dir) = &dir {
            fs::create_dir_all(dir).map_err(|e| {
                RuntimeError::Engine(format!("module cache {}: {e}", dir.display()))
            })?;
        }
        Ok(Self {
            dir,
            fingerprint: fingerprint(engine),
            memory: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn get(&self, hash: &CodeHash) -> Option<Arc<InstancePre<HostState>>> {
        self.memory.lock().ok()?.get(hash).cloned()
    }

    pub(crate) fn insert(&self, hash: CodeHash, pre: Arc<InstancePre<HostState>>) {
        if let Ok(mut m) = self.memory.lock() {
            if m.len() >= MODULES_IN_MEMORY_MAX && !m.contains_key(&hash) {
                // Which entry goes does not matter for correctness; drop any one.
                if let Some(victim) = m.keys().next().copied() {
                    m.remove(&victim);
                }
            }
            m.insert(hash, pre);
        }
    }

    /// Forgets every in-memory module (the disk cache stays): used by tests and benchmarks of
    /// the cold path.
    pub(crate) fn clear_memory(&self) {
        if let Ok(mut m) = self.memory.lock() {
            m.clear();
        }
    }

    fn path(&self, hash: &CodeHash) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{hash}-{}.cwasm", self.fingerprint)))
    }

    /// Loads a module this engine serialised earlier, after checking the file's integrity.
    /// Any problem (missing, truncated, corrupted, incompatible) is a miss, never an error:
    /// the caller recompiles from the wasm and rewrites the file.
    pub(crate) fn load_disk(&self, engine: &Engine, hash: &CodeHash) -> Option<Module> {
        let path = self.path(hash)?;
        let bytes = fs::read(&path).ok()?;
        let (header, payload) = bytes.split_at_checked(CACHE_MAGIC.len() + 32)?;
        let (magic, digest) = header.split_at(CACHE_MAGIC.len());
        if magic != CACHE_MAGIC || Sha256::digest(payload).as_slice() != digest {
            tracing::warn!(path = %path.display(), "module cache file corrupted; recompiling");
            return None;
        }
        // SAFETY: `Module::deserialize` trusts its input to be an artifact this wasmtime version
        // produced. The bytes were written by `store_disk` below with this engine's fingerprint
        // in the file name, and the SHA-256 of the payload written alongside has just been
        // checked, so they are exactly what `Module::serialize` returned.
        let module = unsafe { Module::deserialize(engine, payload) };
        match module {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "module cache file refused");
                None
            }
        }
    }

    /// Writes a compiled module atomically (temporary file, then rename). A failure only costs
    /// a future recompilation, so it is logged, not returned.
    pub(crate) fn store_disk(&self, hash: &CodeHash, module: &Module) {
        let Some(path) = self.path(hash) else { return };
        let result = module
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|payload| {
                write_atomically(
                    &path,
                    &[CACHE_MAGIC, Sha256::digest(&payload).as_slice(), &payload],
                )
                .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not write module cache");
        }
    }
}

fn write_atomically(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    // Unique per process and per call: two threads compiling the same module at once must not
    // write into the same temporary file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp)?;
        for p in parts {
            f.write_all(p)?;
        }
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}
