//! Store operations as an arbitrary sequence, checked against an in-memory model.
//! The logic lives in `vellum_fuzz_cases::store_model`, which the workspace's tests also run.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vellum_fuzz_cases::store_model::run(data));
