//! The load soak (issue 6, item 6): measure a node's maximum durable throughput, hold half of it
//! for a long time, then offer twice it, and check the node's answers and memory throughout.
//!
//! Phases, against one node and one data directory:
//! 1. **max**: a closed loop of [`SoakConfig::lanes`] concurrent `POST
//!    /v1/transactions?wait=true` requests (each answered after its block's durable commit) for
//!    [`SoakConfig::max_secs`]; the committed transactions per second are the maximum.
//! 2. **soak**: an open loop at half the maximum for [`SoakConfig::soak_secs`]: transaction i is
//!    due at `start + i / rate` whatever the node does (no coordinated omission). Passes with zero
//!    5xx, zero connection failures and resident memory (`VmRSS`) at the end at most
//!    [`SoakConfig::rss_growth_max`] above its value at [`SoakConfig::rss_at_secs`].
//! 3. **overload**: the open loop at twice the maximum for [`SoakConfig::overload_secs`]. Passes
//!    when every answer is 2xx, 429 or 503 (the node sheds what it cannot take) and no connection
//!    fails.
//! 4. **after**: a transaction commits and `/v1/status` and `/v1/health` answer.
//!
//! Every transaction is a custody `register` of a fresh document. Accounts come from a pool:
//! a request takes a free account, and gives it back when answered; an account whose transaction
//! was refused with 429/503 keeps its signed envelope for the next attempt (its nonce was not
//! used), so only admitted transactions cost a signature and the generator's CPU stays near
//! what it is in the closed loop. When no account is free at a due time, the request is counted
//! as `starved` (the generator's limit, not the node's) and skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k256::ecdsa::SigningKey;
use serde_json::{Value, json};
use tokio::time::Instant;
use vellum_node::chain::tx::{Action, address_of_signing_key, payload_json, sign};
use vellum_node::client::{Client, output};

use crate::rss_kib;

const DOC: &str = "5d41402abc4b2a76b9719d911017c592ae3a5a8f29d5b2a3f8f5bd2d6e8c1e0f";

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Seconds of the closed loop that measures the maximum.
    pub max_secs: f64,
    /// Seconds at half the maximum.
    pub soak_secs: f64,
    /// When, in seconds into the soak, the reference resident memory is read.
    pub rss_at_secs: f64,
    /// Largest allowed growth of resident memory from `rss_at_secs` to the end of the soak
    /// (0.10 is 10 %).
    pub rss_growth_max: f64,
    /// Seconds at twice the maximum.
    pub overload_secs: f64,
    /// Concurrent requests of the closed loop.
    pub lanes: usize,
    /// Accounts in the pool (bounds the requests outstanding in the open loop).
    pub accounts: usize,
    /// Async worker threads of the generator.
    pub client_threads: usize,
}

impl SoakConfig {
    /// The long form of issue 6: 10 minutes at half the maximum, 60 seconds at twice it.
    pub fn long() -> Self {
        Self {
            max_secs: 20.0,
            soak_secs: 600.0,
            rss_at_secs: 60.0,
            rss_growth_max: 0.10,
            overload_secs: 60.0,
            lanes: 64,
            // Above the node's in-flight bound (4,096), so that the overload exceeds it, and
            // below its connection bound (10,000): each outstanding request holds a connection.
            accounts: 8_192,
            client_threads: 2,
        }
    }

    /// Seconds instead of minutes, for the test suite.
    pub fn short() -> Self {
        Self {
            max_secs: 3.0,
            soak_secs: 8.0,
            rss_at_secs: 2.0,
            overload_secs: 4.0,
            ..Self::long()
        }
    }
}

/// Answers of one phase.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Answers by `(status, error code)` (the code is empty for 2xx).
    pub answers: BTreeMap<(u16, String), u64>,
    /// Requests that got no HTTP answer (connect or read failed).
    pub connection_errors: u64,
    /// Due requests skipped because no account was free.
    pub starved: u64,
    /// Requests sent.
    pub sent: u64,
    /// Committed transactions whose receipt says `success: false`.
    pub failed_in_execution: u64,
    /// Latency of 2xx answers from when they were due, in microseconds.
    pub latencies_us: Vec<u64>,
    /// The first few connection errors and unexpected answers.
    pub samples: Vec<String>,
    /// Wall time of the phase, in seconds.
    pub elapsed_secs: f64,
}

impl Tally {
    /// Answers with this status class (`2` for 2xx, `5` for 5xx).
    pub fn class(&self, hundreds: u16) -> u64 {
        self.answers
            .iter()
            .filter(|((s, _), _)| s / 100 == hundreds)
            .map(|(_, n)| n)
            .sum()
    }

    /// Answers with exactly this status.
    pub fn status(&self, status: u16) -> u64 {
        self.answers
            .iter()
            .filter(|((s, _), _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    }

    /// Latency percentile of the 2xx answers, in ms.
    pub fn latency_ms(&self, p: f64) -> f64 {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        if l.is_empty() {
            return 0.0;
        }
        let i = ((l.len() - 1) as f64 * p).round() as usize;
        l[i.min(l.len() - 1)] as f64 / 1e3
    }

    /// One line: sent, answers by status and code, errors, latency.
    pub fn summary(&self) -> String {
        let answers: Vec<String> = self
            .answers
            .iter()
            .map(|((s, c), n)| {
                if c.is_empty() {
                    format!("{s}: {n}")
                } else {
                    format!("{s} {c}: {n}")
                }
            })
            .collect();
        format!(
            "sent {} in {:.1} s ({:.0}/s); answers {{{}}}; connection errors {}; starved {}; failed in execution {}; 2xx latency p50 {:.1} ms p99 {:.1} ms",
            self.sent,
            self.elapsed_secs,
            self.sent as f64 / self.elapsed_secs.max(1e-9),
            answers.join(", "),
            self.connection_errors,
            self.starved,
            self.failed_in_execution,
            self.latency_ms(0.5),
            self.latency_ms(0.99)
        )
    }
}

/// What the soak measured.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// Committed transactions per second of the closed loop.
    pub max_tps: f64,
    /// The closed loop's answers.
    pub max_phase: Tally,
    /// Rate offered during the soak (half the maximum).
    pub soak_rate: f64,
    /// The soak's answers.
    pub soak: Tally,
    /// Resident memory at `rss_at_secs` into the soak, in KiB.
    pub rss_ref_kib: u64,
    /// Resident memory at the end of the soak, in KiB.
    pub rss_end_kib: u64,
    /// Every sample `(seconds into the soak, KiB)`.
    pub rss_samples: Vec<(f64, u64)>,
    /// Rate offered during the overload (twice the maximum).
    pub overload_rate: f64,
    /// The overload's answers.
    pub overload: Tally,
    /// Height and receipt status of the transaction sent after the overload.
    pub after_commit: (u64, bool),
}

impl SoakReport {
    /// Growth of resident memory over the soak, as a fraction.
    pub fn rss_growth(&self) -> f64 {
        self.rss_end_kib as f64 / self.rss_ref_kib.max(1) as f64 - 1.0
    }

    /// What failed against the criteria of [`SoakConfig`]; empty when the soak passed.
    pub fn failures(&self, config: &SoakConfig) -> Vec<String> {
        let mut f = Vec::new();
        if self.soak.class(5) > 0 {
            f.push(format!("soak: {} answers were 5xx", self.soak.class(5)));
        }
        if self.soak.connection_errors > 0 {
            f.push(format!(
                "soak: {} connection errors",
                self.soak.connection_errors
            ));
        }
        let other = self.soak.sent - self.soak.class(2) - self.soak.connection_errors;
        if other > 0 {
            f.push(format!("soak: {other} answers were not 2xx"));
        }
        if self.rss_growth() > config.rss_growth_max {
            f.push(format!(
                "soak: resident memory grew {:.1} % ({} KiB at {} s, {} KiB at the end)",
                self.rss_growth() * 100.0,
                self.rss_ref_kib,
                config.rss_at_secs,
                self.rss_end_kib
            ));
        }
        let shed = self.overload.status(429) + self.overload.status(503);
        let outside =
            self.overload.sent - self.overload.class(2) - shed - self.overload.connection_errors;
        if outside > 0 {
            f.push(format!(
                "overload: {outside} answers were neither 2xx nor 429/503"
            ));
        }
        if self.overload.connection_errors > 0 {
            f.push(format!(
                "overload: {} connection errors",
                self.overload.connection_errors
            ));
        }
        if !self.after_commit.1 {
            f.push("after: the transaction sent after the overload failed".into());
        }
        f
    }
}

struct Account {
    key: SigningKey,
    nonce: u64,
    /// A signed body for `nonce`, kept when the node refused it without using the nonce.
    pending: Option<Vec<u8>>,
}

struct Generator {
    http: reqwest::Client,
    url: String,
    chain_id: String,
    contract: String,
    run_id: String,
    pool: Mutex<Vec<Account>>,
}

impl Generator {
    fn take(&self) -> Option<Account> {
        self.pool.lock().unwrap().pop()
    }

    fn give_back(&self, account: Account) {
        self.pool.lock().unwrap().push(account);
    }

    fn sign(&self, account: &Account) -> Vec<u8> {
        let signer = address_of_signing_key(&account.key);
        let msg = json!({"register": {
            "document_id": format!("soak-{}-{}-{}", self.run_id, hex::encode(&signer[..6]), account.nonce),
            "sha256": DOC,
        }});
        let action = Action::Execute {
            contract: self.contract.clone(),
            msg: serde_json::value::to_raw_value(&msg).unwrap(),
        };
        let payload = payload_json(&self.chain_id, &signer, account.nonce, None, &action);
        serde_json::to_vec(&sign(&payload, &account.key)).unwrap()
    }

    /// Sends one transaction of `account` (due at `due`) and records the answer; gives the
    /// account back unless its nonce is now unknown.
    async fn send(&self, mut account: Account, due: Instant, tally: &Mutex<Tally>) {
        let body = match account.pending.take() {
            Some(b) => b,
            None => self.sign(&account),
        };
        let answer = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        let (status, bytes) = match answer {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(b) => (status, b),
                    Err(e) => return self.lost(tally, format!("reading the answer: {e}")),
                }
            }
            Err(e) => return self.lost(tally, format!("{e:?}")),
        };
        let latency = due.elapsed();
        let mut t = tally.lock().unwrap();
        t.sent += 1;
        if (200..300).contains(&status) {
            t.latencies_us.push(latency.as_micros() as u64);
            *t.answers.entry((status, String::new())).or_default() += 1;
            if status == 200 && !bytes.windows(14).any(|w| w == b"\"success\":true") {
                t.failed_in_execution += 1;
            }
            drop(t);
            account.nonce += 1;
            self.give_back(account);
            return;
        }
        let code = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
            .unwrap_or_else(|| "<no SPEC body>".into());
        *t.answers.entry((status, code.clone())).or_default() += 1;
        if status == 429 || status == 503 {
            // Refused before admission: the same envelope is good for the next attempt.
            drop(t);
            account.pending = Some(body);
            self.give_back(account);
        } else if t.samples.len() < 5 {
            // Anything else leaves the account's nonce in doubt: retire it.
            t.samples.push(format!(
                "HTTP {status} {code}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
    }

    /// Records a request without an HTTP answer; its account is retired (was it admitted?).
    fn lost(&self, tally: &Mutex<Tally>, why: String) {
        let mut t = tally.lock().unwrap();
        t.sent += 1;
        t.connection_errors += 1;
        if t.samples.len() < 5 {
            t.samples.push(why);
        }
    }
}

/// Closed loop: `lanes` requests outstanding at all times for `secs`.
async fn closed_loop(g: Arc<Generator>, lanes: usize, secs: f64) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..lanes)
        .map(|_| {
            let (g, tally) = (g.clone(), tally.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    let Some(account) = g.take() else {
                        tally.lock().unwrap().starved += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    };
                    g.send(account, Instant::now(), &tally).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut out = std::mem::take(&mut *tally.lock().unwrap());
    out.elapsed_secs = start.elapsed().as_secs_f64();
    out
}

/// Open loop: request i is due at `start + i / rate`, for `secs`. Calls `tick(seconds)` about
/// once a second.
async fn open_loop(g: Arc<Generator>, rate: f64, secs: f64, mut tick: impl FnMut(f64)) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let total = (rate * secs).round() as u64;
    let mut tasks = tokio::task::JoinSet::new();
    let mut starved = 0;
    let mut next_tick = 1.0;
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let since = start.elapsed().as_secs_f64();
        if since >= next_tick {
            tick(since);
            next_tick += 1.0;
        }
        while tasks.try_join_next().is_some() {}
        let Some(account) = g.take() else {
            starved += 1;
            continue;
        };
        let (g, tally) = (g.clone(), tally.clone());
        tasks.spawn(async move { g.send(account, due, &tally).await });
    }
    while tasks.join_next().await.is_some() {}
    tick(start.elapsed().as_secs_f64());
    let mut out = std::mem::take(&mut *tally.lock().unwrap());
    out.starved += starved;
    out.elapsed_secs = start.elapsed().as_secs_f64();
    out
}

/// Deploys and instantiates the custody contract through the client.
fn deploy_custody(client: &Client) -> String {
    let wasm =
        vellum_testing::build_contract(crate::workspace().join("contracts/custody")).unwrap();
    let admin = vellum_node::client::generate_key().unwrap();
    let r = client.deploy(&admin, &wasm).unwrap();
    assert!(r.success, "{:?}", r.error);
    let code_hash = output(&r)["code_hash"].as_str().unwrap().to_string();
    let r = client
        .instantiate(&admin, &code_hash, &json!({}), "soak")
        .unwrap();
    assert!(r.success, "{:?}", r.error);
    output(&r)["contract"].as_str().unwrap().to_string()
}

/// Runs the four phases against the node at `url` (process `pid`), printing progress, and
/// returns the figures. Call it outside any async runtime.
pub fn run(url: &str, pid: u32, config: &SoakConfig) -> SoakReport {
    let client = Client::new(url).unwrap();
    let chain_id = client.chain_id().unwrap();
    let contract = deploy_custody(&client);
    let mut run_id = [0u8; 6];
    getrandom_fill(&mut run_id);
    let pool: Vec<Account> = (0..config.accounts)
        .map(|_| Account {
            key: vellum_node::client::generate_key().unwrap(),
            nonce: 0,
            pending: None,
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.client_threads.max(1))
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(config.accounts)
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let g = Arc::new(Generator {
        http,
        url: format!("{}/v1/transactions?wait=true", url.trim_end_matches('/')),
        chain_id,
        contract,
        run_id: hex::encode(run_id),
        pool: Mutex::new(pool),
    });

    println!(
        "phase max: closed loop, {} lanes, {} s",
        config.lanes, config.max_secs
    );
    let max_phase = runtime.block_on(closed_loop(g.clone(), config.lanes, config.max_secs));
    let max_tps = max_phase.status(200) as f64 / max_phase.elapsed_secs.max(1e-9);
    println!("  {}", max_phase.summary());
    println!("  maximum: {max_tps:.0} committed tx/s");
    assert!(max_tps > 0.0, "nothing committed in the closed loop");

    let soak_rate = max_tps / 2.0;
    println!(
        "phase soak: open loop at {soak_rate:.0} tx/s for {} s",
        config.soak_secs
    );
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut rss_ref = None;
    let soak = runtime.block_on(open_loop(g.clone(), soak_rate, config.soak_secs, |t| {
        let Some(kib) = rss_kib(pid) else { return };
        samples.push((t, kib));
        if rss_ref.is_none() && t >= config.rss_at_secs {
            rss_ref = Some(kib);
            println!("  RSS at {t:.0} s: {kib} KiB");
        }
        if (t as u64).is_multiple_of(60) {
            println!("  {t:.0} s: RSS {kib} KiB");
        }
    }));
    let rss_end = rss_kib(pid).unwrap_or(0);
    println!("  {}", soak.summary());
    let rss_ref = rss_ref.unwrap_or(rss_end);
    println!(
        "  RSS {rss_ref} KiB at {} s, {rss_end} KiB at the end: {:+.1} %",
        config.rss_at_secs,
        (rss_end as f64 / rss_ref.max(1) as f64 - 1.0) * 100.0
    );

    let overload_rate = max_tps * 2.0;
    println!(
        "phase overload: open loop at {overload_rate:.0} tx/s for {} s",
        config.overload_secs
    );
    let overload = runtime.block_on(open_loop(
        g.clone(),
        overload_rate,
        config.overload_secs,
        |_| {},
    ));
    println!("  {}", overload.summary());
    drop(runtime);

    // After: the node serves normally.
    let key = vellum_node::client::generate_key().unwrap();
    let r = client
        .execute(
            &key,
            &g.contract,
            &json!({"register": {"document_id": format!("soak-after-{}", g.run_id), "sha256": DOC}}),
        )
        .unwrap();
    let status = client.status().unwrap();
    println!(
        "phase after: a transaction committed in block {} (success {}), status height {}",
        r.block_height, r.success, status.height
    );
    SoakReport {
        max_tps,
        max_phase,
        soak_rate,
        soak,
        rss_ref_kib: rss_ref,
        rss_end_kib: rss_end,
        rss_samples: samples,
        overload_rate,
        overload,
        after_commit: (r.block_height, r.success),
    }
}

fn getrandom_fill(bytes: &mut [u8]) {
    let key = vellum_node::client::generate_key().unwrap();
    let secret = key.to_bytes();
    for (b, s) in bytes.iter_mut().zip(secret.iter()) {
        *b = *s;
    }
}
