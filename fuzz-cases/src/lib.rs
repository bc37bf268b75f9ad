//! The logic of every fuzz target, in one place that two drivers share:
//!
//! - `fuzz/` (nightly `cargo fuzz`, outside the workspace) wraps each `run` in `fuzz_target!`;
//! - `tests/targets.rs` (the README test command) replays every stored input under
//!   `fuzz/regressions/` and `fuzz/seeds/`, then a few thousand inputs generated from a fixed seed,
//!   so a short form of every target runs on stable in every `cargo test`.
//!
//! Each `run(&[u8])` accepts any bytes and panics exactly when the property it guards is broken;
//! the fuzzer reports a panic as a crash. See `fuzz/README.md` for the targets, commands and
//! figures.

// A fuzz target signals a broken property by panicking: assertions and `expect` are the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod abi_codecs;
pub mod host_calls;
pub mod store_model;
pub mod tx_envelope;
pub mod wasm_module;

use std::path::{Path, PathBuf};

/// A fuzz target's name and its entry point.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by name, as `cargo fuzz` knows it.
pub const TARGETS: [Target; 5] = [
    ("tx_envelope", tx_envelope::run),
    ("abi_codecs", abi_codecs::run),
    ("wasm_module", wasm_module::run),
    ("host_calls", host_calls::run),
    ("store_model", store_model::run),
];

/// The `fuzz/` directory of this repository.
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The stored inputs of a target, in name order: every file of `fuzz/regressions/<target>/`
/// (inputs that once crashed it) and `fuzz/seeds/<target>/` (a small committed corpus).
pub fn stored_inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["regressions", "seeds"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for p in paths {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((p, bytes));
        }
    }
    out
}

/// A small deterministic generator (xorshift64*) for the seeded short form of each target:
/// no dependency, and the same inputs on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value; zero is remapped).
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// A copy of `input` with one to four random mutations (byte flips, insertions,
    /// deletions, truncation, duplicated runs), as a fuzzer's mutator would make.
    pub fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        for _ in 0..1 + self.below(4) {
            match self.below(6) {
                0 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] ^= 1 << self.below(8);
                }
                1 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] = self.next_u64() as u8;
                }
                2 => {
                    let i = self.below(v.len() + 1);
                    v.insert(i, self.next_u64() as u8);
                }
                3 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v.remove(i);
                }
                4 if !v.is_empty() => {
                    let n = self.below(v.len());
                    v.truncate(n);
                }
                5 if !v.is_empty() => {
                    let a = self.below(v.len());
                    let b = (a + 1 + self.below(16)).min(v.len());
                    let run = v[a..b].to_vec();
                    let at = self.below(v.len() + 1);
                    v.splice(at..at, run);
                }
                _ => v.push(self.next_u64() as u8),
            }
        }
        v
    }
}

/// Runs `target` on every stored input of `name`, then on `generated` inputs of random bytes
/// (lengths up to `max_len`). Returns how many inputs ran.
pub fn replay_and_generate(
    name: &str,
    target: fn(&[u8]),
    generated: usize,
    max_len: usize,
) -> usize {
    let stored = stored_inputs(name);
    for (path, bytes) in &stored {
        let result = std::panic::catch_unwind(|| target(bytes));
        if let Err(e) = result {
            std::panic::resume_unwind(Box::new(format!(
                "{name}: stored input {} fails: {:?}",
                path.display(),
                e.downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| e.downcast_ref::<&str>().copied())
            )));
        }
    }
    let mut rng = Rng::new(name.len() as u64 * 7919 + generated as u64);
    for _ in 0..generated {
        let len = rng.below(max_len + 1);
        target(&rng.bytes(len));
    }
    stored.len() + generated
}
