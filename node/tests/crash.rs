//! Crash safety: a ledger process committing custody transactions continuously is killed with
//! SIGKILL at random moments, again and again. After every kill the store must hold every
//! transaction the process acknowledged (printed only after its block's durable commit), with
//! its receipt; the chain must verify from genesis (hashes, links, Merkle roots, signatures,
//! re-execution), and the replayed state must equal the stored state and the tip's state root.
//! A block that was never acknowledged is then either wholly present or wholly absent, since a
//! partial one would fail verification.
//!
//! `VELLUM_CRASH_KILLS` sets the number of kills (default 20); the long run documented in
//! `docs/chain-format.md` uses 500.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vellum_node::ledger::{Ledger, LedgerConfig};
use vellum_node::store::Store;
use vellum_node::verify::verify_chain;
use vellum_runtime::{Runtime, RuntimeConfig};

/// A small deterministic generator (xorshift64*): reproducible kill times.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn sigkill_during_continuous_commits_loses_nothing_acknowledged() {
    let kills: usize = std::env::var("VELLUM_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut acked: Vec<String> = Vec::new();
    let mut replayed = 0;
    let started = Instant::now();
    for round in 0..kills {
        // A long run can point at a copy of the binary, so that rebuilding the workspace
        // meanwhile does not swap it mid-run.
        let bin = std::env::var("VELLUM_LEDGER_BENCH_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_ledger-bench").into());
        let mut child = Command::new(bin)
            .args(["soak", "--data-dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(hash) = line.strip_prefix("ack ")
                    && tx.send(hash.to_string()).is_err()
                {
                    break;
                }
            }
        });
        // Kill while commits are under way: after the first acknowledgement of this round,
        // at a random moment within the next 0 to 250 ms.
        let first = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the soak process acknowledged nothing");
        acked.push(first);
        std::thread::sleep(Duration::from_millis(rng.next() % 250));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        acked.extend(rx.try_iter());

        // Acknowledged blocks the applier had not written into redb yet are in the journal:
        // opening the ledger replays them, as the node's restart does.
        let ledger = Ledger::open(LedgerConfig::new(dir.path(), "vellum-bench"))
            .unwrap_or_else(|e| panic!("round {round}: reopening: {e}"));
        replayed += ledger.replayed_at_open();
        drop(ledger);
        let store = Store::open(&dir.path().join("chain.redb")).unwrap();
        let snap = store.snapshot().unwrap();
        for hash in &acked {
            let h = vellum_node::chain::parse_hex::<32>(hash).unwrap();
            assert!(
                snap.tx(&h).unwrap().is_some(),
                "round {round}: acknowledged transaction {hash} is missing"
            );
            let receipt = snap
                .receipt(&h)
                .unwrap()
                .expect("receipt of an acknowledged transaction");
            assert!(
                String::from_utf8(receipt)
                    .unwrap()
                    .contains("\"success\":true")
            );
        }
        let tip = snap
            .header(snap.tip_height().unwrap().unwrap())
            .unwrap()
            .unwrap();
        drop(snap);
        let verify_now = kills <= 50 || round % 25 == 24 || round + 1 == kills;
        if verify_now {
            let report = verify_chain(&store, "vellum-bench", &runtime, &mut |_, _| {})
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(
                report.state_root, tip.state_root,
                "round {round}: replayed state root"
            );
        }
    }
    println!(
        "{kills} kills, {} acknowledged transactions, all present; {replayed} blocks replayed \
         from the journal; {:.1} s",
        acked.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(acked.len() >= kills);
}
