//! The ABI decoders (events, scan results) never panic and re-encode what they decode.
//! The logic lives in `vellum_fuzz_cases::abi_codecs`, which the workspace's tests also run.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vellum_fuzz_cases::abi_codecs::run(data));
