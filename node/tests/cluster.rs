//! In-process clusters of real members (ledger, openraft, HTTP on loopback, each member in its
//! own tokio runtime so that stopping one closes all its sockets): failover under load, a
//! wiped member rejoining through a snapshot, a member cut off by a dropping proxy, and
//! membership changes under load. The multi-process form with SIGKILL is in
//! tests/tests/cluster.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k256::ecdsa::SigningKey;
use serde_json::Value;
use vellum_node::api::{ApiConfig, ApiState};
use vellum_node::chain::tx::{Action, payload_json, sign};
use vellum_node::cluster::{Cluster, ClusterConfig};
use vellum_node::ledger::{Ledger, LedgerConfig};

const CHAIN: &str = "vellum-cluster-test";
const SECRET: &str = "a-test-cluster-secret";

/// A member: its directory and address survive restarts.
struct Member {
    id: u64,
    dir: PathBuf,
    /// Where it listens (and, with `ip`, where its requests come from).
    listen: SocketAddr,
    /// The address the cluster knows it by (its proxy in the partition test).
    advertised: String,
    running: Option<Running>,
}

struct Running {
    runtime: tokio::runtime::Runtime,
    ledger: Arc<Ledger>,
    cluster: Arc<Cluster>,
}

fn free_port(ip: IpAddr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Member {
    fn new(id: u64, root: &Path, ip: IpAddr) -> Self {
        let listen = SocketAddr::new(ip, free_port(ip));
        Self {
            id,
            dir: root.join(format!("n{id}")),
            listen,
            advertised: format!("http://{listen}"),
            running: None,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.listen)
    }

    fn start(&mut self, snapshot_logs: u64) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut config = LedgerConfig::new(&self.dir, CHAIN);
        config.replicated = true;
        // The previous incarnation may take a moment to let go of its files.
        let deadline = Instant::now() + Duration::from_secs(10);
        let ledger = loop {
            match Ledger::open(config.clone()) {
                Ok(l) => break Arc::new(l),
                Err(e) if Instant::now() < deadline => {
                    eprintln!("member {} reopening: {e}", self.id);
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("member {}: {e}", self.id),
            }
        };
        let mut cc = ClusterConfig::new(self.id, SECRET, &self.dir);
        cc.snapshot_logs = snapshot_logs;
        cc.heartbeat_ms = 100;
        cc.election_ms = (500, 1000);
        cc.local_ip = Some(self.listen.ip());
        let listen = self.listen;
        let cluster = runtime.block_on(async {
            let cluster = loop {
                match Cluster::start(ledger.clone(), cc.clone()).await {
                    Ok(c) => break c,
                    Err(e) if Instant::now() < deadline => {
                        eprintln!("raft log reopening: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            let listener = loop {
                match tokio::net::TcpListener::bind(listen).await {
                    Ok(l) => break l,
                    Err(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("binding {listen}: {e}"),
                }
            };
            let state =
                ApiState::new(ledger.clone(), ApiConfig::default()).with_cluster(cluster.clone());
            tokio::spawn(vellum_node::api::serve(
                listener,
                state,
                std::future::pending(),
            ));
            cluster
        });
        self.running = Some(Running {
            runtime,
            ledger,
            cluster,
        });
    }

    /// Stops abruptly: every task and socket of the member goes at once (nothing is flushed
    /// that was not already durable; the in-process stand-in for SIGKILL).
    fn kill(&mut self) {
        if let Some(r) = self.running.take() {
            r.ledger.shutdown();
            r.runtime.shutdown_timeout(Duration::from_secs(2));
            drop(r.cluster);
            drop(r.ledger);
        }
    }

    fn cluster(&self) -> &Arc<Cluster> {
        &self.running.as_ref().unwrap().cluster
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn get(url: &str) -> Option<Value> {
    let r = http()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().ok()
}

fn status(url: &str) -> Option<Value> {
    get(&format!("{url}/v1/status"))
}

/// Waits until some member says it is the leader and every given member agrees; returns its id.
fn wait_leader(urls: &[String], within: Duration) -> u64 {
    wait_leader_not(urls, None, within)
}

/// [`wait_leader`], for a leader other than `not`.
fn wait_leader_not(urls: &[String], not: Option<u64>, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let views: Vec<Option<u64>> = urls
            .iter()
            .map(|u| status(u).and_then(|s| s["cluster"]["leader"].as_u64()))
            .collect();
        if let Some(Some(l)) = views.first()
            && views.iter().all(|v| *v == Some(*l))
            && Some(*l) != not
        {
            return *l;
        }
        assert!(Instant::now() < deadline, "no agreed leader: {views:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until every member reports the same tip (height, hash and state root) at or above
/// `min_height`; returns the tip block.
fn wait_converged(urls: &[String], min_height: u64, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let tips: Vec<Option<Value>> = urls
            .iter()
            .map(|u| get(&format!("{u}/v1/blocks/latest")))
            .collect();
        let key = |b: &Option<Value>| {
            b.as_ref().map(|b| {
                (
                    b["height"].clone(),
                    b["hash"].clone(),
                    b["state_root"].clone(),
                )
            })
        };
        if let Some(Some(first)) = tips.first()
            && first["height"].as_u64().unwrap_or(0) >= min_height
            && tips.iter().all(|t| key(t) == key(&tips[0]))
        {
            return first.clone();
        }
        if Instant::now() >= deadline {
            for u in urls {
                eprintln!("{u}: {:?}", status(u));
            }
        }
        assert!(
            Instant::now() < deadline,
            "members did not converge: {:?}",
            tips.iter().map(key).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Continuous load: each worker signs its own account's transactions and submits them with
/// `?wait=true` to the members in turn, recording what was acknowledged (200 + receipt).
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(String, u64)>>>,
    errors: Arc<AtomicUsize>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(targets: Arc<Mutex<Vec<String>>>, workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(AtomicUsize::new(0));
        let handles = (0..workers)
            .map(|w| {
                let (stop, acked, errors, targets) =
                    (stop.clone(), acked.clone(), errors.clone(), targets.clone());
                std::thread::spawn(move || {
                    let key = SigningKey::from_slice(&[w as u8 + 1; 32]).unwrap();
                    let signer = vellum_node::chain::tx::address_of_signing_key(&key);
                    let client = http();
                    let mut nonce: Option<u64> = None;
                    let mut turn = w;
                    let action = Action::Execute {
                        contract: "00".repeat(20),
                        msg: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
                    };
                    while !stop.load(Ordering::Relaxed) {
                        turn += 1;
                        let list = targets.lock().unwrap().clone();
                        let url = &list[turn % list.len()];
                        let n = match nonce {
                            Some(n) => n,
                            None => {
                                match get(&format!("{url}/v1/accounts/{}", hex::encode(signer))) {
                                    Some(a) => a["nonce"].as_u64().unwrap(),
                                    None => {
                                        std::thread::sleep(Duration::from_millis(100));
                                        continue;
                                    }
                                }
                            }
                        };
                        let payload = payload_json(CHAIN, &signer, n, None, &action);
                        let envelope = sign(&payload, &key);
                        let r = client
                            .post(format!("{url}/v1/transactions?wait=true"))
                            .json(&envelope)
                            .send();
                        match r {
                            Ok(r) if r.status() == 200 => {
                                let receipt: Value = r.json().unwrap();
                                acked.lock().unwrap().push((
                                    receipt["tx_hash"].as_str().unwrap().to_string(),
                                    receipt["block_height"].as_u64().unwrap(),
                                ));
                                nonce = Some(n + 1);
                            }
                            _ => {
                                errors.fetch_add(1, Ordering::Relaxed);
                                nonce = None;
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            acked,
            errors,
            workers: handles,
        }
    }

    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    fn finish(self) -> (Vec<(String, u64)>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.join().unwrap();
        }
        let acked = self.acked.lock().unwrap().clone();
        (acked, self.errors.load(Ordering::Relaxed))
    }
}

/// Every acknowledged transaction is committed, at the height its receipt gave, on `url`.
fn assert_all_committed(url: &str, acked: &[(String, u64)]) {
    let client = http();
    for (hash, height) in acked {
        let v: Value = client
            .get(format!("{url}/v1/transactions/{hash}"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(
            v["status"], "committed",
            "{url}: acknowledged {hash} lost: {v}"
        );
        assert_eq!(
            v["receipt"]["block_height"].as_u64(),
            Some(*height),
            "{url}: {hash} moved"
        );
    }
}

fn wait_height_above(url: &str, h: u64, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if status(url).and_then(|s| s["height"].as_u64()).unwrap_or(0) > h {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{url} stayed at or below {h}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,vellum_node=info")),
        )
        .with_test_writer()
        .try_init();
}

fn three(root: &Path, snapshot_logs: u64) -> Vec<Member> {
    let mut members: Vec<Member> = (1..=3)
        .map(|i| Member::new(i, root, IpAddr::from([127, 0, 0, 1])))
        .collect();
    start_and_init(&mut members, snapshot_logs);
    members
}

/// Starts every member and forms the cluster from the first, with the addresses they advertise.
fn start_and_init(members: &mut [Member], snapshot_logs: u64) {
    for m in members.iter_mut() {
        m.start(snapshot_logs);
    }
    let addrs: BTreeMap<u64, String> = members
        .iter()
        .map(|m| (m.id, m.advertised.clone()))
        .collect();
    members[0]
        .running
        .as_ref()
        .unwrap()
        .runtime
        .block_on(members[0].cluster().init(addrs))
        .unwrap();
}

#[test]
fn the_leader_dies_under_load_and_nothing_acknowledged_is_lost() {
    logs();
    let root = tempfile::tempdir().unwrap();
    let mut members = three(root.path(), 5_000);
    let urls: Vec<String> = members.iter().map(Member::url).collect();
    let leader = wait_leader(&urls, Duration::from_secs(10));
    let targets = Arc::new(Mutex::new(urls.clone()));
    let load = Load::start(targets.clone(), 4);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(load.acked() > 0, "nothing committed before the failover");

    // Kill the leader: the load goes on against the two others.
    let li = members.iter().position(|m| m.id == leader).unwrap();
    let height_at_kill = status(&urls[(li + 1) % 3]).unwrap()["height"]
        .as_u64()
        .unwrap();
    targets.lock().unwrap().retain(|u| *u != urls[li]);
    let acked_at_kill = load.acked();
    members[li].kill();
    let survivors: Vec<String> = urls.iter().filter(|u| **u != urls[li]).cloned().collect();
    let new_leader = wait_leader_not(&survivors, Some(leader), Duration::from_secs(10));
    assert_ne!(new_leader, leader);
    let resumed = wait_height_above(&survivors[0], height_at_kill, Duration::from_secs(10));
    eprintln!("commits resumed {resumed:?} after the leader died");
    assert!(
        resumed < Duration::from_secs(5),
        "commits resumed only after {resumed:?}"
    );
    std::thread::sleep(Duration::from_millis(1000));

    // The dead member restarts and catches up while the load goes on.
    members[li].start(5_000);
    targets.lock().unwrap().push(urls[li].clone());
    std::thread::sleep(Duration::from_millis(1500));
    let (acked, errors) = load.finish();
    assert!(
        acked.len() > acked_at_kill,
        "nothing acknowledged after the failover"
    );
    eprintln!("{} acknowledged, {errors} failed attempts", acked.len());

    let top = acked.iter().map(|a| a.1).max().unwrap();
    let tip = wait_converged(&urls, top, Duration::from_secs(20));
    eprintln!("converged at {tip}");
    for u in &urls {
        assert_all_committed(u, &acked);
    }
    // Read-your-writes on any member.
    let r = get(&format!("{}/v1/blocks/latest?min_height={top}", urls[li])).unwrap();
    assert!(r["height"].as_u64().unwrap() >= top);
    for m in &mut members {
        m.kill();
    }
}

/// A TCP proxy in front of a member that can drop everything (a network cut).
struct Proxy {
    cut: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    fn start(listen: SocketAddr, target: SocketAddr, blocked_sources: BTreeSet<IpAddr>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(listen))
            .unwrap();
        let (c, k) = (cut.clone(), conns.clone());
        runtime.spawn(async move {
            loop {
                let Ok((mut inbound, peer)) = listener.accept().await else {
                    continue;
                };
                if c.load(Ordering::SeqCst) && blocked_sources.contains(&peer.ip())
                    || c.load(Ordering::SeqCst) && blocked_sources.is_empty()
                {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                k.lock().unwrap().push(task);
            }
        });
        Self {
            cut,
            conns,
            _runtime: runtime,
        }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[test]
fn a_cut_off_member_cannot_commit_alone_and_a_wiped_one_rejoins_through_a_snapshot() {
    logs();
    let root = tempfile::tempdir().unwrap();
    // Each member listens on its own loopback address and sends from it; the cluster knows
    // each by its proxy, so a proxy can cut a member off in both directions: its own proxy
    // drops everything, the others' drop what comes from its address.
    let mut members: Vec<Member> = (1..=3u8)
        .map(|i| Member::new(u64::from(i), root.path(), IpAddr::from([127, 0, 0, i])))
        .collect();
    let mut proxies = HashMap::new();
    for m in &mut members {
        let proxy_addr = SocketAddr::new(
            IpAddr::from([127, 0, 1, m.id as u8]),
            free_port(IpAddr::from([127, 0, 1, m.id as u8])),
        );
        m.advertised = format!("http://{proxy_addr}");
        proxies.insert(m.id, (proxy_addr, m.listen));
    }
    // Proxy of member i: when cut, drops everything if i is the cut member, or what comes
    // from the cut member (member 3) otherwise.
    let isolated: u64 = 3;
    let isolated_ip = IpAddr::from([127, 0, 0, isolated as u8]);
    let proxy: HashMap<u64, Proxy> = proxies
        .iter()
        .map(|(id, (listen, target))| {
            let blocked = if *id == isolated {
                BTreeSet::new()
            } else {
                BTreeSet::from([isolated_ip])
            };
            (*id, Proxy::start(*listen, *target, blocked))
        })
        .collect();
    start_and_init(&mut members, 40);
    let urls: Vec<String> = members.iter().map(Member::url).collect();
    wait_leader(&urls, Duration::from_secs(10));

    // Cut member 3 off while the two others take load: if 3 was the leader, the others elect
    // one of themselves.
    let connected = Arc::new(Mutex::new(vec![urls[0].clone(), urls[1].clone()]));
    let load = Load::start(connected.clone(), 3);
    std::thread::sleep(Duration::from_millis(500));
    for p in proxy.values() {
        p.set_cut(true);
    }
    let majority = wait_leader_not(&urls[..2], Some(isolated), Duration::from_secs(10));
    assert_ne!(majority, isolated);
    // Entries member 3 received as committed before the cut may still be applying: read its
    // height once it has held still for half a second (CI once saw 84 → 85 right after the cut).
    let height3 = || status(&urls[2]).unwrap()["height"].as_u64().unwrap();
    let settle_deadline = Instant::now() + Duration::from_secs(10);
    let mut h3 = height3();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = height3();
        if now == h3 {
            break;
        }
        assert!(
            Instant::now() < settle_deadline,
            "the isolated member's height kept moving after the cut: {h3} → {now}"
        );
        h3 = now;
    }
    // Member 3 alone: what is submitted there is not committed (its leader is unreachable or
    // it has none), and its chain does not move.
    let key = SigningKey::from_slice(&[99; 32]).unwrap();
    let signer = vellum_node::chain::tx::address_of_signing_key(&key);
    let action = Action::Execute {
        contract: "00".repeat(20),
        msg: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
    };
    let envelope = sign(&payload_json(CHAIN, &signer, 0, None, &action), &key);
    let r = http()
        .post(format!("{}/v1/transactions?wait=true", urls[2]))
        .timeout(Duration::from_secs(15))
        .json(&envelope)
        .send();
    if let Ok(r) = r {
        assert_ne!(
            r.status(),
            200,
            "an isolated member committed a transaction"
        );
    }
    std::thread::sleep(Duration::from_millis(1500));
    let s3 = status(&urls[2]).unwrap();
    assert_eq!(
        s3["height"].as_u64().unwrap(),
        h3,
        "the isolated member's chain moved"
    );
    assert_ne!(
        s3["cluster"]["role"], "leader",
        "the isolated member leads alone: {s3}"
    );
    let majority_height = status(&urls[0]).unwrap()["height"].as_u64().unwrap();
    assert!(
        majority_height > h3,
        "the majority did not go on committing"
    );

    // Reconnect: member 3 catches up (by log or snapshot: the log is compacted every 40).
    for p in proxy.values() {
        p.set_cut(false);
    }
    std::thread::sleep(Duration::from_millis(1000));

    // Wipe member 2's data directory (a follower, or the leader: either way two of three
    // remain) and restart it empty: it rejoins through a snapshot, verified before install.
    let victim = 1; // members[1] is id 2
    members[victim].kill();
    std::fs::remove_dir_all(&members[victim].dir).unwrap();
    connected.lock().unwrap().retain(|u| *u != urls[victim]);
    connected.lock().unwrap().push(urls[2].clone());
    std::thread::sleep(Duration::from_millis(1500));
    members[victim].start(40);
    std::thread::sleep(Duration::from_millis(1500));
    let (acked, _) = load.finish();
    assert!(!acked.is_empty());
    let top = acked.iter().map(|a| a.1).max().unwrap();
    let tip = wait_converged(&urls, top, Duration::from_secs(30));
    eprintln!("converged at {tip}");
    for u in &urls {
        assert_all_committed(u, &acked);
    }
    // The wiped member's chain came whole (from genesis), not just its tip.
    let g: Vec<Value> = urls
        .iter()
        .map(|u| get(&format!("{u}/v1/blocks/1")).unwrap())
        .collect();
    assert!(g.iter().all(|b| b["hash"] == g[0]["hash"]));
    let snap = status(&urls[victim]).unwrap();
    eprintln!("rejoined member: {snap}");
    assert!(snap["cluster"]["halted"].is_null());
    for m in &mut members {
        m.kill();
    }
    drop(proxy);
}

#[test]
fn membership_changes_under_load() {
    logs();
    let root = tempfile::tempdir().unwrap();
    let mut members = three(root.path(), 5_000);
    let urls: Vec<String> = members.iter().map(Member::url).collect();
    wait_leader(&urls, Duration::from_secs(10));
    let targets = Arc::new(Mutex::new(urls.clone()));
    let load = Load::start(targets.clone(), 3);
    std::thread::sleep(Duration::from_millis(800));

    // A fourth node joins as a learner, catches up, becomes a voter.
    let mut fourth = Member::new(4, root.path(), IpAddr::from([127, 0, 0, 1]));
    fourth.start(5_000);
    let leader_of = |urls: &[String]| -> String {
        let s = status(&urls[0]).unwrap();
        s["cluster"]["leader_addr"].as_str().unwrap().to_string()
    };
    let post = |base: &str, route: &str, body: Value| -> Value {
        let r = http()
            .post(format!("{base}/internal/cluster/{route}"))
            .header(vellum_node::cluster::http::SECRET_HEADER, SECRET)
            .json(&body)
            .send()
            .unwrap();
        let ok = r.status().is_success();
        let v: Value = r.json().unwrap();
        assert!(ok, "{route}: {v}");
        v
    };
    // Without the secret, nothing happens.
    let denied = http()
        .post(format!("{}/internal/cluster/learner", urls[0]))
        .json(&serde_json::json!({"id": 4, "addr": fourth.url()}))
        .send()
        .unwrap();
    assert_eq!(denied.status(), 401);
    let v = post(
        &leader_of(&urls),
        "learner",
        serde_json::json!({"id": 4, "addr": fourth.url()}),
    );
    assert!(
        v["learners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == 4),
        "{v}"
    );
    targets.lock().unwrap().push(fourth.url());
    std::thread::sleep(Duration::from_millis(800));
    let v = post(
        &leader_of(&urls),
        "promote",
        serde_json::json!({"ids": [4]}),
    );
    assert!(
        v["voters"].as_array().unwrap().iter().any(|m| m["id"] == 4),
        "{v}"
    );
    std::thread::sleep(Duration::from_millis(800));

    // Remove member 1 (maybe the leader): the others go on.
    let v = post(&leader_of(&urls), "remove", serde_json::json!({"ids": [1]}));
    let voters: Vec<u64> = v["voters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert!(!voters.contains(&1), "{v}");
    targets.lock().unwrap().retain(|u| *u != urls[0]);
    std::thread::sleep(Duration::from_millis(1500));
    let (acked, _) = load.finish();
    let remaining = vec![urls[1].clone(), urls[2].clone(), fourth.url()];
    let leader = wait_leader_not(&remaining, Some(1), Duration::from_secs(10));
    assert_ne!(leader, 1);
    let top = acked.iter().map(|a| a.1).max().unwrap();
    wait_converged(&remaining, top, Duration::from_secs(20));
    for u in &remaining {
        assert_all_committed(u, &acked);
    }
    let s = status(&remaining[0]).unwrap();
    let ids: BTreeSet<u64> = s["cluster"]["voters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from([2, 3, 4]));
    fourth.kill();
    for m in &mut members {
        m.kill();
    }
}
