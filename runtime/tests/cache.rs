//! The compiled-module cache: a restart loads modules from disk without recompiling, a corrupted
//! or truncated cache file is detected and recompiled, and missing code is a typed error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use vellum_runtime::{
    Call, CodeHash, EntryPoint, Env, MemoryState, ModuleSource, Runtime, RuntimeConfig,
    RuntimeError,
};

fn counter_wasm() -> Vec<u8> {
    vellum_testing::build_contract(concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/counter"))
        .unwrap()
}

fn runtime(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.to_path_buf()),
    })
    .unwrap()
}

fn instantiate(rt: &Runtime, code_hash: CodeHash, state: MemoryState) -> vellum_runtime::Outcome {
    let call = Call {
        code_hash,
        entry: EntryPoint::Instantiate,
        msg: br#"{"count": 3}"#.to_vec(),
        env: Env::default(),
        fuel_limit: 10_000_000,
    };
    rt.call(call, Arc::new(state)).unwrap()
}

fn cache_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

#[test]
fn a_new_runtime_loads_from_disk_without_the_code() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let wasm = counter_wasm();
    let first = runtime(&dir);
    let hash = first.deploy(&wasm).unwrap();
    assert_eq!(cache_files(&dir).len(), 1);
    assert_eq!(first.metrics().compilations.load(Relaxed), 1);
    assert_eq!(first.metrics().disk_loads.load(Relaxed), 0);

    // A "restarted" node: the state has no code at all, so only the disk cache can serve it.
    let rt = runtime(&dir);
    assert_eq!(
        rt.prepare(&hash, &MemoryState::default()).unwrap(),
        ModuleSource::Disk
    );
    assert_eq!(
        rt.prepare(&hash, &MemoryState::default()).unwrap(),
        ModuleSource::Memory
    );
    assert_eq!(rt.metrics().compilations.load(Relaxed), 0);
    assert_eq!(rt.metrics().disk_loads.load(Relaxed), 1);
    assert!(
        instantiate(&rt, hash, MemoryState::default())
            .result
            .is_ok()
    );
}

#[test]
fn corrupted_cache_files_are_recompiled_from_the_code() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let wasm = counter_wasm();
    let hash = runtime(&dir).deploy(&wasm).unwrap();
    let file = cache_files(&dir).pop().unwrap();
    let mut state = MemoryState::default();
    state.codes.insert(hash, wasm.clone());

    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
    let rt = runtime(&dir);
    assert_eq!(rt.prepare(&hash, &state).unwrap(), ModuleSource::Compiled);
    assert_eq!(rt.metrics().compilations.load(Relaxed), 1);
    assert_eq!(rt.metrics().disk_loads.load(Relaxed), 0);
    assert!(instantiate(&rt, hash, state.clone()).result.is_ok());

    std::fs::write(&file, &bytes[..10]).unwrap();
    assert_eq!(
        runtime(&dir).prepare(&hash, &state).unwrap(),
        ModuleSource::Compiled
    );
    // The recompilation rewrote a good file.
    assert_eq!(
        runtime(&dir).prepare(&hash, &state).unwrap(),
        ModuleSource::Disk
    );
}

#[test]
fn missing_code_is_a_typed_error() {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let hash = CodeHash([7; 32]);
    match rt.prepare(&hash, &MemoryState::default()) {
        Err(RuntimeError::CodeNotFound(h)) => assert_eq!(h, hash),
        other => panic!("{other:?}"),
    }
    let call = Call {
        code_hash: hash,
        entry: EntryPoint::Execute,
        msg: vec![],
        env: Env::default(),
        fuel_limit: 1,
    };
    assert!(matches!(
        rt.call(call, Arc::new(MemoryState::default())),
        Err(RuntimeError::CodeNotFound(_))
    ));
}

#[test]
fn stored_code_that_fails_validation_is_not_compiled() {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut state = MemoryState::default();
    let bogus = b"\0asm\x01\0\0\0garbage".to_vec();
    let hash = CodeHash::of(&bogus);
    state.codes.insert(hash, bogus);
    assert!(matches!(
        rt.prepare(&hash, &state),
        Err(RuntimeError::Validation(_))
    ));
}

#[test]
fn concurrent_compilations_of_one_module_leave_a_loadable_cache_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let wasm = counter_wasm();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (dir, wasm) = (dir.clone(), wasm.clone());
            std::thread::spawn(move || runtime(&dir).deploy(&wasm).unwrap())
        })
        .collect();
    let hashes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(hashes.windows(2).all(|w| w[0] == w[1]));
    // Exactly one cache file (no stray temporaries) and it loads without recompiling.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(
        runtime(&dir)
            .prepare(&hashes[0], &MemoryState::default())
            .unwrap(),
        ModuleSource::Disk
    );
}
