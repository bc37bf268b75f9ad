//! Runtime benchmarks, run on an executor thread exactly as the node runs calls.
//!
//! `cargo bench -p vellum-runtime --bench runtime` prints:
//! - `custody_register/instantiate_and_call`: a fresh instance from the warm `InstancePre` plus
//!   the custody contract's `register` (JSON parse, two storage reads, three writes, an event);
//! - `host_to_guest/empty_execute`: a fresh instance plus a call of an entry point that returns
//!   at once: the fixed cost of any call;
//! - `host_function/block_height_x1000` and `.../loop_x1000`: 1,000 host calls against the same
//!   loop without them; the difference divided by 1,000 is one host-function call;
//! - `module_load/disk_cache` against `module_load/compile`: the custody module loaded from the
//!   on-disk cache and compiled from wasm.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use std::hint::black_box;

use criterion::Criterion;
use vellum_runtime::{
    Call, CodeHash, EntryPoint, Env, MemoryState, ModuleSource, Runtime, RuntimeConfig,
};

const FUEL: u64 = 100_000_000;

fn custody_wasm() -> Vec<u8> {
    vellum_testing::build_contract(concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/custody"))
        .expect("build custody")
}

fn loop_module(with_host_call: bool) -> Vec<u8> {
    let body = if with_host_call { "call $h drop" } else { "" };
    wat::parse_str(format!(
        r#"(module
            (import "vellum" "block_height" (func $h (result i64)))
            (memory (export "memory") 1)
            (func (export "vellum_abi_v1"))
            (func (export "instantiate") (result i32) i32.const 0)
            (func (export "query") (result i32) i32.const 0)
            (func (export "execute") (result i32) (local $i i32)
                (loop $l {body}
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
                i32.const 0))"#
    ))
    .expect("wat")
}

fn empty_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (func (export "vellum_abi_v1"))
            (func (export "instantiate") (result i32) i32.const 0)
            (func (export "execute") (result i32) i32.const 0)
            (func (export "query") (result i32) i32.const 0))"#,
    )
    .expect("wat")
}

fn call(code_hash: CodeHash, msg: &[u8]) -> Call {
    Call {
        code_hash,
        entry: EntryPoint::Execute,
        msg: msg.to_vec(),
        env: Env {
            caller: [7; 20],
            contract: [9; 20],
            block_height: 1,
            block_time_ms: 1,
            tx_hash: [3; 32],
        },
        fuel_limit: FUEL,
    }
}

fn benches(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
    })
    .expect("runtime");
    let custody = custody_wasm();
    let custody_hash = rt.deploy(&custody).expect("deploy custody");
    let state: Arc<MemoryState> = Arc::new(MemoryState::default());

    let register = br#"{"register":{"document_id":"bench-doc","sha256":"1111111111111111111111111111111111111111111111111111111111111111"}}"#;
    let probe = rt
        .call(call(custody_hash, register), state.clone())
        .expect("call");
    assert!(probe.result.is_ok(), "{:?}", probe.result);
    println!("custody register: fuel_used = {}", probe.fuel_used);
    c.bench_function("custody_register/instantiate_and_call", |b| {
        b.iter(|| {
            rt.call(black_box(call(custody_hash, register)), state.clone())
                .expect("call")
        })
    });

    let empty = rt.deploy(&empty_module()).expect("deploy");
    c.bench_function("host_to_guest/empty_execute", |b| {
        b.iter(|| {
            rt.call(black_box(call(empty, b"{}")), state.clone())
                .expect("call")
        })
    });

    let with_calls = rt.deploy(&loop_module(true)).expect("deploy");
    let without = rt.deploy(&loop_module(false)).expect("deploy");
    c.bench_function("host_function/block_height_x1000", |b| {
        b.iter(|| {
            rt.call(black_box(call(with_calls, b"{}")), state.clone())
                .expect("call")
        })
    });
    c.bench_function("host_function/loop_x1000", |b| {
        b.iter(|| {
            rt.call(black_box(call(without, b"{}")), state.clone())
                .expect("call")
        })
    });

    let mut code_state = MemoryState::default();
    code_state.codes.insert(custody_hash, custody.clone());
    c.bench_function("module_load/disk_cache", |b| {
        b.iter(|| {
            rt.forget_compiled();
            assert_eq!(
                rt.prepare(&custody_hash, &code_state).expect("prepare"),
                ModuleSource::Disk
            );
        })
    });
    let no_cache = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let mut group = c.benchmark_group("module_load");
    group.sample_size(10);
    group.bench_function("compile", |b| {
        b.iter(|| {
            no_cache.forget_compiled();
            assert_eq!(
                no_cache
                    .prepare(&custody_hash, &code_state)
                    .expect("prepare"),
                ModuleSource::Compiled
            );
        })
    });
    group.finish();
}

fn main() {
    // Guests run only on executor threads (big native stack); run the whole bench on one, as
    // the node's execution stage does.
    let handle = vellum_runtime::spawn_exec_thread("bench".into(), || {
        let mut c = Criterion::default()
            .configure_from_args()
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        benches(&mut c);
        c.final_summary();
    })
    .expect("spawn");
    handle.join().expect("bench thread");
}
