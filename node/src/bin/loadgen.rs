//! `loadgen`: load a running node over HTTP and measure durable throughput and latency.
//!
//! ```sh
//! cargo run --release -p vellum-node --bin loadgen -- --url http://127.0.0.1:8080 \
//!     --txs 40000 --connections 64                      # closed loop: maximum throughput
//! cargo run --release -p vellum-node --bin loadgen -- --url http://127.0.0.1:8080 \
//!     --txs 50000 --connections 64 --rate 5000          # open loop: 5,000/s for 10 s
//! ```
//!
//! Deploys and instantiates the custody contract through the client (unless `--contract` names
//! one), pre-signs N custody `register` transactions across `--accounts` fresh accounts, then
//! submits them with K concurrent keep-alive connections, each `POST
//! /v1/transactions?wait=true`: the node answers once the transaction's block is durably
//! committed, so the time from sending to that answer is the submit-to-commit latency, and
//! every answered transaction is durable.
//!
//! Each account belongs to one connection, which sends its transactions in nonce order and
//! one at a time, so nonces never arrive out of order. With `--rate`, transaction i is due at
//! `start + i / rate` (open loop): a connection that falls behind sends late transactions at
//! once, and their latency is counted from when they were due, not from when they were sent,
//! so a slow node cannot hide its queueing (no coordinated omission). Without `--rate` each
//! connection sends its next transaction as soon as the previous one is answered (closed loop).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Parser;
use k256::ecdsa::SigningKey;
use rayon::prelude::*;
use serde_json::json;
use vellum_node::chain::tx::{Action, address_of_signing_key, payload_json, sign};
use vellum_node::client::{Client, generate_key, output};

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    about = "Submit pre-signed custody transactions to a node and measure committed tx/s and latency"
)]
struct Args {
    /// The node's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Transactions to submit (N).
    #[arg(long, default_value_t = 40_000)]
    txs: usize,
    /// Concurrent keep-alive connections (K).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Accounts signing the transactions (at least K; each belongs to one connection).
    #[arg(long, default_value_t = 1024)]
    accounts: usize,
    /// Target rate in transactions per second (open loop); omitted: as fast as answered.
    #[arg(long)]
    rate: Option<f64>,
    /// An instantiated custody contract to use instead of deploying one.
    #[arg(long)]
    contract: Option<String>,
    /// Async worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// The node's process id, to report its CPU time per transaction (Linux `/proc`), which
    /// other load on a shared machine does not distort the way it distorts wall-clock rates.
    #[arg(long)]
    node_pid: Option<u32>,
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat` (Linux); `None`
/// elsewhere or when the process is gone.
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 of `rest`.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux architecture Rust supports.
    Some(Duration::from_millis(ticks * 10))
}

/// One pre-signed transaction: its body and when it is due (offset from the start).
struct Job {
    body: Vec<u8>,
    due: Duration,
}

#[derive(Default)]
struct ConnStats {
    latencies: Vec<Duration>,
    failed: usize,
    errors: Vec<String>,
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn custody(client: &Client) -> Result<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/custody");
    let wasm = vellum_testing::build_contract(dir)
        .map_err(|e| anyhow!("{e}"))
        .context("building contracts/custody")?;
    let admin = generate_key()?;
    let r = client.deploy(&admin, &wasm)?;
    if !r.success {
        bail!("deploy failed: {:?}", r.error);
    }
    let code_hash = output(&r)["code_hash"]
        .as_str()
        .ok_or_else(|| anyhow!("deploy receipt without code_hash"))?
        .to_string();
    let r = client.instantiate(&admin, &code_hash, &json!({}), "loadgen")?;
    if !r.success {
        bail!("instantiate failed: {:?}", r.error);
    }
    output(&r)["contract"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("instantiate receipt without contract"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn run(args: Args) -> Result<()> {
    let k = args.connections.max(1);
    let accounts = args.accounts.max(k);
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        bail!("--rate must be a positive number of transactions per second");
    }
    let client = Client::new(&args.url)?;
    let status = client
        .status()
        .with_context(|| format!("is a node running at {}?", args.url))?;
    let chain_id = status.chain_id;
    let contract = match args.contract.clone() {
        Some(c) => c,
        None => custody(&client)?,
    };
    println!(
        "node {} (chain {chain_id}, height {}), custody contract {contract}",
        args.url, status.height
    );

    // Pre-sign: transaction i goes to connection i % K; connection c owns accounts c, c + K,
    // c + 2K, ... and cycles through them, so each account's nonces go out in order.
    let t = Instant::now();
    let keys: Vec<SigningKey> = (0..accounts)
        .map(|_| generate_key())
        .collect::<Result<_, _>>()?;
    let mut run_id = [0u8; 6];
    getrandom::fill(&mut run_id).map_err(|e| anyhow!("randomness: {e}"))?;
    let run_id = hex::encode(run_id);
    let per_conn_accounts = |c: usize| (accounts - c).div_ceil(k);
    let jobs: Vec<Job> = (0..args.txs)
        .into_par_iter()
        .map(|i| -> Result<Job> {
            let (c, j) = (i % k, i / k);
            let owned = per_conn_accounts(c);
            let account = c + (j % owned) * k;
            let nonce = (j / owned) as u64;
            let key = &keys[account];
            let msg = json!({"register": {
                "document_id": format!("loadgen-{run_id}-{i}"),
                "sha256": "5d41402abc4b2a76b9719d911017c592ae3a5a8f29d5b2a3f8f5bd2d6e8c1e0f",
            }});
            let action = Action::Execute {
                contract: contract.clone(),
                msg: serde_json::value::to_raw_value(&msg)?,
            };
            let payload = payload_json(
                &chain_id,
                &address_of_signing_key(key),
                nonce,
                None,
                &action,
            );
            let body = serde_json::to_vec(&sign(&payload, key))?;
            Ok(Job {
                body,
                due: args
                    .rate
                    .map_or(Duration::ZERO, |r| Duration::from_secs_f64(i as f64 / r)),
            })
        })
        .collect::<Result<_>>()?;
    println!(
        "pre-signed {} transactions from {accounts} accounts in {:.2} s",
        jobs.len(),
        t.elapsed().as_secs_f64()
    );

    // Per connection, its jobs in order.
    let mut per_conn: Vec<Vec<Job>> = (0..k).map(|_| Vec::new()).collect();
    for (i, job) in jobs.into_iter().enumerate() {
        per_conn[i % k].push(job);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(k)
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = format!(
        "{}/v1/transactions?wait=true",
        args.url.trim_end_matches('/')
    );
    let open_loop = args.rate.is_some();
    let node_pid = args.node_pid.map(|p| p.to_string());
    let cpu_before = (cpu_time("self"), node_pid.as_deref().and_then(cpu_time));
    let (stats, started, finished) = runtime.block_on(async move {
        let started = tokio::time::Instant::now() + Duration::from_millis(50);
        let tasks: Vec<_> = per_conn
            .into_iter()
            .map(|jobs| {
                let (http, url) = (http.clone(), url.clone());
                tokio::spawn(async move {
                    let mut stats = ConnStats {
                        latencies: Vec::with_capacity(jobs.len()),
                        ..ConnStats::default()
                    };
                    for job in jobs {
                        let due = started + job.due;
                        tokio::time::sleep_until(due).await;
                        let from = if open_loop {
                            due
                        } else {
                            tokio::time::Instant::now()
                        };
                        let answer = http
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(job.body)
                            .send()
                            .await;
                        let ok = match answer {
                            Ok(r) if r.status() == reqwest::StatusCode::OK => {
                                // A receipt: a committed transaction, successful or not.
                                match r.bytes().await {
                                    Ok(b) => {
                                        if !b.windows(14).any(|w| w == b"\"success\":true") {
                                            stats.failed += 1;
                                        }
                                        true
                                    }
                                    Err(e) => {
                                        stats.errors.push(e.to_string());
                                        false
                                    }
                                }
                            }
                            Ok(r) => {
                                let status = r.status();
                                let text = r.text().await.unwrap_or_default();
                                stats.errors.push(format!("HTTP {status}: {text}"));
                                false
                            }
                            Err(e) => {
                                stats.errors.push(e.to_string());
                                false
                            }
                        };
                        if ok {
                            stats.latencies.push(from.elapsed());
                        }
                    }
                    (stats, tokio::time::Instant::now())
                })
            })
            .collect();
        let mut all = ConnStats::default();
        let mut finished = started;
        for t in tasks {
            match t.await {
                Ok((s, done)) => {
                    all.latencies.extend(s.latencies);
                    all.failed += s.failed;
                    all.errors.extend(s.errors);
                    finished = finished.max(done);
                }
                Err(e) => all.errors.push(format!("connection task: {e}")),
            }
        }
        (all, started, finished)
    });
    let cpu_after = (cpu_time("self"), node_pid.as_deref().and_then(cpu_time));
    let mut latencies = stats.latencies;
    latencies.sort();
    let committed = latencies.len();
    let elapsed = finished.saturating_duration_since(started);
    let after = client.status()?;
    println!(
        "mode: {}, {k} connections, ?wait=true (answered after the durable commit)",
        match args.rate {
            Some(r) => format!("open loop at {r:.0} tx/s"),
            None => "closed loop".to_string(),
        }
    );
    println!(
        "committed {committed} transactions in {:.2} s: {:.0} tx/s ({} failed in execution, {} not committed)",
        elapsed.as_secs_f64(),
        committed as f64 / elapsed.as_secs_f64().max(1e-9),
        stats.failed,
        stats.errors.len()
    );
    println!(
        "submit-to-commit latency: p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 0.999)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    let blocks = after.height.saturating_sub(status.height);
    println!(
        "blocks: {blocks} (about {:.0} transactions per block)",
        committed as f64 / blocks.max(1) as f64
    );
    let per_tx = |before: Option<Duration>, after: Option<Duration>| {
        before
            .zip(after)
            .map(|(b, a)| a.saturating_sub(b).as_secs_f64() * 1e6 / committed.max(1) as f64)
    };
    let client_us = per_tx(cpu_before.0, cpu_after.0);
    let node_us = per_tx(cpu_before.1, cpu_after.1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match (node_us, client_us) {
        (Some(n), Some(c)) => println!(
            "CPU per committed transaction: node {n:.0} us, loadgen {c:.0} us (submission phase; {cores} cores give at most {:.0} tx/s at that cost)",
            cores as f64 * 1e6 / (n + c)
        ),
        (None, Some(c)) => println!(
            "CPU per committed transaction: loadgen {c:.0} us (pass --node-pid for the node's)"
        ),
        _ => {}
    }
    if let Some(e) = stats.errors.first() {
        println!("first error: {e}");
    }
    Ok(())
}
