//! The VM shoot-out's Vellum and wasmi parts: the `contracts/bench` wasm on Vellum's runtime as
//! the node uses it (pooling allocator, cached `InstancePre`, fuel, an executor thread), and the
//! same wasm on wasmi behind the same host functions (`wasmi_host`).

use std::sync::Arc;

use bench_harness::{Mode, Table, Timing, fmt_ns, measure, record};
use vellum_runtime::{
    Call, CodeHash, EntryPoint, Env, MemoryState, ModuleSource, Outcome, Runtime, RuntimeConfig,
};
use wasmi::{Module, Store, TypedFunc};

use crate::wasmi_host::{self, HostState};

/// Fuel for every call: far above what the heavy run needs.
const FUEL: u64 = 1_000_000_000;
/// Chained SHA-256 rounds of the compute-heavy run (the same in every engine's part).
pub(crate) const HEAVY_ROUNDS: u32 = 1_000;
/// Storage reads in the host-call run.
pub(crate) const READS: u32 = 1_000;

/// The 256-byte `store` message of the small contract (the same bytes in every part; the
/// CosmWasm part builds it the same way).
pub(crate) fn store_msg(entry: &str) -> Vec<u8> {
    let head = format!(r#"{{"{entry}":{{"id":"bench-doc-000001","data":""#);
    let tail = r#""}}"#;
    let data = "x".repeat(256 - head.len() - tail.len());
    format!("{head}{data}{tail}").into_bytes()
}

fn heavy_msg() -> Vec<u8> {
    format!(r#"{{"heavy":{{"rounds":{HEAVY_ROUNDS}}}}}"#).into_bytes()
}

fn reads_msg(n: u32) -> Vec<u8> {
    format!(r#"{{"reads":{{"n":{n}}}}}"#).into_bytes()
}

fn env() -> Env {
    Env {
        contract: [9; 20],
        caller: [7; 20],
        block_height: 1,
        block_time_ms: 1,
        tx_hash: [3; 32],
    }
}

/// The bench contract's wasm, built with the workspace's contract profile.
pub(crate) fn contract_wasm() -> Result<Vec<u8>, String> {
    vellum_testing::build_contract(concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/bench"))
        .map_err(|e| e.to_string())
}

struct Vellum {
    rt: Runtime,
    code: CodeHash,
    state: Arc<MemoryState>,
}

impl Vellum {
    fn call(&self, msg: &[u8]) -> Outcome {
        let call = Call {
            code_hash: self.code,
            entry: EntryPoint::Execute,
            msg: msg.to_vec(),
            env: env(),
            fuel_limit: FUEL,
        };
        match self.rt.call(call, self.state.clone()) {
            Ok(o) => o,
            Err(e) => panic!("vellum call: {e}"),
        }
    }

    fn ok(&self, msg: &[u8]) -> Outcome {
        let o = self.call(msg);
        assert!(o.result.is_ok(), "vellum call failed: {:?}", o.result);
        o
    }
}

/// The figures of one engine.
#[derive(Default)]
struct Figures {
    compile: Option<Timing>,
    compile_lazy: Option<Timing>,
    cached_load: Option<Timing>,
    store: Option<Timing>,
    store_guest: Option<Timing>,
    call_only: Option<Timing>,
    reads_0: Option<Timing>,
    reads_n: Option<Timing>,
    heavy: Option<Timing>,
}

impl Figures {
    fn host_call(&self) -> Option<f64> {
        Some((self.reads_n?.median_ns - self.reads_0?.median_ns) / f64::from(READS))
    }

    fn record(&self, engine: &str) {
        let put = |k: &str, t: Option<Timing>| {
            if let Some(t) = t {
                record(&format!("vm.{engine}.{k}"), t.median_ns);
                record(&format!("vm.{engine}.{k}.wall"), t.wall_median_ns);
            }
        };
        put("compile_ns", self.compile);
        put("compile_lazy_ns", self.compile_lazy);
        put("cached_load_ns", self.cached_load);
        put("store.instantiate_call_ns", self.store);
        put("store_guest_hash.instantiate_call_ns", self.store_guest);
        put("store.call_only_ns", self.call_only);
        put("heavy_ns", self.heavy);
        if let Some(h) = self.host_call() {
            record(&format!("vm.{engine}.host_call_ns"), h);
        }
    }
}

fn vellum(mode: Mode, wasm: &[u8]) -> Figures {
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
    })
    .unwrap_or_else(|e| panic!("runtime: {e}"));
    let code = rt.deploy(wasm).unwrap_or_else(|e| panic!("deploy: {e}"));
    let mut code_state = MemoryState::default();
    code_state.codes.insert(code, wasm.to_vec());

    let mut f = Figures::default();
    let no_disk = Runtime::new(RuntimeConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    f.compile = Some(measure(mode, 1, mode.pick(1, 5), || {
        no_disk.forget_compiled();
        let source = no_disk.prepare(&code, &code_state);
        assert_eq!(source.ok(), Some(ModuleSource::Compiled));
    }));
    f.cached_load = Some(measure(mode, 1, mode.pick(2, 20), || {
        rt.forget_compiled();
        let source = rt.prepare(&code, &code_state);
        assert_eq!(source.ok(), Some(ModuleSource::Disk));
    }));

    let v = Vellum {
        rt,
        code,
        state: Arc::new(MemoryState::default()),
    };
    let store = store_msg("store");
    let store_guest = store_msg("store_guest_hash");
    let o = v.ok(&store);
    eprintln!(
        "vellum store: fuel_used = {}, writes = {}",
        o.fuel_used,
        o.result.as_ref().map_or(0, |s| s.writes.len())
    );
    v.ok(&store_guest);
    f.store = Some(measure(mode, 10, 5, || v.call(&store)));
    f.store_guest = Some(measure(mode, 10, 5, || v.call(&store_guest)));
    let (none, many) = (reads_msg(0), reads_msg(READS));
    v.ok(&many);
    f.reads_0 = Some(measure(mode, 10, 5, || v.call(&none)));
    f.reads_n = Some(measure(mode, 2, 5, || v.call(&many)));
    let heavy = heavy_msg();
    v.ok(&heavy);
    f.heavy = Some(measure(mode, 1, mode.pick(2, 10), || v.call(&heavy)));
    f
}

struct Wasmi {
    engine: wasmi::Engine,
    linker: wasmi::Linker<HostState>,
    module: Module,
}

impl Wasmi {
    fn state(msg: &[u8]) -> HostState {
        let e = env();
        HostState {
            input: msg.to_vec(),
            caller: e.caller,
            contract: e.contract,
            block_height: e.block_height,
            block_time_ms: e.block_time_ms,
            tx_hash: e.tx_hash,
            ..HostState::default()
        }
    }

    /// A fresh store and instance, and the `execute` entry point.
    fn instance(&self, msg: &[u8]) -> (Store<HostState>, TypedFunc<(), i32>) {
        let mut store = Store::new(&self.engine, Self::state(msg));
        let result = store.set_fuel(FUEL).and_then(|()| {
            let instance = self
                .linker
                .instantiate_and_start(&mut store, &self.module)?;
            let memory = instance.get_memory(&store, vellum_abi::MEMORY_EXPORT);
            store.data_mut().memory = memory;
            instance.get_typed_func::<(), i32>(&store, vellum_abi::ENTRY_EXECUTE)
        });
        match result {
            Ok(func) => (store, func),
            Err(e) => panic!("wasmi instantiate: {e}"),
        }
    }

    fn run(store: &mut Store<HostState>, func: &TypedFunc<(), i32>) -> i32 {
        match func.call(store, ()) {
            Ok(code) => code,
            Err(e) => panic!("wasmi call: {e}"),
        }
    }

    /// Instantiate and call, as Vellum's runtime does for every call.
    fn call(&self, msg: &[u8]) -> (i32, Vec<u8>) {
        let (mut store, func) = self.instance(msg);
        let code = Self::run(&mut store, &func);
        (code, store.into_data().output)
    }
}

fn wasmi_part(mode: Mode, wasm: &[u8]) -> Figures {
    let mut f = Figures::default();
    let eager = wasmi_host::engine(true);
    f.compile = Some(measure(mode, 1, mode.pick(2, 20), || {
        Module::new(&eager, wasm).unwrap_or_else(|e| panic!("wasmi compile: {e}"))
    }));
    let lazy = wasmi_host::engine(false);
    f.compile_lazy = Some(measure(mode, 1, mode.pick(2, 20), || {
        Module::new(&lazy, wasm).unwrap_or_else(|e| panic!("wasmi compile: {e}"))
    }));
    let linker = wasmi_host::linker(&eager).unwrap_or_else(|e| panic!("wasmi linker: {e}"));
    let module = Module::new(&eager, wasm).unwrap_or_else(|e| panic!("wasmi compile: {e}"));
    let w = Wasmi {
        engine: eager,
        linker,
        module,
    };
    let ok = |msg: &[u8]| {
        let (code, out) = w.call(msg);
        assert_eq!(
            code,
            0,
            "wasmi call failed: {}",
            String::from_utf8_lossy(&out)
        );
        out
    };
    let store = store_msg("store");
    let store_guest = store_msg("store_guest_hash");
    ok(&store);
    ok(&store_guest);
    f.store = Some(measure(mode, 10, 5, || w.call(&store)));
    f.store_guest = Some(measure(mode, 10, 5, || w.call(&store_guest)));

    // Call only: one instance serves 100 calls (the SDK's bump allocator never frees, so an
    // instance is not kept forever); instantiation is outside the timed region.
    const PER_INSTANCE: usize = 100;
    let (mut cpu, mut wall) = (Vec::new(), Vec::new());
    let started = std::time::Instant::now();
    while cpu.len() < 5 || started.elapsed() < mode.budget() {
        let (mut st, func) = w.instance(&store);
        let c = bench_harness::ProcessTime::now();
        let t = std::time::Instant::now();
        for _ in 0..PER_INSTANCE {
            let data = st.data_mut();
            data.overlay.clear();
            data.overlay_bytes = 0;
            data.output.clear();
            let _ = st.set_fuel(FUEL);
            std::hint::black_box(Wasmi::run(&mut st, &func));
        }
        wall.push(t.elapsed().as_nanos() as f64 / PER_INSTANCE as f64);
        cpu.push(c.elapsed().as_nanos() as f64 / PER_INSTANCE as f64);
    }
    let wall = bench_harness::summarize(&mut wall);
    f.call_only = Some(Timing {
        wall_median_ns: wall.median_ns,
        ..bench_harness::summarize(&mut cpu)
    });

    let (none, many) = (reads_msg(0), reads_msg(READS));
    ok(&many);
    f.reads_0 = Some(measure(mode, 10, 5, || w.call(&none)));
    f.reads_n = Some(measure(mode, 1, 5, || w.call(&many)));
    let heavy = heavy_msg();
    let out = ok(&heavy);
    assert!(
        out.len() > 60,
        "heavy output: {}",
        String::from_utf8_lossy(&out)
    );
    f.heavy = Some(measure(mode, 1, mode.pick(2, 5), || w.call(&heavy)));
    f
}

fn cell(t: Option<Timing>) -> String {
    t.map_or_else(|| "n/a".into(), |t| bench_harness::cell(&t))
}

/// Runs the part and prints its Markdown section.
pub(crate) fn run(mode: Mode) -> Result<(), String> {
    let wasm = contract_wasm()?;
    record("vm.vellum.wasm_bytes", wasm.len() as f64);
    let w = wasm.clone();
    let handle = vellum_runtime::spawn_exec_thread("bench-vm".into(), move || vellum(mode, &w))
        .map_err(|e| e.to_string())?;
    let v = handle.join().map_err(|_| "the Vellum part panicked")?;
    let wi = wasmi_part(mode, &wasm);
    v.record("vellum");
    wi.record("wasmi");

    println!("### VM shoot-out: Vellum runtime (wasmtime 48) and wasmi 2.0 on the same wasm\n");
    println!(
        "Contract `contracts/bench`: {} bytes. wasmi runs it behind the same host functions \
         (`bench/src/wasmi_host.rs`) with fuel metering on. Medians of process CPU time; the \
         wall-clock median follows where it differs by over 10 %.\n",
        wasm.len()
    );
    let mut t = Table::new(&["measurement", "Vellum", "wasmi"]);
    t.row(&[
        "cold load: compile (Vellum: validate + cranelift + `InstancePre`; wasmi: eager translation)",
        &cell(v.compile),
        &cell(wi.compile),
    ]);
    t.row(&[
        "cold load: wasmi lazy translation (its default)",
        "-",
        &cell(wi.compile_lazy),
    ]);
    t.row(&[
        "cached load: from the on-disk cache (wasmi has none)",
        &cell(v.cached_load),
        "n/a",
    ]);
    t.row(&[
        "instantiate + call `store` (256-byte message, host SHA-256, one write)",
        &cell(v.store),
        &cell(wi.store),
    ]);
    t.row(&[
        "instantiate + call `store_guest_hash` (the same, SHA-256 in wasm)",
        &cell(v.store_guest),
        &cell(wi.store_guest),
    ]);
    t.row(&[
        "call only: `store` on a reused instance (Vellum always instantiates)",
        &cell(v.call_only),
        &cell(wi.call_only),
    ]);
    t.row(&[
        "one host call (`storage_read` of an absent key): (`reads` n=1000 − n=0) / 1000",
        &v.host_call().map_or("n/a".into(), fmt_ns),
        &wi.host_call().map_or("n/a".into(), fmt_ns),
    ]);
    t.row(&[
        "compute-heavy: instantiate + call `heavy` (1,000 chained SHA-256 in wasm)",
        &cell(v.heavy),
        &cell(wi.heavy),
    ]);
    println!("{}", t.finish());
    Ok(())
}
