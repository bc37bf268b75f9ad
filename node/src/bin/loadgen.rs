//! `loadgen`: load a running node over HTTP and measure durable throughput and latency.
//!
//! ```sh
//! cargo run --release -p vellum-node --bin loadgen -- --url http://127.0.0.1:8080 \
//!     --txs 40000 --connections 64                      # closed loop: maximum throughput
//! cargo run --release -p vellum-node --bin loadgen -- --url http://127.0.0.1:8080 \
//!     --txs 50000 --connections 64 --rate 5000          # open loop: 5,000/s for 10 s
//! cargo run --release -p vellum-node --bin loadgen -- --url http://127.0.0.1:8080 \
//!     --txs 40000 --connections 256 --sweep --node-pid PID   # maximum, then 25/50/75/90 %
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
//! so a slow node cannot hide its queueing (no coordinated omission). A pacing thread releases
//! each request at its due time with the kernel's high-resolution timer (tokio's timer works in
//! whole milliseconds), and the report's "send lateness" line (both modes) says how late requests left:
//! that delay is the client's, and it is counted in the latency. Without `--rate` each
//! connection sends its next transaction as soon as the previous one is answered (closed loop).
//!
//! With `--sweep` it first measures the maximum (closed loop, N transactions), then runs open
//! loops at 25, 50, 75 and 90 percent of it for `--phase-secs` each, with fresh accounts per
//! phase, and prints a Markdown table. With `--node-pid` every phase also reports the node's CPU
//! time per committed transaction by stage, from its threads' `/proc` times
//! ([`vellum_node::procstat`]) and its `vellum_tx_verify_seconds` metric: HTTP (the async and
//! blocking-pool threads, less signature checks), signature check, producer (ordering,
//! execution, and the journal write of each block it commits itself, which is every block
//! unless the load is heavy), writer (the journal write under heavy load) and redb (the
//! applier thread).

/// The node binary's allocator (see `node/src/main.rs`), so that the figures are the node's as
/// it runs: glibc's malloc cost this harness about 3 % of its CPU (perf, 2026-11-30).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Parser;
use k256::ecdsa::SigningKey;
use rayon::prelude::*;
use serde_json::json;
use vellum_node::chain::sha256;
use vellum_node::chain::tx::{Action, address_of_signing_key, payload_json, sign};
use vellum_node::client::{Client, generate_key, output};
use vellum_node::procstat;

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
    /// Measure the maximum, then open loops at 25, 50, 75 and 90 percent of it.
    #[arg(long)]
    sweep: bool,
    /// Length of each open-loop phase of `--sweep`, in seconds.
    #[arg(long, default_value_t = 10.0)]
    phase_secs: f64,
    /// `wait`: each request is `?wait=true` and its answer is the commit. `stream`: requests
    /// are answered at admission (202) and commits are observed on `GET /v1/stream`, so a
    /// connection does not idle while its transaction's block is written.
    #[arg(long, value_enum, default_value_t = Mode::Wait)]
    mode: Mode,
    /// `--sweep`: also an open loop at this rate (repeatable), e.g. the 5,000/s of the p99
    /// target.
    #[arg(long)]
    fixed_rate: Vec<f64>,
    /// `stream` mode: most transactions sent and not yet seen committed (closed loop).
    #[arg(long, default_value_t = 8192)]
    max_pending: usize,
    /// Transactions per request: 1 sends each with `POST /v1/transactions`; more sends a
    /// connection's next B transactions (still in nonce order) with one `POST
    /// /v1/transactions/batch` (at most 1,024). In an open loop a batch leaves when its last
    /// transaction is due, and every transaction's latency still counts from its own due time.
    #[arg(long, default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=vellum_node::limits::BATCH_TXS_MAX as i64))]
    batch: u16,
    /// `sequential`: document ids `loadgen-RUN-I` and one fixed content hash, so consecutive
    /// transactions write neighbouring keys (the figures in `docs/performance.md`). `random`:
    /// a random 128-bit document id and a random SHA-256 per transaction, as an archive of
    /// unrelated files would send: every document row and every index entry lands on its own
    /// B-tree page.
    #[arg(long, value_enum, default_value_t = Documents::Sequential)]
    documents: Documents,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Documents {
    Sequential,
    Random,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Wait,
    Stream,
}

/// `println!`, or `eprintln!` when `$to_stderr` (with `--sweep`, stdout is the Markdown table).
macro_rules! say {
    ($to_stderr:expr, $($t:tt)*) => {
        if $to_stderr { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

/// One pre-signed transaction: its body and when it is due (offset from the start).
struct Job {
    /// Position in the phase (generation order).
    id: usize,
    body: Vec<u8>,
    due: Duration,
    /// Hex hash of the transaction (SHA-256 of its payload bytes).
    hash: String,
}

/// One request's transactions: one, or a batch.
type Chunk = Vec<Job>;

/// The body of a request carrying `chunk`: the envelope itself, or a batch of them.
fn body_of(chunk: &mut Chunk) -> Vec<u8> {
    if let [job] = chunk.as_mut_slice() {
        return std::mem::take(&mut job.body);
    }
    let mut body = b"{\"transactions\":[".to_vec();
    for (i, job) in chunk.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&job.body);
    }
    body.extend_from_slice(b"]}");
    body
}

/// What the loadgen reads of a `POST /v1/transactions/batch` answer.
#[derive(serde::Deserialize)]
struct BatchAnswer {
    results: Vec<BatchOutcome>,
}

#[derive(serde::Deserialize)]
struct BatchOutcome {
    status: String,
    #[serde(default)]
    receipt: Option<ReceiptSuccess>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct ReceiptSuccess {
    success: bool,
}

/// Parses a batch answer for `n` transactions.
fn batch_outcomes(bytes: &[u8], n: usize) -> Result<Vec<BatchOutcome>, String> {
    let answer: BatchAnswer =
        serde_json::from_slice(bytes).map_err(|e| format!("unparsable batch answer: {e}"))?;
    if answer.results.len() != n {
        return Err(format!(
            "batch answer with {} outcomes for {n} transactions",
            answer.results.len()
        ));
    }
    Ok(answer.results)
}

#[derive(Default)]
struct ConnStats {
    latencies: Vec<Duration>,
    /// Open loop: how late each request left after its due time.
    lateness: Vec<Duration>,
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

/// What one phase needs to know.
struct Plan<'a> {
    chain_id: &'a str,
    contract: &'a str,
    txs: usize,
    connections: usize,
    accounts: usize,
    rate: Option<f64>,
    documents: Documents,
}

/// The content hash of `--documents sequential`.
const FIXED_CONTENT: &str = "5d41402abc4b2a76b9719d911017c592ae3a5a8f29d5b2a3f8f5bd2d6e8c1e0f";

/// Pre-signs a phase's transactions with fresh accounts: transaction i goes to connection
/// i % K; connection c owns accounts c, c + K, c + 2K, ... and cycles through them, so each
/// account's nonces go out in order.
fn presign(plan: &Plan<'_>) -> Result<Vec<Vec<Job>>> {
    let k = plan.connections;
    let accounts = plan.accounts.max(k);
    let keys: Vec<SigningKey> = (0..accounts)
        .map(|_| generate_key())
        .collect::<Result<_, _>>()?;
    let mut run_id = [0u8; 6];
    getrandom::fill(&mut run_id).map_err(|e| anyhow!("randomness: {e}"))?;
    let run_id = hex::encode(run_id);
    let per_conn_accounts = |c: usize| (accounts - c).div_ceil(k);
    let jobs: Vec<Job> = (0..plan.txs)
        .into_par_iter()
        .map(|i| -> Result<Job> {
            let (c, j) = (i % k, i / k);
            let owned = per_conn_accounts(c);
            let account = c + (j % owned) * k;
            let nonce = (j / owned) as u64;
            let key = &keys[account];
            let (document_id, content) = match plan.documents {
                Documents::Sequential => (format!("loadgen-{run_id}-{i}"), FIXED_CONTENT.into()),
                Documents::Random => {
                    let mut r = [0u8; 48];
                    getrandom::fill(&mut r).map_err(|e| anyhow!("randomness: {e}"))?;
                    (hex::encode(&r[..16]), hex::encode(&r[16..]))
                }
            };
            let msg = json!({"register": {
                "document_id": document_id,
                "sha256": content,
            }});
            let action = Action::Execute {
                contract: plan.contract.to_string(),
                msg: serde_json::value::to_raw_value(&msg)?,
            };
            let payload = payload_json(
                plan.chain_id,
                &address_of_signing_key(key),
                nonce,
                None,
                &action,
            );
            let body = serde_json::to_vec(&sign(&payload, key))?;
            Ok(Job {
                id: i,
                body,
                hash: hex::encode(sha256(&[payload.as_bytes()])),
                due: plan
                    .rate
                    .map_or(Duration::ZERO, |r| Duration::from_secs_f64(i as f64 / r)),
            })
        })
        .collect::<Result<_>>()?;
    let mut per_conn: Vec<Vec<Job>> = (0..k).map(|_| Vec::new()).collect();
    for (i, job) in jobs.into_iter().enumerate() {
        per_conn[i % k].push(job);
    }
    Ok(per_conn)
}

/// The node's CPU seconds by stage, cumulative.
#[derive(Debug, Clone, Copy, Default)]
struct NodeCpu {
    /// Async workers and blocking pool, signature checks included.
    http_threads: f64,
    /// Signature checks (from the node's `vellum_tx_verify_seconds_sum`).
    verify: f64,
    /// The producer thread.
    producer: f64,
    /// The writer thread.
    writer: f64,
    /// The applier thread (redb).
    apply: f64,
    /// Every other thread of the node.
    other: f64,
}

/// A Prometheus sample's value from `/metrics` text.
fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn node_cpu(pid: u32, http: &reqwest::blocking::Client, base: &str) -> Option<NodeCpu> {
    let threads = procstat::thread_cpu_by_name(Some(pid));
    if threads.is_empty() {
        return None;
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .ok()?
        .text()
        .ok()?;
    let mut cpu = NodeCpu {
        verify: metric_value(&metrics, "vellum_tx_verify_seconds_sum")?,
        ..NodeCpu::default()
    };
    for (name, seconds) in threads {
        match name.as_str() {
            procstat::THREAD_HTTP => cpu.http_threads += seconds,
            procstat::THREAD_PRODUCER => cpu.producer += seconds,
            procstat::THREAD_WRITER => cpu.writer += seconds,
            procstat::THREAD_APPLIER => cpu.apply += seconds,
            _ => cpu.other += seconds,
        }
    }
    Some(cpu)
}

/// What one phase measured.
struct PhaseResult {
    committed: usize,
    elapsed: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
    /// Sorted.
    lateness: Vec<Duration>,
    failed: usize,
    errors: Vec<String>,
    blocks: u64,
    /// Per committed transaction, microseconds: (HTTP, verify, producer, writer, applier,
    /// other).
    node_us: Option<[f64; 6]>,
    client_us: Option<f64>,
}

impl PhaseResult {
    fn tx_per_s(&self) -> f64 {
        self.committed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn p(&self, q: f64) -> f64 {
        ms(percentile(&self.latencies, q))
    }
}

fn phase(
    args: &Args,
    client: &Client,
    per_conn: Vec<Vec<Job>>,
    rate: Option<f64>,
) -> Result<PhaseResult> {
    let k = per_conn.len();
    let batch = usize::from(args.batch);
    let per_conn: Vec<Vec<Chunk>> = per_conn
        .into_iter()
        .map(|jobs| {
            let mut chunks = Vec::new();
            let mut jobs = jobs.into_iter().peekable();
            while jobs.peek().is_some() {
                chunks.push(jobs.by_ref().take(batch).collect());
            }
            chunks
        })
        .collect();
    let base = args.url.trim_end_matches('/').to_string();
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
    let metrics_http = reqwest::blocking::Client::new();
    let open_loop = rate.is_some();
    let height_before = client.status()?.height;
    let node_before = args
        .node_pid
        .and_then(|p| node_cpu(p, &metrics_http, &base));
    let client_before = procstat::process_cpu(None);
    let (stats, started, finished) = match args.mode {
        Mode::Wait => runtime.block_on(run_wait(http, base.clone(), per_conn, open_loop))?,
        Mode::Stream => runtime.block_on(run_stream(
            http,
            base.clone(),
            per_conn,
            open_loop,
            args.max_pending.max(1),
        ))?,
    };
    let client_after = procstat::process_cpu(None);
    let node_after = args
        .node_pid
        .and_then(|p| node_cpu(p, &metrics_http, &base));
    let mut latencies = stats.latencies;
    latencies.sort();
    let mut lateness = stats.lateness;
    lateness.sort();
    let committed = latencies.len();
    let per_tx = |seconds: f64| seconds * 1e6 / committed.max(1) as f64;
    let node_us = node_before.zip(node_after).map(|(b, a)| {
        let verify = a.verify - b.verify;
        [
            per_tx((a.http_threads - b.http_threads - verify).max(0.0)),
            per_tx(verify),
            per_tx(a.producer - b.producer),
            per_tx(a.writer - b.writer),
            per_tx(a.apply - b.apply),
            per_tx(a.other - b.other),
        ]
    });
    let client_us = client_before
        .zip(client_after)
        .map(|(b, a)| per_tx(a.saturating_sub(b).as_secs_f64()));
    Ok(PhaseResult {
        committed,
        elapsed: finished.saturating_duration_since(started),
        latencies,
        lateness,
        failed: stats.failed,
        errors: stats.errors,
        blocks: client.status()?.height.saturating_sub(height_before),
        node_us,
        client_us,
    })
}

/// The phase's statistics, when it started and when its last answer came.
type Outcome = (ConnStats, tokio::time::Instant, tokio::time::Instant);

/// One receiver per connection, which yields once for each of its chunks, at the chunk's due
/// time (the due time of its last transaction).
///
/// A thread releases them, sleeping with the kernel's high-resolution timer. Sleeping in each
/// connection's task with `tokio::time::sleep_until` made requests leave late: tokio's timer
/// works in whole milliseconds and rounds a deadline up to the next one, so at 5,000/s requests
/// left 0.88 to 0.97 ms after their due time at the median and 2.2 ms at p99, and since an open
/// loop counts latency from the due time, that client-side delay was counted as the node's.
fn pace(
    per_conn: &[Vec<Chunk>],
    started: tokio::time::Instant,
) -> Result<Vec<tokio::sync::mpsc::UnboundedReceiver<()>>> {
    let mut schedule: Vec<(Duration, usize)> = per_conn
        .iter()
        .enumerate()
        .flat_map(|(i, chunks)| {
            chunks
                .iter()
                .filter_map(move |c| c.last().map(|j| (j.due, i)))
        })
        .collect();
    schedule.sort_unstable();
    let (gates, receivers): (Vec<_>, Vec<_>) = per_conn
        .iter()
        .map(|_| tokio::sync::mpsc::unbounded_channel())
        .unzip();
    let start = started.into_std();
    std::thread::Builder::new()
        .name("pacer".into())
        .spawn(move || {
            for (due, i) in schedule {
                let at = start + due;
                let now = std::time::Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                // A connection that gave up (its task ended) no longer listens.
                let _ = gates[i].send(());
            }
        })?;
    Ok(receivers)
}

/// `--mode wait`: every request waits for its commit.
async fn run_wait(
    http: reqwest::Client,
    base: String,
    per_conn: Vec<Vec<Chunk>>,
    open_loop: bool,
) -> Result<Outcome> {
    let single = format!("{base}/v1/transactions?wait=true");
    let batch = format!("{base}/v1/transactions/batch?wait=true");
    let started = tokio::time::Instant::now() + Duration::from_millis(50);
    let gates = pace(&per_conn, started)?;
    let tasks: Vec<_> = per_conn
        .into_iter()
        .zip(gates)
        .map(|(chunks, mut gate)| {
            let (http, single, batch) = (http.clone(), single.clone(), batch.clone());
            tokio::spawn(async move {
                let mut stats = ConnStats::default();
                for mut chunk in chunks {
                    let Some(last) = chunk.last() else { continue };
                    if gate.recv().await.is_none() {
                        break;
                    }
                    let now = tokio::time::Instant::now();
                    if open_loop {
                        stats
                            .lateness
                            .push(now.saturating_duration_since(started + last.due));
                    }
                    let froms: Vec<tokio::time::Instant> = chunk
                        .iter()
                        .map(|j| if open_loop { started + j.due } else { now })
                        .collect();
                    let url = if chunk.len() == 1 { &single } else { &batch };
                    let answer = http
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body_of(&mut chunk))
                        .send()
                        .await;
                    let bytes = match answer {
                        Ok(r) if r.status() == reqwest::StatusCode::OK => match r.bytes().await {
                            Ok(b) => b,
                            Err(e) => {
                                stats.errors.push(e.to_string());
                                continue;
                            }
                        },
                        Ok(r) => {
                            let status = r.status();
                            let text = r.text().await.unwrap_or_default();
                            stats.errors.push(format!("HTTP {status}: {text}"));
                            continue;
                        }
                        Err(e) => {
                            stats.errors.push(e.to_string());
                            continue;
                        }
                    };
                    if chunk.len() == 1 {
                        // A receipt: a committed transaction, successful or not.
                        if !bytes.windows(14).any(|w| w == b"\"success\":true") {
                            stats.failed += 1;
                        }
                        stats.latencies.push(froms[0].elapsed());
                        continue;
                    }
                    match batch_outcomes(&bytes, chunk.len()) {
                        Ok(outcomes) => {
                            for (o, from) in outcomes.into_iter().zip(froms) {
                                match (o.status.as_str(), o.receipt) {
                                    ("committed", Some(receipt)) => {
                                        if !receipt.success {
                                            stats.failed += 1;
                                        }
                                        stats.latencies.push(from.elapsed());
                                    }
                                    (status, _) => stats
                                        .errors
                                        .push(format!("{status}: {}", o.error.unwrap_or_default())),
                                }
                            }
                        }
                        Err(e) => stats.errors.push(e),
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
                all.lateness.extend(s.lateness);
                all.failed += s.failed;
                all.errors.extend(s.errors);
                finished = finished.max(done);
            }
            Err(e) => all.errors.push(format!("connection task: {e}")),
        }
    }
    Ok((all, started, finished))
}

/// `--mode stream`: requests are answered at admission; commits are seen on `/v1/stream`.
async fn run_stream(
    http: reqwest::Client,
    base: String,
    per_conn: Vec<Vec<Chunk>>,
    open_loop: bool,
    max_pending: usize,
) -> Result<Outcome> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let total: usize = per_conn.iter().flatten().map(Vec::len).sum();
    let index: Arc<std::collections::HashMap<String, usize>> = Arc::new(
        per_conn
            .iter()
            .flatten()
            .flatten()
            .map(|j| (j.hash.clone(), j.id))
            .collect(),
    );
    const UNSET: u64 = u64::MAX;
    let from_ns: Arc<Vec<AtomicU64>> =
        Arc::new((0..total).map(|_| AtomicU64::new(UNSET)).collect());
    let pending = Arc::new(tokio::sync::Semaphore::new(max_pending));
    let origin = tokio::time::Instant::now();
    let since =
        move |t: tokio::time::Instant| t.saturating_duration_since(origin).as_nanos() as u64;

    // Subscribe before the first submission: the node subscribes when it answers the headers.
    let mut stream = http
        .get(format!("{base}/v1/stream"))
        .timeout(Duration::from_secs(24 * 3600))
        .send()
        .await
        .context("opening /v1/stream")?;
    if !stream.status().is_success() {
        bail!("/v1/stream answered {}", stream.status());
    }
    let sent_all = Arc::new(tokio::sync::Notify::new());
    let reader = {
        let (index, from_ns, pending, sent_all) = (
            index.clone(),
            from_ns.clone(),
            pending.clone(),
            sent_all.clone(),
        );
        tokio::spawn(async move {
            let mut stats = ConnStats::default();
            let mut seen = 0usize;
            let mut buf = String::new();
            let mut senders_done = false;
            // Once every transaction is sent, give the node this long between two chunks.
            const IDLE_AFTER_SENDING: Duration = Duration::from_secs(20);
            while seen < total {
                let next = stream.chunk();
                let chunk = if senders_done {
                    match tokio::time::timeout(IDLE_AFTER_SENDING, next).await {
                        Ok(c) => c,
                        Err(_) => break,
                    }
                } else {
                    tokio::select! {
                        c = next => c,
                        () = sent_all.notified() => { senders_done = true; continue; }
                    }
                };
                let Ok(Some(chunk)) = chunk else { break };
                let now = since(tokio::time::Instant::now());
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let frame: String = buf.drain(..end + 2).collect();
                    if !frame.lines().any(|l| l == "event: block") {
                        continue;
                    }
                    let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) else {
                        continue;
                    };
                    let Ok(block) = serde_json::from_str::<serde_json::Value>(data) else {
                        stats.errors.push(format!("unparsable block event: {data}"));
                        continue;
                    };
                    for h in block["tx_hashes"].as_array().into_iter().flatten() {
                        let Some(&id) = h.as_str().and_then(|h| index.get(h)) else {
                            continue;
                        };
                        let from = from_ns[id].load(Ordering::Acquire);
                        if from != UNSET {
                            stats
                                .latencies
                                .push(Duration::from_nanos(now.saturating_sub(from)));
                        }
                        seen += 1;
                        pending.add_permits(1);
                    }
                }
            }
            (
                stats,
                origin + Duration::from_nanos(since(tokio::time::Instant::now())),
            )
        })
    };

    let single = format!("{base}/v1/transactions");
    let batch = format!("{base}/v1/transactions/batch");
    let started = tokio::time::Instant::now() + Duration::from_millis(50);
    let gates = pace(&per_conn, started)?;
    let tasks: Vec<_> = per_conn
        .into_iter()
        .zip(gates)
        .map(|(chunks, mut gate)| {
            let (http, single, batch, from_ns, pending) = (
                http.clone(),
                single.clone(),
                batch.clone(),
                from_ns.clone(),
                pending.clone(),
            );
            tokio::spawn(async move {
                let mut errors = Vec::new();
                let mut lateness = Vec::new();
                for mut chunk in chunks {
                    let Some(last_due) = chunk.last().map(|j| j.due) else {
                        continue;
                    };
                    let n = chunk.len();
                    if gate.recv().await.is_none() {
                        break;
                    }
                    if !open_loop {
                        match pending.acquire_many(n as u32).await {
                            Ok(p) => p.forget(),
                            Err(_) => break,
                        }
                    }
                    let now = tokio::time::Instant::now();
                    if open_loop {
                        lateness.push(now.saturating_duration_since(started + last_due));
                    }
                    for job in &chunk {
                        let from = if open_loop { started + job.due } else { now };
                        from_ns[job.id].store(since(from), Ordering::Release);
                    }
                    let url = if n == 1 { &single } else { &batch };
                    let answer = http
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body_of(&mut chunk))
                        .send()
                        .await;
                    match answer {
                        Ok(r) if n == 1 && r.status() == reqwest::StatusCode::ACCEPTED => {}
                        Ok(r) if n > 1 && r.status() == reqwest::StatusCode::OK => {
                            let outcomes = match r.bytes().await {
                                Ok(b) => batch_outcomes(&b, n),
                                Err(e) => Err(e.to_string()),
                            };
                            match outcomes {
                                Ok(outcomes) => {
                                    for o in outcomes.into_iter().filter(|o| o.status != "pending")
                                    {
                                        errors.push(format!(
                                            "{}: {}",
                                            o.status,
                                            o.error.unwrap_or_default()
                                        ));
                                        pending.add_permits(1);
                                    }
                                }
                                Err(e) => {
                                    errors.push(e);
                                    pending.add_permits(n);
                                }
                            }
                        }
                        Ok(r) => {
                            let status = r.status();
                            let text = r.text().await.unwrap_or_default();
                            errors.push(format!("HTTP {status}: {text}"));
                            pending.add_permits(n);
                        }
                        Err(e) => {
                            errors.push(e.to_string());
                            pending.add_permits(n);
                        }
                    }
                }
                (errors, lateness)
            })
        })
        .collect();
    let mut send_errors = Vec::new();
    let mut lateness = Vec::new();
    for t in tasks {
        match t.await {
            Ok((e, late)) => {
                send_errors.extend(e);
                lateness.extend(late);
            }
            Err(e) => send_errors.push(format!("connection task: {e}")),
        }
    }
    sent_all.notify_one();
    let (mut stats, finished) = reader.await.context("the stream reader")?;
    stats.errors.extend(send_errors);
    stats.lateness.extend(lateness);
    if stats.latencies.len() < total && stats.errors.is_empty() {
        stats.errors.push(format!(
            "{} transactions admitted but not seen committed on the stream",
            total - stats.latencies.len()
        ));
    }
    Ok((stats, started, finished))
}

fn report(r: &PhaseResult, k: usize, batch: u16, rate: Option<f64>, mode: Mode, quiet: bool) {
    say!(
        quiet,
        "mode: {}, {k} connections, {}{}",
        match rate {
            Some(r) => format!("open loop at {r:.0} tx/s"),
            None => "closed loop".to_string(),
        },
        match mode {
            Mode::Wait => "?wait=true (answered after the durable commit)",
            Mode::Stream =>
                "answered at admission (202), commits seen on /v1/stream (execution success not checked)",
        },
        if batch > 1 {
            format!(", {batch} transactions per request (POST /v1/transactions/batch)")
        } else {
            String::new()
        }
    );
    say!(
        quiet,
        "committed {} transactions in {:.2} s: {:.0} tx/s ({} failed in execution, {} not committed)",
        r.committed,
        r.elapsed.as_secs_f64(),
        r.tx_per_s(),
        r.failed,
        r.errors.len()
    );
    say!(
        quiet,
        "submit-to-commit latency: p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms",
        r.p(0.50),
        r.p(0.99),
        r.p(0.999),
        ms(r.latencies.last().copied().unwrap_or_default())
    );
    if !r.lateness.is_empty() {
        say!(
            quiet,
            "send lateness after the due time: p50 {:.2} ms, p99 {:.2} ms",
            ms(percentile(&r.lateness, 0.50)),
            ms(percentile(&r.lateness, 0.99))
        );
    }
    say!(
        quiet,
        "blocks: {} (about {:.0} transactions per block)",
        r.blocks,
        r.committed as f64 / r.blocks.max(1) as f64
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match (r.node_us, r.client_us) {
        (Some([http, verify, producer, writer, apply, other]), Some(c)) => {
            let n = http + verify + producer + writer + apply + other;
            say!(
                quiet,
                "CPU per committed transaction: node {n:.0} us (HTTP {http:.0}, signature check {verify:.0}, producer {producer:.0}, writer {writer:.0}, redb {apply:.0}, other {other:.0}), loadgen {c:.0} us ({cores} cores give at most {:.0} tx/s at that cost)",
                cores as f64 * 1e6 / (n + c)
            );
        }
        (None, Some(c)) => say!(
            quiet,
            "CPU per committed transaction: loadgen {c:.0} us (pass --node-pid for the node's)"
        ),
        _ => {}
    }
    if let Some(e) = r.errors.first() {
        say!(quiet, "first error: {e}");
    }
}

fn run(args: Args) -> Result<()> {
    let k = args.connections.max(1);
    let fixed = args.fixed_rate.iter().map(|&r| ("--fixed-rate", Some(r)));
    for (what, rate) in [
        ("--rate", args.rate),
        ("--phase-secs", Some(args.phase_secs)),
    ]
    .into_iter()
    .chain(fixed)
    {
        if let Some(v) = rate
            && !(v.is_finite() && v > 0.0)
        {
            bail!("{what} must be a positive number");
        }
    }
    // A closed-loop `stream` connection takes a whole batch's permits at once: with fewer
    // permits than a batch it would wait forever.
    if args.mode == Mode::Stream && args.max_pending < usize::from(args.batch) {
        bail!(
            "--max-pending ({}) must be at least --batch ({})",
            args.max_pending,
            args.batch
        );
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
    say!(
        args.sweep,
        "node {} (chain {chain_id}, height {}), custody contract {contract}",
        args.url,
        status.height
    );
    let plan = |txs: usize, rate: Option<f64>| Plan {
        chain_id: &chain_id,
        contract: &contract,
        txs,
        connections: k,
        accounts: args.accounts,
        rate,
        documents: args.documents,
    };
    let signed = |p: &Plan<'_>| -> Result<Vec<Vec<Job>>> {
        let t = Instant::now();
        let jobs = presign(p)?;
        say!(
            args.sweep,
            "pre-signed {} transactions from {} accounts in {:.2} s",
            p.txs,
            p.accounts.max(k),
            t.elapsed().as_secs_f64()
        );
        Ok(jobs)
    };

    let first_rate = if args.sweep { None } else { args.rate };
    let max = phase(
        &args,
        &client,
        signed(&plan(args.txs, first_rate))?,
        first_rate,
    )?;
    report(&max, k, args.batch, first_rate, args.mode, args.sweep);
    let mode = match args.mode {
        Mode::Wait => "wait",
        Mode::Stream => "stream",
    };
    // Figures keep their names for one transaction per request; batches get their own.
    let mode_key = if args.batch > 1 {
        format!("{mode}_batch{}", args.batch)
    } else {
        mode.to_string()
    };
    if first_rate.is_none() {
        procstat::record_figure(&format!("e2e.{mode_key}.max_tx_per_s"), max.tx_per_s());
    }
    if !args.sweep {
        return Ok(());
    }
    let mut rows = vec![("maximum (closed loop)".to_string(), None, max)];
    let top = rows[0].2.tx_per_s();
    let shares = [0.25, 0.5, 0.75, 0.9]
        .map(|share| (format!("{:.0} % of maximum", share * 100.0), top * share));
    let fixed = args
        .fixed_rate
        .iter()
        .map(|&r| (format!("steady {r:.0}/s"), r));
    for (name, rate) in shares.into_iter().chain(fixed) {
        let txs = (rate * args.phase_secs).ceil().max(1.0) as usize;
        eprintln!();
        let r = phase(&args, &client, signed(&plan(txs, Some(rate)))?, Some(rate))?;
        report(&r, k, args.batch, Some(rate), args.mode, true);
        rows.push((name, Some(rate), r));
    }
    for (_, rate, r) in &rows {
        if let Some(rate) = rate
            && args.fixed_rate.contains(rate)
        {
            procstat::record_figure(
                &format!("e2e.{mode_key}.p99_at_{rate:.0}_ns"),
                percentile(&r.latencies, 0.99).as_nanos() as f64,
            );
        }
    }
    let batch_arg = if args.batch > 1 {
        format!(" --batch {}", args.batch)
    } else {
        String::new()
    };
    println!(
        "\n### End to end over HTTP (`loadgen --sweep --mode {mode}{batch_arg}`, {k} connections)\n"
    );
    println!(
        "| load | offered tx/s | committed tx/s | p50 ms | p99 ms | p999 ms | tx/block | node CPU µs/tx: HTTP | signature | producer | writer | redb | other | loadgen µs/tx |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, rate, r) in &rows {
        let [http, verify, producer, writer, apply, other] = r.node_us.map_or([f64::NAN; 6], |v| v);
        println!(
            "| {name} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} | {http:.1} | {verify:.1} | {producer:.1} | {writer:.1} | {apply:.1} | {other:.1} | {:.1} |",
            rate.map_or("as fast as answered".to_string(), |r| format!("{r:.0}")),
            r.tx_per_s(),
            r.p(0.5),
            r.p(0.99),
            r.p(0.999),
            r.committed as f64 / r.blocks.max(1) as f64,
            r.client_us.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn job(due_ms: u64) -> Job {
        Job {
            id: 0,
            body: Vec::new(),
            due: Duration::from_millis(due_ms),
            hash: String::new(),
        }
    }

    /// The `register` messages of a pre-signed phase: (document id, content hash).
    fn registers(documents: Documents) -> Vec<(String, String)> {
        let contract = "00".repeat(20);
        let plan = Plan {
            chain_id: "vellum-test",
            contract: &contract,
            txs: 64,
            connections: 4,
            accounts: 4,
            rate: None,
            documents,
        };
        presign(&plan)
            .unwrap()
            .into_iter()
            .flatten()
            .map(|job| {
                let envelope: serde_json::Value = serde_json::from_slice(&job.body).unwrap();
                let payload: serde_json::Value =
                    serde_json::from_str(envelope["payload"].as_str().unwrap()).unwrap();
                let register = &payload["action"]["execute"]["msg"]["register"];
                (
                    register["document_id"].as_str().unwrap().to_string(),
                    register["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// `--documents random` gives every transaction its own random document id and content
    /// hash (what makes its keys scatter); `sequential` one run's numbered ids and one hash.
    #[test]
    fn documents_are_numbered_or_random_as_asked() {
        let is_hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        let random = registers(Documents::Random);
        assert_eq!(random.len(), 64);
        let ids: std::collections::BTreeSet<_> = random.iter().map(|r| &r.0).collect();
        let hashes: std::collections::BTreeSet<_> = random.iter().map(|r| &r.1).collect();
        assert_eq!((ids.len(), hashes.len()), (64, 64));
        assert!(random.iter().all(|(id, h)| is_hex(id, 32) && is_hex(h, 64)));

        let sequential = registers(Documents::Sequential);
        let hashes: std::collections::BTreeSet<_> = sequential.iter().map(|r| &r.1).collect();
        assert_eq!(hashes.into_iter().collect::<Vec<_>>(), [FIXED_CONTENT]);
        let prefix = sequential[0].0.rsplit_once('-').unwrap().0.to_string();
        let mut numbers: Vec<usize> = sequential
            .iter()
            .map(|(id, _)| {
                let (p, n) = id.rsplit_once('-').unwrap();
                assert_eq!(p, prefix);
                n.parse().unwrap()
            })
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (0..64).collect::<Vec<_>>());
    }

    /// Every chunk is released once, in its connection's order, and never before its due time:
    /// an early send would shorten the latency that an open loop reports (it counts from the
    /// due time).
    #[test]
    fn the_pacer_releases_each_chunk_once_and_never_before_it_is_due() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let per_conn: Vec<Vec<Chunk>> = vec![
                vec![vec![job(0)], vec![job(30)], vec![job(31), job(60)]],
                vec![vec![job(10)], vec![job(45)]],
                vec![],
            ];
            let started = tokio::time::Instant::now() + Duration::from_millis(20);
            let gates = pace(&per_conn, started).unwrap();
            assert_eq!(gates.len(), per_conn.len());
            let listeners: Vec<_> = per_conn
                .into_iter()
                .zip(gates)
                .map(|(chunks, mut gate)| {
                    tokio::spawn(async move {
                        let mut released = Vec::new();
                        for chunk in chunks {
                            assert!(gate.recv().await.is_some(), "a chunk was never released");
                            let due = chunk.last().unwrap().due;
                            released.push((due, tokio::time::Instant::now()));
                        }
                        assert!(gate.recv().await.is_none(), "released more than once");
                        released
                    })
                })
                .collect();
            let mut count = 0;
            for listener in listeners {
                for (due, at) in listener.await.unwrap() {
                    assert!(
                        at >= started + due,
                        "released {:?} before its due time",
                        (started + due) - at
                    );
                    count += 1;
                }
            }
            assert_eq!(count, 5);
        });
    }
}
