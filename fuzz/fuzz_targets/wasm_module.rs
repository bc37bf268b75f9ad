//! Arbitrary bytes as a contract: validation, deploy and metered execution end typed and deterministic.
//! The logic lives in `vellum_fuzz_cases::wasm_module`, which the workspace's tests also run.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vellum_fuzz_cases::wasm_module::run(data));
