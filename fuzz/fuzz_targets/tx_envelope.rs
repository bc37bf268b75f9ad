//! Envelope decoding and verification never panic; a verifying envelope is consistent.
//! The logic lives in `vellum_fuzz_cases::tx_envelope`, which the workspace's tests also run.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vellum_fuzz_cases::tx_envelope::run(data));
