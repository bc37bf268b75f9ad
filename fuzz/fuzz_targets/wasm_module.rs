//! Arbitrary bytes as a contract: validation never panics, and a module that validates deploys
//! and runs every entry point to a typed outcome within its fuel, never a host panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use vellum_runtime::{Call, EntryPoint, Env, MemoryState, Runtime, RuntimeConfig, RuntimeError};

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime"))
}

fuzz_target!(|data: &[u8]| {
    if vellum_runtime::validate(data).is_err() {
        return;
    }
    let rt = runtime();
    let code_hash = match rt.deploy(data) {
        Ok(h) => h,
        // A validated module may still be refused by the compiler only as a validation error.
        Err(RuntimeError::Validation(_)) => return,
        Err(e) => panic!("host error deploying a validated module: {e}"),
    };
    for entry in [EntryPoint::Instantiate, EntryPoint::Execute, EntryPoint::Query] {
        let call = Call { code_hash, entry, msg: b"{}".to_vec(), env: Env::default(), fuel_limit: 1_000_000 };
        match rt.call(call, Arc::new(MemoryState::default())) {
            Ok(outcome) => assert!(outcome.fuel_used <= 1_000_000),
            Err(e) => panic!("host error running a validated module: {e}"),
        }
    }
});
