//! Test your real contract wasm on the real runtime, in-process, from `cargo test`.
//!
//! ```no_run
//! use vellum_testing::{TestChain, account, build_contract};
//! let wasm = build_contract(concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/counter")).unwrap();
//! let mut chain = TestChain::new();
//! let code = chain.deploy(&wasm).unwrap();
//! let alice = account("alice");
//! let counter = chain.instantiate(code, alice, &serde_json::json!({})).unwrap();
//! let out = chain.execute(counter, alice, &serde_json::json!({"increment": {}})).unwrap();
//! assert_eq!(out.output["count"], 1);
//! ```
//!
//! [`build_contract`] compiles a contract crate for `wasm32-unknown-unknown` with the workspace's
//! `contract` profile (installing the target with rustup if it is missing) and returns the
//! artifact's bytes. [`TestChain`] keeps each contract's storage in memory, gives every
//! transaction its own block (height +1, time +1 s) and a deterministic transaction hash, and
//! applies writes only when a call succeeds, as the node does.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use sha2::{Digest, Sha256};
use vellum_runtime::{Call, Env, MemoryState, Runtime, RuntimeConfig};

/// A 20-byte address.
pub type Address = [u8; 20];

pub use vellum_runtime::{CodeHash, EntryPoint, Event, Failure, Outcome, Write};

/// Fuel given to every call unless [`TestChain::fuel_limit`] is changed.
pub const DEFAULT_FUEL_LIMIT: u64 = 50_000_000;

/// A deterministic test account: the first 20 bytes of SHA-256 of `name`.
pub fn account(name: &str) -> Address {
    let digest = Sha256::digest(name.as_bytes());
    let mut a = [0u8; 20];
    a.copy_from_slice(&digest[..20]);
    a
}

/// Lowercase hex of an address, as messages carry it.
pub fn hex_addr(a: &Address) -> String {
    hex::encode(a)
}

/// Why a contract could not be built.
#[derive(Debug)]
pub struct BuildError(pub String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Installs the wasm target with rustup when the active toolchain lacks it (a fresh machine).
fn ensure_wasm_target(dir: &Path) -> Result<(), BuildError> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .map_err(|e| BuildError(format!("running rustc: {e}")))?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    if Path::new(&sysroot)
        .join("lib/rustlib")
        .join(WASM_TARGET)
        .exists()
    {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .current_dir(dir)
        .status()
        .map_err(|e| BuildError(format!("running rustup: {e}")))?;
    if !status.success() {
        return Err(BuildError(format!(
            "`rustup target add {WASM_TARGET}` failed"
        )));
    }
    Ok(())
}

/// Builds the contract crate at `crate_dir` to wasm (once per process and crate) and returns the
/// wasm bytes. Also the path of the artifact: see [`build_contract_path`].
pub fn build_contract(crate_dir: impl AsRef<Path>) -> Result<Vec<u8>, BuildError> {
    let path = build_contract_path(crate_dir)?;
    std::fs::read(&path).map_err(|e| BuildError(format!("reading {}: {e}", path.display())))
}

/// Builds the contract crate at `crate_dir` and returns the path of its `.wasm` artifact.
pub fn build_contract_path(crate_dir: impl AsRef<Path>) -> Result<PathBuf, BuildError> {
    static BUILT: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    let dir = crate_dir
        .as_ref()
        .canonicalize()
        .map_err(|e| BuildError(format!("{}: {e}", crate_dir.as_ref().display())))?;
    let built = BUILT.get_or_init(Default::default);
    // Holding the lock while building serialises builds within this process, which cargo's
    // own lock would do anyway.
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = built.get(&dir) {
        return Ok(p.clone());
    }
    ensure_wasm_target(&dir)?;
    let output = contract_build_command(&dir)
        .output()
        .map_err(|e| BuildError(format!("running cargo: {e}")))?;
    if !output.status.success() {
        return Err(BuildError(format!(
            "building {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let artifact = wasm_artifact(&output.stdout, &dir.join("Cargo.toml")).ok_or_else(|| {
        BuildError(format!(
            "no .wasm artifact for {} (is it a cdylib?)",
            dir.display()
        ))
    })?;
    built.insert(dir, artifact.clone());
    Ok(artifact)
}

/// The cargo command that builds the contract crate in `crate_dir`: the `contract` profile, the
/// wasm target, [`reproducible_rustflags`], and JSON messages on stdout (read them with
/// [`wasm_artifact`]). `vellum contract build` runs the same command, so both give the same
/// code hash.
pub fn contract_build_command(crate_dir: &Path) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.args(["build", "--profile", "contract", "--target", WASM_TARGET])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .env("CARGO_ENCODED_RUSTFLAGS", reproducible_rustflags(crate_dir));
    cmd
}

/// The `.wasm` file cargo reported building for the crate whose manifest is `manifest`, from
/// the JSON messages of [`contract_build_command`].
pub fn wasm_artifact(cargo_stdout: &[u8], manifest: &Path) -> Option<PathBuf> {
    String::from_utf8_lossy(cargo_stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["manifest_path"].as_str().map(Path::new) == Some(manifest))
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
}

/// Flags that make the wasm independent of where the sources live: panic messages embed source
/// paths, so without these a contract's code hash would depend on the checkout directory and
/// on `CARGO_HOME`.
pub fn reproducible_rustflags(crate_dir: &Path) -> String {
    let workspace = Command::new(cargo())
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .current_dir(crate_dir)
        .output()
        .ok()
        .and_then(|o| {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
                .parent()
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| crate_dir.to_path_buf());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/nonexistent"));
    [
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        format!("--remap-path-prefix={}=/vellum", workspace.display()),
    ]
    .join("\u{1f}")
}

/// What a successful execute or instantiate returned.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The JSON answer (`null` when the contract set none).
    pub output: Value,
    /// Events in emission order.
    pub events: Vec<Event>,
    /// Fuel used.
    pub fuel_used: u64,
}

struct Instance {
    code_hash: CodeHash,
    state: Arc<MemoryState>,
}

/// An in-memory chain of one node: deploy, instantiate, execute and query contracts.
pub struct TestChain {
    runtime: Runtime,
    codes: BTreeMap<CodeHash, Vec<u8>>,
    contracts: BTreeMap<Address, Instance>,
    /// Height of the last block; each transaction runs in the next one.
    pub height: u64,
    /// Timestamp of the last block in ms; each block adds 1000.
    pub time_ms: u64,
    /// Fuel limit of every call.
    pub fuel_limit: u64,
    created: u64,
}

impl std::fmt::Debug for TestChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestChain")
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl Default for TestChain {
    fn default() -> Self {
        Self::new()
    }
}

impl TestChain {
    /// A chain at height 0 with a runtime that caches modules in memory only.
    ///
    /// # Panics
    /// If the wasmtime engine cannot be created (a broken test environment).
    pub fn new() -> Self {
        #[allow(clippy::expect_used)]
        let runtime = Runtime::new(RuntimeConfig::default()).expect("creating the runtime");
        Self::with_runtime(runtime)
    }

    /// A chain using an existing runtime.
    pub fn with_runtime(runtime: Runtime) -> Self {
        Self {
            runtime,
            codes: BTreeMap::new(),
            contracts: BTreeMap::new(),
            height: 0,
            time_ms: 1_700_000_000_000,
            fuel_limit: DEFAULT_FUEL_LIMIT,
            created: 0,
        }
    }

    /// The runtime, for tests that need it directly.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Validates and compiles `wasm`.
    pub fn deploy(&mut self, wasm: &[u8]) -> Result<CodeHash, vellum_runtime::RuntimeError> {
        let hash = self.runtime.deploy(wasm)?;
        self.codes.insert(hash, wasm.to_vec());
        Ok(hash)
    }

    /// The contract's current storage.
    pub fn storage(&self, contract: &Address) -> Option<&BTreeMap<Vec<u8>, Vec<u8>>> {
        self.contracts.get(contract).map(|i| &i.state.storage)
    }

    fn next_env(&mut self, contract: Address, sender: Address, msg: &[u8]) -> Env {
        self.height += 1;
        self.time_ms += 1000;
        let mut h = Sha256::new();
        h.update(self.height.to_be_bytes());
        h.update(sender);
        h.update(contract);
        h.update(msg);
        Env {
            contract,
            caller: sender,
            block_height: self.height,
            block_time_ms: self.time_ms,
            tx_hash: h.finalize().into(),
        }
    }

    /// Runs one call and returns the raw outcome; on success its writes are applied.
    ///
    /// # Panics
    /// On a host fault (not a contract failure): unknown contract, broken runtime.
    pub fn call_raw(
        &mut self,
        contract: Address,
        sender: Address,
        entry: EntryPoint,
        msg: &[u8],
    ) -> Outcome {
        #[allow(clippy::expect_used)]
        let instance = self.contracts.get(&contract).expect("unknown contract");
        let code_hash = instance.code_hash;
        let env = match entry {
            EntryPoint::Query => Env {
                contract,
                block_height: self.height,
                block_time_ms: self.time_ms,
                ..Env::default()
            },
            _ => self.next_env(contract, sender, msg),
        };
        #[allow(clippy::expect_used)]
        let instance = self.contracts.get_mut(&contract).expect("unknown contract");
        let mut view = (*instance.state).clone();
        view.codes = self.codes.clone();
        let view = Arc::new(view);
        let call = Call {
            code_hash,
            entry,
            msg: msg.to_vec(),
            env,
            fuel_limit: self.fuel_limit,
        };
        #[allow(clippy::expect_used)]
        let outcome = self
            .runtime
            .call(call, view)
            .expect("host fault while running the contract");
        if let Ok(success) = &outcome.result {
            Arc::make_mut(&mut instance.state).apply(&success.writes);
        }
        outcome
    }

    fn executed(outcome: Outcome) -> Result<Executed, Failure> {
        let success = outcome.result?;
        let output = if success.output.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&success.output)
                .map_err(|e| Failure::ContractError(format!("answer is not JSON: {e}")))?
        };
        Ok(Executed {
            output,
            events: success.events,
            fuel_used: outcome.fuel_used,
        })
    }

    /// Creates a contract instance of `code_hash` and runs its `instantiate` with `msg`.
    /// The address is derived from the creation count, so it is stable across runs.
    pub fn instantiate(
        &mut self,
        code_hash: CodeHash,
        sender: Address,
        msg: &Value,
    ) -> Result<Address, Failure> {
        self.created += 1;
        let digest = Sha256::new()
            .chain_update(b"vellum-testing/contract")
            .chain_update(self.created.to_be_bytes())
            .finalize();
        let mut address = [0u8; 20];
        address.copy_from_slice(&digest[..20]);
        self.contracts.insert(
            address,
            Instance {
                code_hash,
                state: Arc::new(MemoryState::default()),
            },
        );
        let outcome = self.call_raw(
            address,
            sender,
            EntryPoint::Instantiate,
            msg.to_string().as_bytes(),
        );
        match Self::executed(outcome) {
            Ok(_) => Ok(address),
            Err(f) => {
                self.contracts.remove(&address);
                Err(f)
            }
        }
    }

    /// Runs `execute` with `msg` signed by `sender`, in a new block.
    pub fn execute(
        &mut self,
        contract: Address,
        sender: Address,
        msg: &Value,
    ) -> Result<Executed, Failure> {
        Self::executed(self.call_raw(
            contract,
            sender,
            EntryPoint::Execute,
            msg.to_string().as_bytes(),
        ))
    }

    /// Runs `query` with `msg`; nothing is written.
    pub fn query(&mut self, contract: Address, msg: &Value) -> Result<Value, Failure> {
        Self::executed(self.call_raw(
            contract,
            [0; 20],
            EntryPoint::Query,
            msg.to_string().as_bytes(),
        ))
        .map(|e| e.output)
    }
}
