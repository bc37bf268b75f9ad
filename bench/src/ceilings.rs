//! The ceilings of the machine: what the node's heaviest primitives cost here, measured with
//! the crates and settings the node uses. k256 verification (one core and all cores, the
//! ceiling the targets are stated against), the node's own check (libsecp256k1), SHA-256
//! throughput at 32 bytes and 1 MiB, and the latency of a durable redb commit
//! (`Durability::Immediate` with two-phase commit, as `node/src/store.rs`) for groups of 1, 10,
//! 100 and 1,000 writes.

use std::time::{Duration, Instant};

use bench_harness::{Mode, Table, fmt_ns, fmt_rate, measure, percentile, record};
use k256::ecdsa::signature::{Signer, Verifier};
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use redb::{Database, Durability, TableDefinition};
use sha2::{Digest, Sha256};
use vellum_node::chain::tx::{KeyCache, verify_signature};

const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("bench");

/// Signed messages of about a transaction's size, with their parsed keys (the node caches
/// parsed keys, so parsing is not part of a verification).
fn signed(n: usize) -> Vec<(VerifyingKey, Vec<u8>, Signature)> {
    (0..n)
        .map(|i| {
            let mut secret = [0u8; 32];
            secret[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            secret[31] = 1;
            let key = SigningKey::from_slice(&secret).unwrap_or_else(|e| panic!("key: {e}"));
            let msg = format!(
                r#"{{"chain_id":"bench","nonce":{i},"op":{{"execute":{{"msg":"{}"}}}}}}"#,
                "x".repeat(160)
            )
            .into_bytes();
            let sig: Signature = key.sign(&msg);
            (*key.verifying_key(), msg, sig)
        })
        .collect()
}

fn verify(items: &[(VerifyingKey, Vec<u8>, Signature)], i: usize) {
    let (key, msg, sig) = &items[i % items.len()];
    assert!(sig.normalize_s() == *sig && key.verify(msg, sig).is_ok());
}

/// The same items in the node's wire form, for the node's own check.
type WireItem = ([u8; 33], Vec<u8>, [u8; 64]);

fn wire(items: &[(VerifyingKey, Vec<u8>, Signature)]) -> Vec<WireItem> {
    items
        .iter()
        .map(|(key, msg, sig)| {
            let mut pk = [0u8; 33];
            pk.copy_from_slice(key.to_sec1_point(true).as_bytes());
            (pk, msg.clone(), sig.to_bytes().into())
        })
        .collect()
}

/// The node's check (`vellum_node::chain::tx::verify_signature`, libsecp256k1) with its key
/// cache warm, as in the node.
fn node_verify(items: &[WireItem], keys: &KeyCache, i: usize) {
    let (pk, msg, sig) = &items[i % items.len()];
    assert!(verify_signature(pk, msg, sig, keys).is_ok());
}

/// Verifications per second on `threads` threads, each calling `verify` for `time`.
fn verify_rate(verify: &(dyn Fn(usize) + Sync), threads: usize, time: Duration) -> f64 {
    let started = Instant::now();
    let total: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut n = 0;
                    let t0 = Instant::now();
                    while t0.elapsed() < time {
                        for k in 0..16 {
                            verify(t * 7919 + n + k);
                        }
                        n += 16;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

/// Per-commit latencies (ns) of `commits` durable commits of `group` writes each.
fn redb_commits(dir: &std::path::Path, group: usize, commits: usize) -> Result<Vec<f64>, String> {
    let path = dir.join(format!("commit-{group}.redb"));
    let db = Database::builder()
        .create(&path)
        .map_err(|e| e.to_string())?;
    let value = [0xabu8; 256];
    let mut key = 0u64;
    let mut samples = Vec::with_capacity(commits);
    for round in 0..commits + 2 {
        let t = Instant::now();
        let mut txn = db.begin_write().map_err(|e| e.to_string())?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| e.to_string())?;
        txn.set_two_phase_commit(true);
        {
            let mut table = txn.open_table(TABLE).map_err(|e| e.to_string())?;
            for _ in 0..group {
                // Spread keys as hashes would, so that inserts touch several pages.
                let k = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                table
                    .insert(k, value.as_slice())
                    .map_err(|e| e.to_string())?;
                key += 1;
            }
        }
        txn.commit().map_err(|e| e.to_string())?;
        // The first two commits create the file and its tables: not measured.
        if round >= 2 {
            samples.push(t.elapsed().as_nanos() as f64);
        }
    }
    Ok(samples)
}

/// Runs the part and prints its Markdown section.
pub(crate) fn run(mode: Mode) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let items = signed(mode.pick(16, 256));
    let one = measure(mode, 8, 5, || verify(&items, 0));
    let time = mode.pick(Duration::from_millis(50), Duration::from_secs(2));
    let k256 = |i| verify(&items, i);
    let single_rate = verify_rate(&k256, 1, time);
    let all_rate = verify_rate(&k256, cores, time);
    let wire_items = wire(&items);
    let keys = KeyCache::default();
    for i in 0..wire_items.len() {
        node_verify(&wire_items, &keys, i);
    }
    let node_one = measure(mode, 8, 5, || node_verify(&wire_items, &keys, 0));
    let node = |i| node_verify(&wire_items, &keys, i);
    let node_all_rate = verify_rate(&node, cores, time);

    let small = [0x5au8; 32];
    let sha32 = measure(mode, 1000, 5, || {
        Sha256::digest(std::hint::black_box(small))
    });
    let big = vec![0x5au8; 1 << 20];
    let sha1m = measure(mode, 1, 5, || Sha256::digest(std::hint::black_box(&big)));

    let base = std::path::Path::new("target/perf");
    let dir = if std::fs::create_dir_all(base).is_ok() {
        tempfile::tempdir_in(base)
    } else {
        tempfile::tempdir()
    }
    .map_err(|e| e.to_string())?;
    let mut commits = Vec::new();
    for (group, n) in [(1, 300), (10, 300), (100, 150), (1000, 40)] {
        let mut s = redb_commits(dir.path(), group, mode.pick(5, n))?;
        s.sort_by(f64::total_cmp);
        commits.push((group, percentile(&s, 0.5), percentile(&s, 0.99), s.len()));
    }

    let cpu_estimate = cores as f64 * 1e9 / one.median_ns;
    record("ceiling.k256_verify_ns", one.median_ns);
    record("ceiling.k256_verify_per_s_all_cpu_estimate", cpu_estimate);
    record("ceiling.k256_verify_per_s_1core", single_rate);
    record("ceiling.k256_verify_per_s_all", all_rate);
    record("ceiling.node_verify_ns", node_one.median_ns);
    record("ceiling.node_verify_per_s_all", node_all_rate);
    record("ceiling.cores", cores as f64);
    record("ceiling.sha256_32b_ns", sha32.median_ns);
    record(
        "ceiling.sha256_1mib_bytes_per_s",
        (1u64 << 20) as f64 / (sha1m.median_ns / 1e9),
    );
    for (g, p50, p99, _) in &commits {
        record(&format!("ceiling.redb_commit_{g}.p50_ns"), *p50);
        record(&format!("ceiling.redb_commit_{g}.p99_ns"), *p99);
    }

    println!("### Machine ceilings ({cores} cores)\n");
    let mut t = Table::new(&["figure", "value"]);
    t.row(&[
        "k256 0.14 ECDSA verification (parsed key, SHA-256 of a 200-byte payload), one call, CPU time".into(),
        bench_harness::cell(&one),
    ]);
    t.row(&[
        format!(
            "k256 verifications/s on {cores} cores estimated from CPU time ({cores} / one call)"
        ),
        fmt_rate(cpu_estimate),
    ]);
    t.row(&[
        "k256 verifications/s, one core".into(),
        fmt_rate(single_rate),
    ]);
    t.row(&[
        format!("k256 verifications/s, all {cores} cores (wall clock)"),
        fmt_rate(all_rate),
    ]);
    t.row(&[
        "the node's check (libsecp256k1 via `verify_signature`, cached key), one call, CPU time"
            .into(),
        bench_harness::cell(&node_one),
    ]);
    t.row(&[
        format!("the node's checks/s, all {cores} cores (wall clock)"),
        fmt_rate(node_all_rate),
    ]);
    t.row(&[
        "SHA-256 of 32 bytes".into(),
        format!(
            "{} ({:.0} MB/s)",
            fmt_ns(sha32.median_ns),
            32.0 / sha32.median_ns * 1e3
        ),
    ]);
    t.row(&[
        "SHA-256 of 1 MiB".into(),
        format!(
            "{} ({:.0} MB/s)",
            fmt_ns(sha1m.median_ns),
            (1u64 << 20) as f64 / sha1m.median_ns * 1e3
        ),
    ]);
    println!("{}", t.finish());
    println!(
        "redb 4.6 durable commit (`Durability::Immediate`, two-phase commit), 256-byte values:\n"
    );
    let mut t = Table::new(&[
        "writes per commit",
        "p50",
        "p99",
        "writes/s at p50",
        "commits",
    ]);
    for (g, p50, p99, n) in commits {
        t.row(&[
            fmt_rate(g as f64),
            fmt_ns(p50),
            fmt_ns(p99),
            fmt_rate(g as f64 / (p50 / 1e9)),
            n.to_string(),
        ]);
    }
    println!("{}", t.finish());
    Ok(())
}
