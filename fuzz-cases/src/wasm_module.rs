//! Arbitrary bytes as a contract: validation never panics, and a module that validates deploys
//! and runs every entry point to a typed outcome within its fuel, never a host error or a
//! panic, with the same outcome when run again (determinism).

use std::sync::{Arc, OnceLock};

use vellum_runtime::{
    Call, EntryPoint, Env, MemoryState, Runtime, RuntimeConfig, RuntimeError, validate,
};

/// Fuel given to each entry point.
pub const FUEL: u64 = 1_000_000;

/// The runtime every input shares (modules stay cached by code hash, as in the node).
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime"))
}

/// The target.
pub fn run(data: &[u8]) {
    if validate(data).is_err() {
        return;
    }
    let rt = runtime();
    let code_hash = match rt.deploy(data) {
        Ok(h) => h,
        // A validated module may still be refused by the compiler only as a validation error.
        Err(RuntimeError::Validation(_)) => return,
        Err(e) => panic!("host error deploying a validated module: {e}"),
    };
    for entry in [
        EntryPoint::Instantiate,
        EntryPoint::Execute,
        EntryPoint::Query,
    ] {
        let call = Call {
            code_hash,
            entry,
            msg: b"{}".to_vec(),
            env: Env::default(),
            fuel_limit: FUEL,
        };
        let run = || match rt.call(call.clone(), Arc::new(MemoryState::default())) {
            Ok(outcome) => outcome,
            Err(e) => panic!("host error running a validated module ({entry:?}): {e}"),
        };
        let outcome = run();
        assert!(
            outcome.fuel_used <= FUEL,
            "{entry:?} used {} fuel",
            outcome.fuel_used
        );
        if let (EntryPoint::Query, Ok(s)) = (entry, &outcome.result) {
            assert!(s.writes.is_empty() && s.events.is_empty(), "a query wrote");
        }
        assert_eq!(run(), outcome, "{entry:?} is not deterministic");
    }
}
