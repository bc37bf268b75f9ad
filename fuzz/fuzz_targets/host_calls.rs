//! Every host function fed arbitrary pointers, lengths and counts from a real guest.
//! The logic lives in `vellum_fuzz_cases::host_calls`, which the workspace's tests also run.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vellum_fuzz_cases::host_calls::run(data));
