//! End-to-end harness: builds the real `vellum` binary, starts `vellum node` on a free loopback
//! port with a fresh data directory, and stops it with SIGTERM as an operator would.
//!
//! ```no_run
//! let node = vellum_e2e::Node::start(&tempfile::tempdir().unwrap().path().join("data"));
//! let client = vellum_node::client::Client::new(&node.url).unwrap();
//! assert_eq!(client.status().unwrap().height, 0);
//! node.stop();
//! ```
//!
//! Only for tests: it panics with a useful message when something goes wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod checks;
pub mod load;
pub mod soak;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a node may take to start or to stop, in ms.
pub const NODE_START_STOP_MS_MAX: u64 = 60_000;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Deploys and instantiates the custody contract through `client`, signed by `admin`;
/// returns the contract's address.
pub fn deploy_custody(
    client: &vellum_node::client::Client,
    admin: &k256::ecdsa::SigningKey,
) -> String {
    use vellum_node::client::output;
    let wasm = vellum_testing::build_contract(workspace().join("contracts/custody")).unwrap();
    let r = client.deploy(admin, &wasm).unwrap();
    assert!(r.success, "deploy: {:?}", r.error);
    let code_hash = output(&r)["code_hash"].as_str().unwrap().to_string();
    let r = client
        .instantiate(admin, &code_hash, &serde_json::json!({}), "custody")
        .unwrap();
    assert!(r.success, "instantiate: {:?}", r.error);
    output(&r)["contract"].as_str().unwrap().to_string()
}

/// Path of the `vellum` binary, built once per process in the profile the tests run in.
///
/// `VELLUM_E2E_BIN` names another binary instead: long runs point it at a copy, so that
/// rebuilding the workspace meanwhile does not swap the binary under them.
pub fn vellum_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("VELLUM_E2E_BIN") {
            return PathBuf::from(bin);
        }
        // The test executable lives in `<target>/<profile>/deps/`.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let bin = profile_dir.join("vellum");
        // `cargo test --workspace` has just built it, with the workspace's feature
        // unification; building `-p vellum-node` alone would unify features differently and
        // recompile TLS and HTTP crates for nothing. Rebuild only when a source is newer.
        if !is_newer_than_sources(&bin) {
            build_vellum(&bin, false);
        }
        bin
    })
    .clone()
}

/// [`vellum_bin`], with failpoints compiled in: as `cargo test --workspace` builds it (this
/// crate's dev-dependency turns the feature on; see `docs/testing-faults.md`), or rebuilt with
/// `--features failpoints` when the binary found lacks them (e.g. the README test's
/// `cargo run` replaced it).
pub fn vellum_bin_with_failpoints() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = vellum_bin();
        if has_failpoints(&bin) {
            return bin;
        }
        assert!(
            std::env::var_os("VELLUM_E2E_BIN").is_none(),
            "VELLUM_E2E_BIN names a binary without failpoints"
        );
        build_vellum(&bin, true);
        assert!(
            has_failpoints(&bin),
            "{} built without failpoints",
            bin.display()
        );
        bin
    })
    .clone()
}

/// Builds `bin` (`<target>/<profile>/vellum`) with cargo.
fn build_vellum(bin: &Path, failpoints: bool) {
    let profile_dir = bin.parent().unwrap();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-p", "vellum-node", "--bin", "vellum"])
        .current_dir(workspace());
    if release {
        build.arg("--release");
    }
    if failpoints {
        build.args(["--features", "failpoints"]);
    }
    let status = build.status().unwrap();
    assert!(status.success(), "building the vellum binary failed");
    assert!(bin.exists(), "{} missing after the build", bin.display());
}

/// Whether `bin --version` says failpoints are compiled in.
pub fn has_failpoints(bin: &Path) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("(failpoints)"))
}

fn newest_mtime(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| newest_mtime(&e.path()))
        .max()
}

/// Whether `bin` exists and is newer than every source that goes into it.
fn is_newer_than_sources(bin: &Path) -> bool {
    let Some(built) = std::fs::metadata(bin).and_then(|m| m.modified()).ok() else {
        return false;
    };
    let root = workspace();
    [
        "Cargo.lock",
        "Cargo.toml",
        "node/src",
        "node/Cargo.toml",
        "runtime/src",
        "runtime/Cargo.toml",
        "sdk/abi",
        "sdk/testing",
    ]
    .iter()
    .filter_map(|p| newest_mtime(&root.join(p)))
    .all(|t| t <= built)
}

/// A running `vellum node`.
#[derive(Debug)]
pub struct Node {
    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    child: Child,
    log: PathBuf,
}

impl Node {
    /// Starts `vellum node --data-dir DATA_DIR --listen 127.0.0.1:0` and waits for the line
    /// that names its address.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with_env(data_dir, &[])
    }

    /// [`Node::start`] with extra environment variables; with `VELLUM_FAILPOINTS` among them,
    /// the binary of [`vellum_bin_with_failpoints`].
    pub fn start_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let bin = if env.iter().any(|(k, _)| *k == "VELLUM_FAILPOINTS") {
            vellum_bin_with_failpoints()
        } else {
            vellum_bin()
        };
        let mut command = Command::new(bin);
        command
            .args(["node", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("VELLUM_FAILPOINTS")
            .envs(env.iter().copied());
        Self::spawn(command, data_dir)
    }

    /// Like [`Node::start`], with `config` (TOML, see `vellum_node::config`) written next to the
    /// data directory and passed as `--config`.
    pub fn start_with_config(data_dir: &Path, config: &str) -> Self {
        let file = data_dir.with_extension("toml");
        std::fs::write(&file, config).unwrap();
        let mut command = Command::new(vellum_bin());
        command
            .args(["node", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--config")
            .arg(&file);
        Self::spawn(command, data_dir)
    }

    /// The `host:port` the node listens on.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Whether the node process is still running (it has not crashed or exited).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Resident memory of the node process, in KiB (`VmRSS` of `/proc/PID/status`, Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.child.id())
    }

    /// Open file descriptors of the node process (`/proc/PID/fd`, Linux).
    pub fn open_fds(&self) -> Option<usize> {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .ok()
            .map(|d| d.count())
    }

    /// Runs `command`, which must start a node on `127.0.0.1:0` with `data_dir` (e.g. the
    /// README's `cargo run ... -- node` with those flags added), and waits for the line that
    /// names its address. Its stderr goes to `DATA_DIR.log`.
    pub fn spawn(mut command: Command, data_dir: &Path) -> Self {
        let log = data_dir.with_extension("log");
        let mut child = command
            .env_remove("VELLUM_CONFIG")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| {
                panic!(
                    "the node did not start: stdout {line:?}, log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self {
            url,
            data_dir: data_dir.to_path_buf(),
            child,
            log,
        }
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts cluster member `id` (`--node-id ID --cluster-secret SECRET`) listening on
    /// `listen` (`127.0.0.1:0` for a free port, or the port of a previous incarnation) and
    /// snapshotting every `snapshot_logs` Raft entries.
    pub fn start_member(
        data_dir: &Path,
        id: u64,
        secret: &str,
        listen: &str,
        snapshot_logs: u64,
    ) -> Self {
        Self::start_member_with_env(data_dir, id, secret, listen, snapshot_logs, &[])
    }

    /// [`Node::start_member`] with extra environment variables; with any, the binary of
    /// [`vellum_bin_with_failpoints`].
    pub fn start_member_with_env(
        data_dir: &Path,
        id: u64,
        secret: &str,
        listen: &str,
        snapshot_logs: u64,
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(if env.is_empty() {
            vellum_bin()
        } else {
            vellum_bin_with_failpoints()
        });
        command
            .args(["node", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(["--node-id", &id.to_string(), "--cluster-secret", secret])
            .args(["--snapshot-logs", &snapshot_logs.to_string()])
            .envs(env.iter().copied());
        Self::spawn(command, data_dir)
    }

    /// The `host:port` the node listens on.
    pub fn listen_addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// The node's log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the node with SIGKILL (no chance to flush or commit anything) and waits for it
    /// to be gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `timeout` for the node to exit by itself (e.g. at a failpoint); returns its
    /// exit status and log, or `None` (the node still runs; dropping it kills it).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<(std::process::ExitStatus, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some((s, self.log()));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the exit; asserts a clean exit (status 0).
    pub fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_millis(NODE_START_STOP_MS_MAX);
        let exit = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the node did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(exit.success(), "node exited with {exit}; log:\n{log}");
        log
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A test that panicked leaves no node behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of process `pid`, in KiB (`VmRSS` of `/proc/PID/status`, Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the `vellum` CLI with `args`.
pub fn vellum(args: &[&str]) -> Output {
    Command::new(vellum_bin())
        .args(args)
        .env_remove("VELLUM_NODE")
        .env_remove("VELLUM_KEYS_DIR")
        .output()
        .unwrap()
}

/// Runs the CLI, asserts success and returns stdout.
pub fn vellum_ok(args: &[&str]) -> String {
    let out = vellum(args);
    assert!(
        out.status.success(),
        "vellum {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the CLI with `--json`, asserts success and parses stdout.
pub fn vellum_json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = vellum_ok(&all);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("vellum {args:?}: {e}: {out}"))
}
