//! Running one call: a fresh instance from a cached `InstancePre`, fuel, the entry point, and
//! the mapping of every way it can end to an [`Outcome`] or a [`RuntimeError`].

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

use wasmtime::{Engine, InstancePre, Linker, Module, Store, Trap};

use crate::engine::{ModuleCache, ModuleSource};
use crate::host::{self, HostState, HostTrap, Limiter};
use crate::limits::{EXEC_THREAD_STACK_BYTES, FUEL_PER_CALL_MAX, INPUT_BYTES_MAX};
use crate::state::Overlay;
use crate::{CodeHash, Failure, Outcome, RuntimeError, StateView, Success, Write, validate};

/// Which entry point to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPoint {
    /// `instantiate`, once per contract instance.
    Instantiate,
    /// `execute`, for transactions.
    Execute,
    /// `query`, read-only: storage writes and events are refused.
    Query,
}

impl EntryPoint {
    /// The export name.
    pub fn export_name(self) -> &'static str {
        match self {
            Self::Instantiate => vellum_abi::ENTRY_INSTANTIATE,
            Self::Execute => vellum_abi::ENTRY_EXECUTE,
            Self::Query => vellum_abi::ENTRY_QUERY,
        }
    }
}

/// The block and transaction context of a call. Everything a contract can learn about the world
/// comes from here or from its storage, which is what makes execution a pure function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Env {
    /// The running contract's address.
    pub contract: [u8; 20],
    /// The signer of the transaction (zeros in queries).
    pub caller: [u8; 20],
    /// Height of the block being executed.
    pub block_height: u64,
    /// The block's timestamp, milliseconds since the Unix epoch.
    pub block_time_ms: u64,
    /// Hash of the transaction (zeros in queries).
    pub tx_hash: [u8; 32],
}

/// One call to run.
#[derive(Debug, Clone)]
pub struct Call {
    /// Code to run.
    pub code_hash: CodeHash,
    /// Entry point.
    pub entry: EntryPoint,
    /// The JSON message.
    pub msg: Vec<u8>,
    /// Context.
    pub env: Env,
    /// Fuel the call may consume, at most [`FUEL_PER_CALL_MAX`].
    pub fuel_limit: u64,
}

/// Settings of a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Directory for compiled modules; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
}

/// The contract runtime: a deterministic engine, the ABI's linker and the module caches.
/// Cheap to clone; all clones share the caches.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cache: ModuleCache,
    metrics: RuntimeMetrics,
}

/// Counters of how modules were made ready, since the runtime was created. A node that restarts
/// on a data directory whose module cache is intact compiles nothing: its `compilations` stays
/// at zero and every module it uses counts once in `disk_loads` (the restart check of
/// `scale-bench` asserts exactly that).
#[derive(Debug, Default)]
pub struct RuntimeMetrics {
    /// Modules compiled from wasm by cranelift (at deploy, or on a miss of both caches).
    pub compilations: AtomicU64,
    /// Modules loaded from the on-disk cache, without compiling.
    pub disk_loads: AtomicU64,
}

impl Runtime {
    /// Creates a runtime.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine = crate::engine::engine()?;
        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker).map_err(RuntimeError::engine)?;
        let cache = ModuleCache::new(&engine, config.cache_dir)?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                metrics: RuntimeMetrics::default(),
            }),
        })
    }

    /// Every function the linker registers, as `(module, name, params, results)`: the ABI
    /// conformance test compares this with `vellum_abi::HOST_FUNCTIONS`.
    pub fn registered_imports(
        &self,
    ) -> Vec<(
        String,
        String,
        Vec<vellum_abi::ValType>,
        Vec<vellum_abi::ValType>,
    )> {
        fn abi(t: wasmtime::ValType) -> Option<vellum_abi::ValType> {
            match t {
                wasmtime::ValType::I32 => Some(vellum_abi::ValType::I32),
                wasmtime::ValType::I64 => Some(vellum_abi::ValType::I64),
                _ => None,
            }
        }
        let mut store = Store::new(&self.inner.engine, dummy_state());
        let items: Vec<_> = self
            .inner
            .linker
            .iter(&mut store)
            .map(|(m, n, e)| (m.to_string(), n.to_string(), e))
            .collect();
        items
            .into_iter()
            .filter_map(|(m, n, e)| {
                let ty = e.into_func()?.ty(&store);
                let params = ty.params().map(abi).collect::<Option<Vec<_>>>()?;
                let results = ty.results().map(abi).collect::<Option<Vec<_>>>()?;
                Some((m, n, params, results))
            })
            .collect()
    }

    /// Validates `wasm`, compiles it (or loads it from the disk cache) and keeps it ready.
    /// Returns its code hash. This is what deploy runs.
    pub fn deploy(&self, wasm: &[u8]) -> Result<CodeHash, RuntimeError> {
        validate::validate(wasm)?;
        let hash = CodeHash::of(wasm);
        let this = self.clone();
        let wasm = wasm.to_vec();
        on_exec_thread(move || this.inner.compile(hash, &wasm).map(|_| ()))??;
        Ok(hash)
    }

    /// Makes sure `code_hash` is ready to instantiate, loading it from the disk cache or
    /// compiling the code `state` holds. Returns where it came from.
    pub fn prepare(
        &self,
        code_hash: &CodeHash,
        state: &dyn StateView,
    ) -> Result<ModuleSource, RuntimeError> {
        self.inner
            .instance_pre(code_hash, state)
            .map(|(_, source)| source)
    }

    /// How modules were made ready since this runtime was created.
    pub fn metrics(&self) -> &RuntimeMetrics {
        &self.inner.metrics
    }

    /// Drops every compiled module held in memory (the disk cache stays). For measuring and
    /// testing the cold path.
    pub fn forget_compiled(&self) {
        self.inner.cache.clear_memory();
    }

    /// Runs one call against `state`. Contract failures are in the [`Outcome`]; only host faults
    /// are errors. Runs on the calling thread when it is an executor thread (see
    /// [`spawn_exec_thread`]), otherwise on a shared one.
    pub fn call(&self, call: Call, state: Arc<dyn StateView>) -> Result<Outcome, RuntimeError> {
        if on_exec_thread_now() {
            return self.inner.call(call, state);
        }
        let this = self.clone();
        on_exec_thread(move || this.inner.call(call, state))?
    }
}

fn dummy_state() -> HostState {
    HostState {
        limiter: Limiter,
        memory: None,
        input: Vec::new(),
        env: Env::default(),
        read_only: true,
        state: Arc::new(crate::MemoryState::default()),
        overlay: Overlay::default(),
        events: Vec::new(),
        output: Vec::new(),
    }
}

impl Inner {
    fn compile(
        &self,
        hash: CodeHash,
        wasm: &[u8],
    ) -> Result<Arc<InstancePre<HostState>>, RuntimeError> {
        let started = std::time::Instant::now();
        let module = Module::new(&self.engine, wasm).map_err(RuntimeError::engine)?;
        self.metrics.compilations.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            code_hash = %hash,
            wasm_bytes = wasm.len(),
            compile_ms = started.elapsed().as_millis() as u64,
            "compiled contract module"
        );
        self.cache.store_disk(&hash, &module);
        self.ready(hash, &module)
    }

    fn ready(
        &self,
        hash: CodeHash,
        module: &Module,
    ) -> Result<Arc<InstancePre<HostState>>, RuntimeError> {
        let pre = Arc::new(
            self.linker
                .instantiate_pre(module)
                .map_err(RuntimeError::engine)?,
        );
        self.cache.insert(hash, pre.clone());
        Ok(pre)
    }

    fn instance_pre(
        &self,
        hash: &CodeHash,
        state: &dyn StateView,
    ) -> Result<(Arc<InstancePre<HostState>>, ModuleSource), RuntimeError> {
        if let Some(pre) = self.cache.get(hash) {
            return Ok((pre, ModuleSource::Memory));
        }
        if let Some(module) = self.cache.load_disk(&self.engine, hash) {
            self.metrics.disk_loads.fetch_add(1, Ordering::Relaxed);
            return Ok((self.ready(*hash, &module)?, ModuleSource::Disk));
        }
        let wasm = state.code(hash)?.ok_or(RuntimeError::CodeNotFound(*hash))?;
        // Stored code was validated at deploy; validating again costs little next to compiling
        // and protects against a store that was tampered with.
        validate::validate(&wasm)?;
        Ok((self.compile(*hash, &wasm)?, ModuleSource::Compiled))
    }

    fn call(&self, call: Call, state: Arc<dyn StateView>) -> Result<Outcome, RuntimeError> {
        if call.fuel_limit > FUEL_PER_CALL_MAX {
            return Err(RuntimeError::FuelLimit {
                requested: call.fuel_limit,
                max: FUEL_PER_CALL_MAX,
            });
        }
        if call.msg.len() > INPUT_BYTES_MAX {
            return Err(RuntimeError::InputTooLarge(call.msg.len()));
        }
        let (pre, _) = self.instance_pre(&call.code_hash, &*state)?;
        let data = HostState {
            limiter: Limiter,
            memory: None,
            input: call.msg,
            env: call.env,
            read_only: call.entry == EntryPoint::Query,
            state,
            overlay: Overlay::default(),
            events: Vec::new(),
            output: Vec::new(),
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|s| &mut s.limiter);
        store
            .set_fuel(call.fuel_limit)
            .map_err(RuntimeError::engine)?;

        let result = pre.instantiate(&mut store).and_then(|instance| {
            let memory = instance.get_memory(&mut store, vellum_abi::MEMORY_EXPORT);
            store.data_mut().memory = memory;
            let func = instance.get_typed_func::<(), i32>(&mut store, call.entry.export_name())?;
            func.call(&mut store, ())
        });
        let fuel_left = store.get_fuel().map_err(RuntimeError::engine)?;
        let mut fuel_used = call.fuel_limit.saturating_sub(fuel_left);
        let data = store.into_data();
        let result = match result {
            Ok(code) => match vellum_abi::ReturnCode::from_raw(code) {
                Some(vellum_abi::ReturnCode::Ok) => Ok(Success {
                    output: data.output,
                    events: data.events,
                    writes: data
                        .overlay
                        .entries
                        .into_iter()
                        .map(|(key, value)| Write { key, value })
                        .collect(),
                }),
                Some(vellum_abi::ReturnCode::Error) => Err(Failure::ContractError(
                    String::from_utf8_lossy(&data.output).into_owned(),
                )),
                None => Err(Failure::InvalidReturn(code)),
            },
            Err(e) => {
                let failure = classify(e)?;
                // wasmtime writes the fuel counter back only at calls, returns and fuel checks,
                // so after a trap raised inside wasm code (division by zero, out-of-bounds
                // access, a limit hit by `memory.grow`, stack overflow) the counter misses the
                // work done since the last such point. Charging the whole limit keeps a trapping
                // call from having done up to its limit of work for nearly nothing. Host traps
                // (`abort`, invalid host calls) and out-of-fuel are exact already.
                if matches!(
                    failure,
                    Failure::Trap(_)
                        | Failure::MemoryLimit
                        | Failure::TableLimit
                        | Failure::StackOverflow
                ) {
                    fuel_used = call.fuel_limit;
                }
                Err(failure)
            }
        };
        Ok(Outcome { fuel_used, result })
    }
}

/// Maps a wasmtime error to the guest's failure, or to a host error when the guest is not the
/// cause. Unknown errors are host errors: treating them as contract failures could commit a
/// machine-dependent result.
fn classify(e: wasmtime::Error) -> Result<Failure, RuntimeError> {
    if let Some(t) = e.downcast_ref::<HostTrap>() {
        return Ok(match t {
            HostTrap::OutOfFuel => Failure::OutOfFuel,
            HostTrap::MemoryLimit => Failure::MemoryLimit,
            HostTrap::TableLimit => Failure::TableLimit,
            HostTrap::Invalid(m) => Failure::InvalidHostCall(m.clone()),
            HostTrap::Abort(m) => Failure::Panic(m.clone()),
            HostTrap::State(s) => return Err(RuntimeError::State(s.clone())),
        });
    }
    if let Some(t) = e.downcast_ref::<Trap>() {
        return Ok(match t {
            Trap::OutOfFuel => Failure::OutOfFuel,
            Trap::StackOverflow => Failure::StackOverflow,
            other => Failure::Trap(other.to_string()),
        });
    }
    Err(RuntimeError::engine(e))
}

thread_local! {
    static EXEC_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn on_exec_thread_now() -> bool {
    EXEC_THREAD.with(Cell::get)
}

/// Spawns a thread that may run guests: its native stack is [`EXEC_THREAD_STACK_BYTES`], far
/// above the wasm stack limit, so that deep guest recursion ends in a stack-overflow failure and
/// never in a process abort. The node runs its execution stage and its query workers on these.
pub fn spawn_exec_thread<F, T>(name: String, f: F) -> std::io::Result<std::thread::JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name(name)
        .stack_size(EXEC_THREAD_STACK_BYTES)
        .spawn(move || {
            EXEC_THREAD.with(|c| c.set(true));
            f()
        })
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `f` on an executor thread: here if this is one, else on a shared one (started on first
/// use) while this thread waits.
fn on_exec_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RuntimeError> {
    if on_exec_thread_now() {
        return Ok(f());
    }
    static SHARED: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    let sender = SHARED.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        spawn_exec_thread("vellum-exec-shared".into(), move || {
            while let Ok(job) = rx.recv() {
                job();
            }
        })
        .ok()
        .map(|_| tx)
    });
    let Some(sender) = sender else {
        return Err(RuntimeError::ExecutorGone);
    };
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    sender
        .send(Box::new(move || {
            let _ = done_tx.send(f());
        }))
        .map_err(|_| RuntimeError::ExecutorGone)?;
    done_rx.recv().map_err(|_| RuntimeError::ExecutorGone)
}
