//! The CosmWasm part of the VM shoot-out (see `bench/README.md`): the bench logic written
//! against cosmwasm-std (`../contract`) on cosmwasm-vm 2.3.4 with wasmer's singlepass compiler,
//! gas metering, the file-system and memory module caches and the mock backend. Each call is
//! run the way wasmd runs it: `get_instance` from the memory cache, the raw call with
//! pre-serialised env and info, `recycle` to take the backend back.
//!
//! `cargo run --release -p cosmwasm-bench [-- --smoke]` from `bench/cosmwasm` prints a Markdown
//! section and records figures for the suite's summary (`VELLUM_PERF_FIGURES`).

mod lower;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use bench_harness::{Mode, Table, cell, fmt_ns, measure, record};
use cosmwasm_std::{Addr, Checksum, MessageInfo};
use cosmwasm_vm::testing::{MockApi, MockQuerier, MockStorage, mock_backend, mock_env};
use cosmwasm_vm::{
    Backend, Cache, CacheOptions, Instance, InstanceOptions, Size, call_execute_raw,
    call_instantiate_raw, capabilities_from_csv, to_vec,
};

// wasmer 4.3.7 calls `__rust_probestack` from its generated code but, on Rust 1.95, nothing in
// the host binary defines it any more. This is compiler-builtins' x86_64 implementation: probe
// every page of a large new stack frame in order, so the guard page is never skipped.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".globl __rust_probestack",
    ".type __rust_probestack, @function",
    "__rust_probestack:",
    "push rbp",
    "mov rbp, rsp",
    "mov r11, rax",
    "cmp r11, 0x1000",
    "jna 3f",
    "2:",
    "sub rsp, 0x1000",
    "test qword ptr [rsp+8], rsp",
    "sub r11, 0x1000",
    "cmp r11, 0x1000",
    "ja 2b",
    "3:",
    "sub rsp, r11",
    "test qword ptr [rsp+8], rsp",
    "add rsp, rax",
    "leave",
    "ret",
    ".size __rust_probestack, . - __rust_probestack",
);

type Be = Backend<MockApi, MockStorage, MockQuerier>;
type Inst = Instance<MockApi, MockStorage, MockQuerier>;

/// Gas for every call: far above what the heavy run needs (gas is metered, never exhausted).
const GAS: u64 = 1_000_000_000_000_000;
/// Chained SHA-256 rounds of the compute-heavy run (the same in every engine's part).
pub const HEAVY_ROUNDS: u32 = 1_000;
/// Storage reads in the host-call run.
const READS: u32 = 1_000;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("cosmwasm-bench: {msg}");
    std::process::exit(1)
}

/// Builds `../contract` for wasm32 with the `contract` profile and returns the wasm's path.
fn build_contract() -> PathBuf {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&ws)
        .args([
            "build",
            "--profile",
            "contract",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "bench-cosmwasm",
            "--message-format=json-render-diagnostics",
        ])
        .output()
        .unwrap_or_else(|e| fail(format!("running cargo: {e}")));
    if !out.status.success() {
        fail(format!(
            "building the CosmWasm contract failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .unwrap_or_else(|| fail("no wasm artifact for bench-cosmwasm"))
}

fn cache(dir: &Path) -> Cache<MockApi, MockStorage, MockQuerier> {
    let options = CacheOptions::new(
        dir,
        capabilities_from_csv(
            "iterator,staking,stargate,cosmwasm_1_1,cosmwasm_1_2,cosmwasm_1_3,cosmwasm_1_4,cosmwasm_2_0,cosmwasm_2_1,cosmwasm_2_2",
        )
        .into_iter()
        .collect::<HashSet<_>>(),
        Size::mebi(200),
        Size::mebi(32),
    );
    // SAFETY: the cache directory is a fresh temporary directory this process alone writes.
    unsafe { Cache::new(options) }.unwrap_or_else(|e| fail(format!("cache: {e}")))
}

struct Ctx {
    cache: Cache<MockApi, MockStorage, MockQuerier>,
    checksum: Checksum,
    env: Vec<u8>,
    info: Vec<u8>,
    backend: Option<Be>,
}

fn options() -> InstanceOptions {
    InstanceOptions { gas_limit: GAS }
}

fn check(result: &[u8]) {
    let v: serde_json::Value =
        serde_json::from_slice(result).unwrap_or_else(|e| fail(format!("call result: {e}")));
    if v.get("ok").is_none() {
        fail(format!("call failed: {v}"));
    }
}

impl Ctx {
    fn instance(&mut self) -> Inst {
        let backend = self.backend.take().unwrap_or_else(|| mock_backend(&[]));
        self.cache
            .get_instance(&self.checksum, backend, options())
            .unwrap_or_else(|e| fail(format!("get_instance: {e}")))
    }

    fn call(&self, instance: &mut Inst, msg: &[u8]) -> Vec<u8> {
        call_execute_raw(instance, &self.env, &self.info, msg)
            .unwrap_or_else(|e| fail(format!("execute: {e}")))
    }

    /// What wasmd does for each call.
    fn instantiate_and_call(&mut self, msg: &[u8]) -> Vec<u8> {
        let mut instance = self.instance();
        let out = self.call(&mut instance, msg);
        self.backend = instance.recycle();
        out
    }
}

/// The 256-byte `store` message of the small contract (the same bytes in every part).
pub fn store_msg() -> Vec<u8> {
    let head = r#"{"store":{"id":"bench-doc-000001","data":""#;
    let tail = r#""}}"#;
    let data = "x".repeat(256 - head.len() - tail.len());
    let msg = format!("{head}{data}{tail}").into_bytes();
    assert_eq!(msg.len(), 256);
    msg
}

fn main() {
    let mode = Mode::from_args();
    let wasm_path = build_contract();
    let raw = std::fs::read(&wasm_path).unwrap_or_else(|e| fail(format!("reading wasm: {e}")));
    let (wasm, replaced) = lower::lower_bulk_memory(&raw).unwrap_or_else(|e| fail(e));

    let dir = tempfile::tempdir().unwrap_or_else(|e| fail(e));
    let compile = measure(mode, 1, mode.pick(1, 5), || {
        let d = tempfile::tempdir().unwrap_or_else(|e| fail(e));
        cache(d.path())
            .store_code(&wasm, true, true)
            .unwrap_or_else(|e| fail(format!("store_code: {e}")))
    });
    let first = cache(dir.path());
    let checksum = first
        .store_code(&wasm, true, true)
        .unwrap_or_else(|e| fail(format!("store_code: {e}")));
    drop(first);
    // A new cache over the same directory: the module comes from the file-system cache.
    let cached_load = measure(mode, 1, mode.pick(2, 20), || {
        let c = cache(dir.path());
        let i = c
            .get_instance(&checksum, mock_backend(&[]), options())
            .unwrap_or_else(|e| fail(format!("get_instance: {e}")));
        assert_eq!(c.stats().hits_fs_cache, 1);
        i.recycle()
    });

    let api = MockApi::default();
    let info = MessageInfo {
        sender: Addr::unchecked(api.addr_make("creator")),
        funds: vec![],
    };
    let mut ctx = Ctx {
        cache: cache(dir.path()),
        checksum,
        env: to_vec(&mock_env()).unwrap_or_else(|e| fail(e)),
        info: to_vec(&info).unwrap_or_else(|e| fail(e)),
        backend: None,
    };
    {
        let mut instance = ctx.instance();
        let out = call_instantiate_raw(&mut instance, &ctx.env, &ctx.info, b"{}")
            .unwrap_or_else(|e| fail(format!("instantiate: {e}")));
        check(&out);
        ctx.backend = instance.recycle();
    }

    let store = store_msg();
    check(&ctx.instantiate_and_call(&store));
    let inst_call = measure(mode, 10, 5, || ctx.instantiate_and_call(&store));
    let instantiate_only = measure(mode, 10, 5, || {
        let i = ctx.instance();
        ctx.backend = i.recycle();
    });
    let mut reused = ctx.instance();
    let call_only = measure(mode, 10, 5, || ctx.call(&mut reused, &store));
    ctx.backend = reused.recycle();

    let reads = |n: u32| format!(r#"{{"reads":{{"n":{n}}}}}"#).into_bytes();
    let (none, many) = (reads(0), reads(READS));
    check(&ctx.instantiate_and_call(&many));
    let reads_0 = measure(mode, 4, 5, || ctx.instantiate_and_call(&none));
    let reads_n = measure(mode, 1, 5, || ctx.instantiate_and_call(&many));
    let host_call = (reads_n.median_ns - reads_0.median_ns) / f64::from(READS);

    let heavy_msg = format!(r#"{{"heavy":{{"rounds":{HEAVY_ROUNDS}}}}}"#).into_bytes();
    let out = ctx.instantiate_and_call(&heavy_msg);
    check(&out);
    let heavy = measure(mode, 1, mode.pick(2, 10), || {
        ctx.instantiate_and_call(&heavy_msg)
    });

    record("vm.cosmwasm.wasm_bytes", wasm.len() as f64);
    record("vm.cosmwasm.compile_ns", compile.median_ns);
    record("vm.cosmwasm.cached_load_ns", cached_load.median_ns);
    record("vm.cosmwasm.store.instantiate_call_ns", inst_call.median_ns);
    record("vm.cosmwasm.instantiate_ns", instantiate_only.median_ns);
    record("vm.cosmwasm.store.call_only_ns", call_only.median_ns);
    record("vm.cosmwasm.host_call_ns", host_call);
    record("vm.cosmwasm.heavy_ns", heavy.median_ns);
    for (k, t_) in [
        ("compile_ns", compile),
        ("cached_load_ns", cached_load),
        ("store.instantiate_call_ns", inst_call),
        ("store.call_only_ns", call_only),
        ("heavy_ns", heavy),
    ] {
        record(&format!("vm.cosmwasm.{k}.wall"), t_.wall_median_ns);
    }

    println!("### VM shoot-out: cosmwasm-vm 2.3.4 (wasmer 4.3.7 singlepass, mock backend)\n");
    println!(
        "Contract `bench/cosmwasm/contract`: {} bytes after lowering {} bulk-memory instructions \
         to loops (cosmwasm-vm refuses bulk memory). Medians of process CPU time; the wall-clock \
         median follows where it differs by over 10 %.\n",
        wasm.len(),
        replaced
    );
    let mut t = Table::new(&["measurement", "median", "samples"]);
    let rows = [
        (
            "cold load: `store_code` (checks, singlepass compile, persist) into a fresh cache",
            compile,
        ),
        (
            "cached load: new `Cache` over the directory, `get_instance` from the file-system cache",
            cached_load,
        ),
        (
            "instantiate + call `store` (256-byte message, guest SHA-256, one write): `get_instance` + `call_execute_raw` + `recycle`",
            inst_call,
        ),
        (
            "instantiate only: `get_instance` + `recycle`",
            instantiate_only,
        ),
        ("call only: `store` on a reused instance", call_only),
        ("instantiate + call `reads` n=0", reads_0),
        ("instantiate + call `reads` n=1000", reads_n),
        (
            "compute-heavy: instantiate + call `heavy` (1,000 chained SHA-256 in wasm)",
            heavy,
        ),
    ];
    for (name, t_) in rows {
        t.row(&[name.to_string(), cell(&t_), t_.samples.to_string()]);
    }
    t.row(&[
        "one host call (`db_read` of an absent key): (n=1000 − n=0) / 1000".to_string(),
        fmt_ns(host_call),
        "-".to_string(),
    ]);
    println!("{}", t.finish());
}
