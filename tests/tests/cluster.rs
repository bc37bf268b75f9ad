//! Three real `vellum node` processes on loopback form a cluster with `vellum cluster init`;
//! under continuous load the leader is killed with SIGKILL, a new leader takes over, nothing
//! acknowledged is lost, the killed node restarts and catches up, and every node ends on the
//! same tip hash and state root. Then a node whose data directory was wiped rejoins through a
//! snapshot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k256::ecdsa::SigningKey;
use serde_json::Value;
use vellum_e2e::{Node, vellum_bin};
use vellum_node::chain::tx::{Action, address_of_signing_key, payload_json, sign};
use vellum_node::client::Client;

const SECRET: &str = "e2e-cluster-secret-0123";
const CHAIN: &str = "vellum-dev";

fn status(url: &str) -> Option<Value> {
    let out = std::process::Command::new(vellum_bin())
        .args(["--json", "--node", url, "cluster", "show"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let cluster: Value = serde_json::from_slice(&out.stdout).ok()?;
    let s = Client::new(url).ok()?.status().ok()?;
    Some(serde_json::json!({"cluster": cluster, "height": s.height, "hash": s.latest_hash}))
}

fn leader_of(urls: &[String], within: Duration) -> u64 {
    leader_not(urls, None, within)
}

fn leader_not(urls: &[String], not: Option<u64>, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let views: Vec<Option<u64>> = urls
            .iter()
            .map(|u| Client::new(u).ok().and_then(|_| status(u)))
            .map(|s| s.and_then(|s| s["cluster"]["leader"].as_u64()))
            .collect();
        if let Some(Some(l)) = views.first()
            && views.iter().all(|v| *v == Some(*l))
            && Some(*l) != not
        {
            return *l;
        }
        assert!(Instant::now() < deadline, "no agreed leader: {views:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn height(url: &str) -> u64 {
    Client::new(url)
        .ok()
        .and_then(|c| c.status().ok())
        .map_or(0, |s| s.height)
}

/// Waits until every member's latest block is the same, at height `min` or above. On failure
/// the panic shows each member's tip and the end of the log of each one that differs.
fn converge(
    urls: &[String],
    logs: &[std::path::PathBuf],
    min: u64,
    within: Duration,
) -> (u64, String, String) {
    let deadline = Instant::now() + within;
    loop {
        let tips: Vec<Option<(u64, String, String)>> = urls
            .iter()
            .map(|u| {
                let b = Client::new(u).ok()?.latest_block().ok()?;
                Some((b.height, b.hash, b.state_root))
            })
            .collect();
        if let Some(Some(first)) = tips.first()
            && first.0 >= min
            && tips.iter().all(|t| t.as_ref() == Some(first))
        {
            return first.clone();
        }
        if Instant::now() >= deadline {
            let highest = tips.iter().flatten().max();
            let behind: String = tips
                .iter()
                .zip(logs)
                .filter(|(t, _)| t.as_ref() != highest)
                .map(|(_, log)| {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    let lines: Vec<&str> = text.lines().collect();
                    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                    format!("\n--- {} (last 40 lines)\n{tail}", log.display())
                })
                .collect();
            panic!("no convergence: {tips:?}{behind}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

type Acked = Arc<Mutex<Vec<(String, u64)>>>;

fn load(
    targets: Arc<Mutex<Vec<String>>>,
    workers: u8,
    stop: Arc<AtomicBool>,
    acked: Acked,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..workers)
        .map(|w| {
            let (targets, stop, acked) = (targets.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let key = SigningKey::from_slice(&[w + 1; 32]).unwrap();
                let signer = address_of_signing_key(&key);
                let action = Action::Execute {
                    contract: "00".repeat(20),
                    msg: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
                };
                let mut nonce = None;
                let mut turn = w as usize;
                while !stop.load(Ordering::Relaxed) {
                    turn += 1;
                    let list = targets.lock().unwrap().clone();
                    let client = Client::new(&list[turn % list.len()]).unwrap();
                    let n = match nonce {
                        Some(n) => n,
                        None => match client.next_nonce(&hex::encode(signer)) {
                            Ok(n) => n,
                            Err(_) => {
                                std::thread::sleep(Duration::from_millis(100));
                                continue;
                            }
                        },
                    };
                    let envelope = sign(&payload_json(CHAIN, &signer, n, None, &action), &key);
                    match client.submit_wait(&envelope) {
                        Ok(r) => {
                            acked
                                .lock()
                                .unwrap()
                                .push((r.tx_hash.clone(), r.block_height));
                            nonce = Some(n + 1);
                        }
                        Err(_) => {
                            nonce = None;
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
            })
        })
        .collect()
}

#[test]
fn three_processes_survive_a_sigkilled_leader_and_a_wiped_node() {
    let root = tempfile::tempdir().unwrap();
    let Three {
        mut nodes,
        dirs,
        urls,
        listen,
        leader,
    } = three_members(root.path(), 30);

    // A batch sent to a follower is forwarded to the leader, like a single transaction, and
    // each of its transactions is committed in order.
    let follower = &urls[leader as usize % 3];
    let key = SigningKey::from_slice(&[9; 32]).unwrap();
    let signer = address_of_signing_key(&key);
    let action = Action::Execute {
        contract: "00".repeat(20),
        msg: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
    };
    let envelopes: Vec<_> = (0..2)
        .map(|n| sign(&payload_json(CHAIN, &signer, n, None, &action), &key))
        .collect();
    let items = Client::new(follower)
        .unwrap()
        .submit_batch(&envelopes, true)
        .unwrap();
    for (n, item) in items.iter().enumerate() {
        assert_eq!(item.status, "committed", "{item:?}");
        assert_eq!(item.receipt.as_ref().map(|r| r.nonce), Some(n as u64));
    }

    let targets = Arc::new(Mutex::new(urls.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Acked = Arc::default();
    let workers = load(targets.clone(), 4, stop.clone(), acked.clone());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !acked.lock().unwrap().is_empty(),
        "nothing committed under load"
    );

    // SIGKILL the leader.
    let li = (leader - 1) as usize;
    let other = &urls[(li + 1) % 3];
    let at_kill = height(other);
    targets.lock().unwrap().retain(|u| *u != urls[li]);
    let acked_at_kill = acked.lock().unwrap().len();
    nodes[li].take().unwrap().kill();
    let killed_at = Instant::now();
    let survivors: Vec<String> = urls.iter().filter(|u| **u != urls[li]).cloned().collect();
    let new_leader = leader_not(&survivors, Some(leader), Duration::from_secs(15));
    assert_ne!(new_leader, leader);
    while height(other) <= at_kill {
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "commits did not resume"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let resumed = killed_at.elapsed();
    eprintln!("commits resumed {resumed:?} after SIGKILL of the leader");
    assert!(resumed < Duration::from_secs(6));
    std::thread::sleep(Duration::from_millis(1000));

    // The killed node restarts on its port and catches up.
    nodes[li] = Some(Node::start_member(
        &dirs[li],
        leader,
        SECRET,
        &listen[li],
        30,
    ));
    targets.lock().unwrap().push(urls[li].clone());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(acked.lock().unwrap().len() > acked_at_kill);

    // Wipe a follower's data directory: it rejoins through a snapshot (the log is compacted
    // every 30 entries, so the leader no longer has the entries from the start).
    let leader_now = leader_of(&urls, Duration::from_secs(15));
    let wi = (0..3).find(|i| *i as u64 + 1 != leader_now).unwrap();
    targets.lock().unwrap().retain(|u| *u != urls[wi]);
    nodes[wi].take().unwrap().kill();
    std::fs::remove_dir_all(&dirs[wi]).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    nodes[wi] = Some(Node::start_member(
        &dirs[wi],
        wi as u64 + 1,
        SECRET,
        &listen[wi],
        30,
    ));
    std::thread::sleep(Duration::from_millis(1000));

    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let top = acked.iter().map(|a| a.1).max().unwrap();
    let logs: Vec<_> = dirs.iter().map(|d| d.with_extension("log")).collect();
    let tip = converge(&urls, &logs, top, Duration::from_secs(30));
    eprintln!("{} acknowledged; every node at {tip:?}", acked.len());
    for u in &urls {
        let c = Client::new(u).unwrap();
        for (hash, h) in &acked {
            let t = c.transaction(hash).unwrap();
            assert_eq!(t.status, "committed", "{u}: acknowledged {hash} lost");
            assert_eq!(t.receipt.as_ref().map(|r| r.block_height), Some(*h));
        }
    }
    let wiped_log = std::fs::read_to_string(dirs[wi].with_extension("log")).unwrap_or_default();
    assert!(
        wiped_log.contains("installed a verified snapshot"),
        "the wiped node did not rejoin through a snapshot:\n{wiped_log}"
    );
    let voters: BTreeSet<u64> = status(&urls[0]).unwrap()["cluster"]["voters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(voters, BTreeSet::from([1, 2, 3]));
    for n in nodes.into_iter().flatten() {
        n.stop();
    }
    // Every member's chain verifies offline from genesis (hash chain, roots, re-execution,
    // each transaction indexed at its one position), up to the agreed tip. A transaction
    // committed twice across the leader change would fail here on every member.
    for dir in &dirs {
        let out = std::process::Command::new(vellum_bin())
            .args(["--json", "verify", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert!(
            out.status.success() && report["ok"] == true,
            "{}: {report} {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(report["blocks"].as_u64() >= Some(tip.0), "{report}");
    }
}

/// Three members, the cluster formed from the first.
struct Three {
    nodes: Vec<Option<Node>>,
    dirs: Vec<std::path::PathBuf>,
    urls: Vec<String>,
    listen: Vec<String>,
    leader: u64,
}

/// Starts three members (snapshotting every `snapshot_logs` entries) and forms the cluster
/// with `vellum cluster init` on the first.
fn three_members(root: &std::path::Path, snapshot_logs: u64) -> Three {
    let dirs: Vec<_> = (1..=3).map(|i| root.join(format!("n{i}"))).collect();
    let nodes: Vec<Option<Node>> = (0..3)
        .map(|i| {
            Some(Node::start_member(
                &dirs[i],
                i as u64 + 1,
                SECRET,
                "127.0.0.1:0",
                snapshot_logs,
            ))
        })
        .collect();
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| n.as_ref().unwrap().url.clone())
        .collect();
    let listen: Vec<String> = nodes
        .iter()
        .map(|n| n.as_ref().unwrap().listen_addr())
        .collect();
    let members = (0..3)
        .map(|i| format!("{}={}", i + 1, urls[i]))
        .collect::<Vec<_>>()
        .join(",");
    let init = std::process::Command::new(vellum_bin())
        .args([
            "--json",
            "--node",
            &urls[0],
            "cluster",
            "init",
            "--members",
            &members,
        ])
        .env("VELLUM_CLUSTER_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    let leader = leader_of(&urls, Duration::from_secs(15));
    Three {
        nodes,
        dirs,
        urls,
        listen,
        leader,
    }
}

/// A member whose execution stops matching the others' (here the `execute.diverge` failpoint
/// adds a state write only it makes, as a non-deterministic contract or a bug would) finds out
/// at the next block, whose parent state root is not its own: it halts, says why in its log and
/// its status, refuses to serve its chain (503 `diverged`: its last block is a fork), and the
/// other two go on committing and agree.
#[test]
fn a_diverging_member_halts_loudly_and_the_others_go_on() {
    let root = tempfile::tempdir().unwrap();
    let Three {
        mut nodes,
        dirs,
        urls,
        listen,
        leader,
    } = three_members(root.path(), 1_000);
    // The failpoint is set at start: restart a follower with it (it replays nothing new, as
    // nothing was committed yet beyond what it has).
    let fi = (0..3).find(|i| *i as u64 + 1 != leader).unwrap();
    nodes[fi].take().unwrap().kill();
    nodes[fi] = Some(Node::start_member_with_env(
        &dirs[fi],
        fi as u64 + 1,
        SECRET,
        &listen[fi],
        1_000,
        &[("VELLUM_FAILPOINTS", "execute.diverge=return")],
    ));
    let healthy: Vec<String> = urls.iter().filter(|u| **u != urls[fi]).cloned().collect();

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Acked = Arc::default();
    let workers = load(
        Arc::new(Mutex::new(healthy.clone())),
        2,
        stop.clone(),
        acked.clone(),
    );

    // The diverging member halts and says why.
    let deadline = Instant::now() + Duration::from_secs(20);
    let halted = loop {
        if let Some(s) = status(&urls[fi])
            && let Some(why) = s["cluster"]["halted"].as_str()
        {
            break why.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the diverging member never halted:\n{}",
            nodes[fi].as_ref().unwrap().log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(halted.contains("diverged from the cluster"), "{halted}");
    let log = nodes[fi].as_ref().unwrap().log();
    assert!(
        log.contains("diverged from the cluster"),
        "not in the log:\n{log}"
    );

    // It no longer serves its chain, and says why; its health is 503.
    let c = Client::new(&urls[fi]).unwrap();
    let refused = c.latest_block().unwrap_err();
    assert_eq!(refused.code(), Some("diverged"), "{refused}");
    let shown = std::process::Command::new(vellum_bin())
        .args(["--json", "--node", &urls[fi], "status"])
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "status must still answer: {shown:?}"
    );
    let frozen = c.status().unwrap().height;

    // The two others go on committing and agree; the halted member's tip stays where it was.
    let before = height(&healthy[0]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while height(&healthy[0]) < before + 3 {
        assert!(
            Instant::now() < deadline,
            "the healthy majority stopped committing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let top = acked.iter().map(|a| a.1).max().unwrap();
    let healthy_logs: Vec<_> = (0..3)
        .filter(|i| *i != fi)
        .map(|i| dirs[i].with_extension("log"))
        .collect();
    let tip = converge(&healthy, &healthy_logs, top, Duration::from_secs(20));
    assert!(tip.0 > frozen, "{tip:?} vs the halted member's {frozen}");
    assert_eq!(
        c.status().unwrap().height,
        frozen,
        "a halted member moved on"
    );
    for u in &healthy {
        let client = Client::new(u).unwrap();
        for (hash, h) in &acked {
            let t = client.transaction(hash).unwrap();
            assert_eq!(
                t.receipt.as_ref().map(|r| r.block_height),
                Some(*h),
                "{u}: {hash}"
            );
        }
    }
    eprintln!(
        "halted: {halted}; {} acknowledged by the two others, both at {tip:?}",
        acked.len()
    );
    for n in nodes.into_iter().flatten() {
        n.kill();
    }
}
