//! `soak`: the load soak of issue 6 against a `vellum node` (see `vellum_e2e::soak`).
//!
//! ```sh
//! cargo build --release --workspace --bins      # or: bash .ci/soak.sh [ARGS]
//! target/release/soak                      # long form: 20 s max, 10 min at half, 60 s at twice
//! target/release/soak --short              # seconds
//! target/release/soak --soak-secs 120 --overload-secs 30
//! ```
//!
//! Starts its own node (the `vellum` binary next to this one) on a free port with a fresh data
//! directory, runs the phases, prints every figure, and exits 1 when a criterion fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, ExitCode};

use vellum_e2e::Node;
use vellum_e2e::soak::{SoakConfig, run};

fn main() -> ExitCode {
    let mut config = SoakConfig::long();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || -> f64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{arg} takes a number"))
        };
        match arg.as_str() {
            "--short" => config = SoakConfig::short(),
            "--max-secs" => config.max_secs = value(),
            "--soak-secs" => config.soak_secs = value(),
            "--rss-at-secs" => config.rss_at_secs = value(),
            "--overload-secs" => config.overload_secs = value(),
            "--lanes" => config.lanes = value() as usize,
            "--accounts" => config.accounts = value() as usize,
            "--client-threads" => config.client_threads = value() as usize,
            other => {
                eprintln!(
                    "soak: unknown argument {other}; see the doc comment of tests/src/bin/soak.rs"
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let vellum = std::env::current_exe().unwrap().with_file_name("vellum");
    assert!(
        vellum.exists(),
        "{} missing: cargo build --release -p vellum-node --bin vellum",
        vellum.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut command = Command::new(&vellum);
    command
        .args(["node", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data);
    let node = Node::spawn(command, &data);
    println!("node {} (pid {}), config {config:?}", node.url, node.pid());
    let report = run(&node.url, node.pid(), &config);
    let failures = report.failures(&config);
    println!(
        "summary: max {:.0} tx/s; soak at {:.0} tx/s: {} 5xx, {} connection errors, RSS {} -> {} KiB ({:+.1} %); overload at {:.0} tx/s: {} 2xx, {} 429, {} 503, {} other, {} connection errors",
        report.max_tps,
        report.soak_rate,
        report.soak.class(5),
        report.soak.connection_errors,
        report.rss_ref_kib,
        report.rss_end_kib,
        report.rss_growth() * 100.0,
        report.overload_rate,
        report.overload.class(2),
        report.overload.status(429),
        report.overload.status(503),
        report.overload.sent
            - report.overload.class(2)
            - report.overload.status(429)
            - report.overload.status(503)
            - report.overload.connection_errors,
        report.overload.connection_errors,
    );
    let log = node.stop();
    if !log.contains("shut down cleanly") {
        println!("FAIL: the node did not shut down cleanly");
        return ExitCode::FAILURE;
    }
    if failures.is_empty() {
        println!("PASS");
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            println!("FAIL: {f}");
        }
        ExitCode::FAILURE
    }
}
