//! The `vellum-bench` binary as the suite runs it. Also makes `cargo test --workspace` build the
//! binary with the workspace's feature set, so `bench/run.sh` reuses CI's test build.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_vellum-bench");

#[test]
fn summary_reads_recorded_figures() {
    let dir = tempfile::tempdir().unwrap();
    let figures = dir.path().join("figures.txt");
    std::fs::write(
        &figures,
        "vm.vellum.store.instantiate_call_ns 12000\nvm.vellum.heavy_ns 1000\nvm.wasmi.heavy_ns 20000\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("summary")
        .arg(&figures)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap()
            .to_string()
    };
    assert!(line("≤ 10 µs").contains("12.00 µs"));
    assert!(line("≤ 10 µs").ends_with("**not met** |"));
    assert!(line("compute-heavy contract").contains("20.0×"));
    assert!(line("compute-heavy contract").ends_with("**met** |"));
    assert!(line("same logic").ends_with("not measured |"));
}

#[test]
fn bad_usage_fails() {
    let out = Command::new(BIN).arg("nonsense").output().unwrap();
    assert!(!out.status.success());
    let out = Command::new(BIN).arg("summary").output().unwrap();
    assert!(!out.status.success());
}
