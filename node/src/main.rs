//! `vellum`: run a node, manage keys, build and deploy contracts, send transactions, read the
//! chain and verify a data directory. Human output by default, `--json` for scripts.
//!
//! ```sh
//! vellum node                                   # a dev node on 127.0.0.1:8080, data in ./vellum-data
//! vellum keys new alice
//! vellum deploy --from alice "$(vellum contract build contracts/custody | tail -n1)"
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use k256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vellum_node::chain::block::Receipt;
use vellum_node::client::{Client, ClientError, address_hex, generate_key, output};
use vellum_node::config::{ConfigFile, NodeConfig, Overrides};

/// mimalloc instead of glibc's malloc: glibc keeps freed memory in per-thread arenas, so the
/// node's resident memory kept creeping up for minutes under a steady load (the load soak's
/// 10 % criterion, docs/security.md); mimalloc returns it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `vellum --version`; a build with failpoints compiled in says so (tests check it).
const VERSION: &str = if vellum_node::failpoints::COMPILED {
    concat!(env!("CARGO_PKG_VERSION"), " (failpoints)")
} else {
    env!("CARGO_PKG_VERSION")
};

#[derive(Debug, Parser)]
#[command(
    name = "vellum",
    version = VERSION,
    about = "Vellum: a WebAssembly contract platform for document custody"
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The node to talk to.
    #[arg(
        long,
        global = true,
        env = "VELLUM_NODE",
        default_value = "http://127.0.0.1:8080"
    )]
    node: String,
    /// Where key files live (default: ~/.vellum/keys).
    #[arg(long, global = true, env = "VELLUM_KEYS_DIR")]
    keys_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node: the ledger and its HTTP API.
    Node(NodeArgs),
    /// Create and show signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Contract tooling.
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Deploy a wasm file; prints its code hash.
    Deploy {
        /// Key that signs.
        #[arg(long)]
        from: String,
        /// The .wasm file (see `vellum contract build`).
        wasm: PathBuf,
    },
    /// Instantiate deployed code; prints the contract address.
    Instantiate {
        /// Key that signs.
        #[arg(long)]
        from: String,
        /// Code hash from `vellum deploy`.
        code_hash: String,
        /// Instantiate message (JSON).
        #[arg(long, default_value = "{}")]
        msg: String,
        /// A human label.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Execute a contract message; prints the contract's answer.
    Call {
        /// Key that signs.
        #[arg(long)]
        from: String,
        /// Contract address.
        contract: String,
        /// Execute message (JSON), e.g. '{"register": {"document_id": "d1", "sha256": "..."}}'.
        msg: String,
    },
    /// Run a read-only query; prints the contract's answer.
    Query {
        /// Contract address.
        contract: String,
        /// Query message (JSON).
        msg: String,
    },
    /// Show a transaction and its receipt.
    Tx {
        /// Transaction hash.
        hash: String,
    },
    /// Show a document's custody history (custody contract).
    History {
        /// Custody contract address.
        contract: String,
        /// Document id.
        document_id: String,
    },
    /// Show the node's chain id and latest block.
    Status,
    /// Run a cluster of nodes (docs/cluster.md): start it, add, promote and remove members,
    /// show them. Talks to `--node` (changes go to the leader it names).
    Cluster {
        /// The cluster secret (the one every member was started with).
        #[arg(long, env = "VELLUM_CLUSTER_SECRET", hide_env_values = true)]
        secret: Option<String>,
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Verify a stopped node's data directory from genesis.
    Verify {
        /// The node's data directory.
        #[arg(long, env = "VELLUM_DATA_DIR", default_value = vellum_node::config::DATA_DIR_DEFAULT)]
        data_dir: PathBuf,
        /// The chain id the directory should hold.
        #[arg(long, env = "VELLUM_CHAIN_ID", default_value = vellum_node::config::CHAIN_ID_DEFAULT)]
        chain_id: String,
    },
}

#[derive(Debug, Args)]
struct NodeArgs {
    /// A TOML config file (see `vellum_node::config`); flags and environment win over it.
    #[arg(long, env = "VELLUM_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory [default: ./vellum-data].
    #[arg(long, env = "VELLUM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The block journal's directory [default: DATA_DIR/journal]: a device of its own keeps
    /// its flushes (one per acknowledged block) from waiting behind the store's write-back.
    /// The data directory remembers it: a later start elsewhere is refused while it holds
    /// acknowledged blocks the store lacks.
    #[arg(long, env = "VELLUM_JOURNAL_DIR")]
    journal_dir: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:8080]; port 0 picks a free one.
    #[arg(long, env = "VELLUM_LISTEN")]
    listen: Option<String>,
    /// Chain id [default: vellum-dev].
    #[arg(long, env = "VELLUM_CHAIN_ID")]
    chain_id: Option<String>,
    /// Run as member ID of a cluster (docs/cluster.md); without it the node runs alone on the
    /// local pipeline.
    #[arg(long, env = "VELLUM_NODE_ID")]
    node_id: Option<u64>,
    /// The secret cluster members authenticate each other with (required with --node-id).
    #[arg(long, env = "VELLUM_CLUSTER_SECRET", hide_env_values = true)]
    cluster_secret: Option<String>,
    /// Snapshot the chain for Raft (and compact the Raft log) every this many log entries.
    #[arg(long, env = "VELLUM_SNAPSHOT_LOGS", default_value_t = 5_000)]
    snapshot_logs: u64,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Start a new cluster on `--node` with these first voters, e.g.
    /// `--members 1=http://10.0.0.1:8080,2=http://10.0.0.2:8080,3=http://10.0.0.3:8080`.
    Init {
        /// `ID=URL` of every first member, comma-separated (include `--node` itself).
        #[arg(long, value_delimiter = ',', required = true)]
        members: Vec<String>,
    },
    /// Add a node (started with `--node-id ID`) as a learner: it catches up without voting.
    AddLearner {
        /// Its member id.
        id: u64,
        /// Its base URL, e.g. http://10.0.0.4:8080.
        addr: String,
    },
    /// Make learners voters.
    Promote {
        /// Member ids.
        #[arg(required = true)]
        ids: Vec<u64>,
    },
    /// Remove members (voters or learners).
    Remove {
        /// Member ids.
        #[arg(required = true)]
        ids: Vec<u64>,
    },
    /// Show the node's role, the leader and the members.
    Show,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key (file mode 0600).
    New {
        /// Its name.
        name: String,
    },
    /// Show a key's address and public key.
    Show {
        /// Its name.
        name: String,
    },
    /// List keys.
    List,
}

#[derive(Debug, Subcommand)]
enum ContractCommand {
    /// Build a contract crate to wasm; prints the .wasm path on the last line.
    Build {
        /// The contract crate's directory.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if json {
                let code = e
                    .downcast_ref::<ClientError>()
                    .and_then(|c| c.code())
                    .unwrap_or("error");
                println!(
                    "{}",
                    json!({"error": {"code": code, "message": format!("{e:#}")}})
                );
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let out = Output { json: cli.json };
    let keys_dir = match cli.keys_dir {
        Some(d) => d,
        None => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".vellum/keys"))
            .ok_or_else(|| anyhow!("no HOME: pass --keys-dir or set VELLUM_KEYS_DIR"))?,
    };
    let client = || Client::new(&cli.node).context("creating the HTTP client");
    match cli.command {
        Command::Node(args) => run_node(args).map(|()| ExitCode::SUCCESS),
        Command::Keys(k) => keys(&keys_dir, k, out).map(|()| ExitCode::SUCCESS),
        Command::Contract(ContractCommand::Build { dir }) => {
            let path = build_contract(&dir)
                .with_context(|| format!("building the contract in {}", dir.display()))?;
            out.print(&json!({"wasm": path}), || path.display().to_string());
            Ok(ExitCode::SUCCESS)
        }
        Command::Deploy { from, wasm } => {
            let key = load_key(&keys_dir, &from)?;
            let bytes = std::fs::read(&wasm).with_context(|| {
                format!(
                    "reading {}; build one with `vellum contract build DIR`",
                    wasm.display()
                )
            })?;
            let receipt = client()?.deploy(&key, &bytes)?;
            report(out, &receipt, |o| {
                format!("code_hash {}", o["code_hash"].as_str().unwrap_or_default())
            })
        }
        Command::Instantiate {
            from,
            code_hash,
            msg,
            label,
        } => {
            let key = load_key(&keys_dir, &from)?;
            let msg = parse_json(&msg, "--msg")?;
            let receipt = client()?.instantiate(&key, &code_hash, &msg, &label)?;
            report(out, &receipt, |o| {
                format!("contract {}", o["contract"].as_str().unwrap_or_default())
            })
        }
        Command::Call {
            from,
            contract,
            msg,
        } => {
            let key = load_key(&keys_dir, &from)?;
            let msg = parse_json(&msg, "the message")?;
            let receipt = client()?.execute(&key, &contract, &msg)?;
            report(out, &receipt, |o| o.to_string())
        }
        Command::Query { contract, msg } => {
            let msg = parse_json(&msg, "the message")?;
            let answer = client()?.query(&contract, &msg)?;
            out.print(&answer, || pretty(&answer));
            Ok(ExitCode::SUCCESS)
        }
        Command::Tx { hash } => {
            let info = client()?.transaction(&hash)?;
            let value = match &info.receipt {
                Some(r) => json!({"tx_hash": info.tx_hash, "status": info.status, "receipt": r}),
                None => json!({"tx_hash": info.tx_hash, "status": info.status}),
            };
            out.print(&value, || match &info.receipt {
                Some(r) => format!("{} committed\n{}", info.tx_hash, describe(r)),
                None => format!("{} {}", info.tx_hash, info.status),
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::History {
            contract,
            document_id,
        } => {
            let client = client()?;
            let mut entries: Vec<Value> = Vec::new();
            loop {
                let mut q = json!({"history": {"document_id": document_id, "limit": 100}});
                if let Some(last) = entries.last() {
                    q["history"]["start_after"] = last["seq"].clone();
                }
                let page = client.query(&contract, &q)?;
                let batch = page["entries"].as_array().cloned().unwrap_or_default();
                if batch.is_empty() {
                    break;
                }
                entries.extend(batch);
            }
            out.print(&json!({"entries": entries}), || {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "#{:<3} block {:<6} {:<14} by {}  tx {}",
                            e["seq"],
                            e["block_height"],
                            e["action"].as_str().unwrap_or("?"),
                            e["actor"].as_str().unwrap_or("?"),
                            e["tx_hash"].as_str().unwrap_or("?"),
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Status => {
            let s = client()?.status()?;
            out.print(
                &json!({"chain_id": s.chain_id, "height": s.height, "latest_hash": s.latest_hash}),
                || {
                    format!(
                        "chain {}  height {}  latest {}  ({})",
                        s.chain_id, s.height, s.latest_hash, cli.node
                    )
                },
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Cluster { secret, command } => {
            cluster(&cli.node, secret.as_deref(), command, out).map(|()| ExitCode::SUCCESS)
        }
        Command::Verify { data_dir, chain_id } => {
            verify(&data_dir, &chain_id, out).map(|()| ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    fn print(&self, value: &impl Serialize, human: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string(value).unwrap_or_default());
        } else {
            println!("{}", human());
        }
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn parse_json(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text).with_context(|| {
        format!("{what} is not JSON; quote it for the shell, e.g. '{{\"document\": {{\"document_id\": \"d1\"}}}}'")
    })
}

fn describe(r: &Receipt) -> String {
    let mut s = format!(
        "block {}  {}  fuel {}",
        r.block_height,
        if r.success { "success" } else { "FAILED" },
        r.fuel_used
    );
    if let Some(e) = &r.error {
        s.push_str(&format!("\nerror: {e}"));
    }
    for e in &r.events {
        let attrs: Vec<String> = e
            .attributes
            .0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push_str(&format!("\nevent {} {}", e.ty, attrs.join(" ")));
    }
    s.push_str(&format!("\noutput: {}", r.output.get()));
    s
}

/// Prints a receipt: the whole receipt with `--json`, else the hash and `summary(output)`.
/// A failed transaction (committed with `success: false`) exits with status 1.
fn report(out: Output, r: &Receipt, summary: impl FnOnce(&Value) -> String) -> Result<ExitCode> {
    if out.json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
    } else if r.success {
        println!("tx {} committed in block {}", r.tx_hash, r.block_height);
        println!("{}", summary(&output(r)));
    } else {
        eprintln!(
            "tx {} committed in block {} but FAILED: {}",
            r.tx_hash,
            r.block_height,
            r.error.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(if r.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Builds a contract crate with exactly the command `vellum_testing::build_contract_path` uses
/// (contract profile, wasm target, path-independent flags), so the same sources give the same
/// code hash in any checkout. Cargo's progress and errors go to stderr.
fn build_contract(dir: &Path) -> Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("{} is not a directory", dir.display()))?;
    let manifest = dir.join("Cargo.toml");
    if !manifest.exists() {
        bail!(
            "{} has no Cargo.toml; pass a contract crate's directory",
            dir.display()
        );
    }
    let output = vellum_testing::contract_build_command(&dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running cargo (is Rust installed? see rust-toolchain.toml)")?;
    if !output.status.success() {
        bail!(
            "cargo build failed (its errors are above); is the wasm32-unknown-unknown target installed? `rustup target add wasm32-unknown-unknown`"
        );
    }
    vellum_testing::wasm_artifact(&output.stdout, &manifest)
        .ok_or_else(|| anyhow!("no .wasm artifact for {} (is it a cdylib?)", dir.display()))
}

// ---------------------------------------------------------------------------------------------
// Keys.

#[derive(Debug, Serialize, Deserialize)]
struct KeyFile {
    address: String,
    public_key: String,
    secret_key: String,
}

fn key_path(dir: &Path, name: &str) -> Result<PathBuf> {
    if name.contains('/') || name.starts_with('.') || name.is_empty() {
        // A path to a key file, not a name.
        return Ok(PathBuf::from(name));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("key name `{name}` may only hold letters, digits, `-` and `_`");
    }
    Ok(dir.join(format!("{name}.json")))
}

fn load_key(dir: &Path, name: &str) -> Result<SigningKey> {
    let path = key_path(dir, name)?;
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading key {}; create it with `vellum keys new {name}` (keys dir: {})",
            path.display(),
            dir.display()
        )
    })?;
    let file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a key file", path.display()))?;
    let bytes = hex::decode(&file.secret_key)
        .ok()
        .and_then(|b| SigningKey::from_slice(&b).ok())
        .ok_or_else(|| {
            anyhow!(
                "{}: secret_key is not a valid secp256k1 key",
                path.display()
            )
        })?;
    Ok(bytes)
}

fn key_file(key: &SigningKey) -> KeyFile {
    KeyFile {
        address: address_hex(key),
        public_key: hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
        secret_key: hex::encode(key.to_bytes()),
    }
}

fn keys(dir: &Path, cmd: KeysCommand, out: Output) -> Result<()> {
    match cmd {
        KeysCommand::New { name } => {
            let path = key_path(dir, &name)?;
            if let Some(parent) = path.parent() {
                create_private_dir(parent)?;
            }
            let key = generate_key()?;
            let file = key_file(&key);
            let mut f = open_private(&path).with_context(|| {
                format!(
                    "creating {} (a key of that name may already exist)",
                    path.display()
                )
            })?;
            f.write_all(serde_json::to_string_pretty(&file)?.as_bytes())?;
            out.print(
                &json!({"name": name, "address": file.address, "public_key": file.public_key, "path": path}),
                || format!("{name}  {}  ({})", file.address, path.display()),
            );
        }
        KeysCommand::Show { name } => {
            let key = load_key(dir, &name)?;
            let file = key_file(&key);
            out.print(
                &json!({"name": name, "address": file.address, "public_key": file.public_key}),
                || {
                    format!(
                        "name        {name}\naddress     {}\npublic_key  {}",
                        file.address, file.public_key
                    )
                },
            );
        }
        KeysCommand::List => {
            let mut found = Vec::new();
            if dir.exists() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
                    .with_context(|| format!("listing {}", dir.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                entries.sort();
                for p in entries {
                    let name = p
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if let Ok(key) = load_key(dir, &name) {
                        found.push(json!({"name": name, "address": address_hex(&key)}));
                    }
                }
            }
            out.print(&json!({"keys": found}), || {
                if found.is_empty() {
                    format!(
                        "no keys in {}; create one with `vellum keys new NAME`",
                        dir.display()
                    )
                } else {
                    found
                        .iter()
                        .map(|k| {
                            format!(
                                "{:<16} {}",
                                k["name"].as_str().unwrap_or(""),
                                k["address"].as_str().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

// ---------------------------------------------------------------------------------------------
// Node and verification.

fn run_node(args: NodeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Fault injection (tests only): refused unless built with the `failpoints` feature.
    let armed = vellum_node::failpoints::setup_from_env().map_err(|e| anyhow!(e))?;
    if !armed.is_empty() {
        tracing::warn!(?armed, "failpoints armed: this node will fail on purpose");
    }
    let file = match &args.config {
        Some(p) => ConfigFile::load(p)?,
        None => ConfigFile::default(),
    };
    let mut config = NodeConfig::resolve(
        file,
        Overrides {
            data_dir: args.data_dir,
            journal_dir: args.journal_dir,
            listen: args.listen,
            chain_id: args.chain_id,
        },
    )?;
    config.api.connections_max = fit_connections_to_fd_limit(config.api.connections_max);
    let cluster_config = match (args.node_id, args.cluster_secret) {
        (None, _) => None,
        (Some(_), None) => bail!("--node-id needs --cluster-secret (or VELLUM_CLUSTER_SECRET)"),
        (Some(_), Some(s)) if s.len() < 16 => {
            bail!("the cluster secret must be at least 16 characters")
        }
        (Some(id), Some(secret)) => {
            let mut c = vellum_node::cluster::ClusterConfig::new(id, secret, &config.data_dir);
            c.snapshot_logs = args.snapshot_logs.max(1);
            Some(c)
        }
    };
    let mut ledger_config =
        vellum_node::ledger::LedgerConfig::new(&config.data_dir, &config.chain_id);
    ledger_config.replicated = cluster_config.is_some();
    ledger_config.journal_dir = config.journal_dir.clone();
    let ledger = vellum_node::ledger::Ledger::open(ledger_config).with_context(|| {
        format!(
            "opening the ledger in {} (is another node using it?)",
            config.data_dir.display()
        )
    })?;
    let ledger = Arc::new(ledger);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(vellum_node::procstat::THREAD_HTTP)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut state = vellum_node::api::ApiState::new(ledger.clone(), config.api.clone());
    let cluster = match cluster_config {
        Some(c) => {
            let cluster = runtime
                .block_on(vellum_node::cluster::Cluster::start(ledger.clone(), c))
                .context("starting the cluster member")?;
            state = state.with_cluster(cluster.clone());
            Some(cluster)
        }
        None => None,
    };
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| {
                format!(
                    "listening on {} (is the port taken? try --listen 127.0.0.1:0)",
                    config.listen
                )
            })?;
        let local = listener.local_addr()?;
        let (tip, _) = ledger.tip();
        // The one line on stdout: scripts and tests read the address from it.
        println!(
            "vellum node listening on http://{local} (chain {}, height {}, data {})",
            config.chain_id,
            tip.height,
            config.data_dir.display()
        );
        let _ = std::io::stdout().flush();
        tracing::info!(%local, chain_id = %config.chain_id, "serving");
        vellum_node::api::serve(listener, state, shutdown_signal())
            .await
            .context("serving HTTP")
    })?;
    tracing::info!("stopped accepting; committing the block in flight");
    if let Some(c) = &cluster {
        runtime.block_on(c.shutdown());
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    ledger.shutdown();
    let (tip, hash) = ledger.tip();
    tracing::info!(height = tip.height, hash = %hex::encode(hash), "shut down cleanly");
    Ok(())
}

/// File descriptors kept for everything but client connections: the store, the module cache,
/// the runtime's memory mappings, logs.
const FDS_RESERVED: u64 = 256;

/// The process's soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere
/// or when unlimited.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `connections_max`, lowered if need be so that client connections can never take the file
/// descriptors the ledger needs (a commit or a deploy failing for want of one).
fn fit_connections_to_fd_limit(connections_max: usize) -> usize {
    let Some(soft) = open_files_limit() else {
        return connections_max;
    };
    let fit = usize::try_from(soft.saturating_sub(FDS_RESERVED).max(1)).unwrap_or(usize::MAX);
    if fit < connections_max {
        tracing::warn!(
            open_files_limit = soft,
            connections_max = fit,
            "api.connections_max lowered to fit the open-files limit (raise it with `ulimit -n`)"
        );
        return fit;
    }
    connections_max
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}

fn verify(data_dir: &Path, chain_id: &str, out: Output) -> Result<()> {
    let db = data_dir.join("chain.redb");
    if !db.exists() {
        bail!(
            "{} holds no chain (no chain.redb); pass the node's --data-dir",
            data_dir.display()
        );
    }
    let store = vellum_node::store::Store::open(&db).with_context(|| {
        format!(
            "opening {} (stop the node that uses it first)",
            db.display()
        )
    })?;
    store.check_chain_id(chain_id)?;
    // Blocks a crash left in the journal only (acknowledged, not yet in redb) are not checked
    // here: the node's next start replays them.
    let tip = store.snapshot()?.tip_height()?.unwrap_or(0);
    let journal_dir = vellum_node::journal::recorded_dir(data_dir)?;
    let journaled = vellum_node::journal::Journal::recover(&journal_dir)
        .with_context(|| format!("reading the journal in {}", journal_dir.display()))?
        .iter()
        .filter(|r| r.height > tip)
        .count();
    if journaled > 0 {
        bail!(
            "{journaled} acknowledged blocks above block {tip} are in the journal and not yet in \
             chain.redb (the node stopped without applying them): start the node once, which \
             replays them, stop it, then verify"
        );
    }
    let runtime = vellum_runtime::Runtime::new(vellum_runtime::RuntimeConfig::default())
        .context("starting the runtime")?;
    let bar = if out.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("verifying {bar:40} block {pos}/{len} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let report = vellum_node::verify::verify_chain(&store, chain_id, &runtime, &mut |h, tip| {
        bar.set_length(tip);
        bar.set_position(h);
    });
    bar.finish_and_clear();
    let report = report.context("the chain does not verify")?;
    out.print(
        &json!({
            "ok": true,
            "blocks": report.blocks,
            "txs": report.txs,
            "state_entries": report.state_entries,
            "state_root": hex::encode(report.state_root),
        }),
        || {
            format!(
                "ok: {} blocks, {} transactions re-executed, {} state entries match, state root {} ({:.1} s)",
                report.blocks,
                report.txs,
                report.state_entries,
                hex::encode(report.state_root),
                started.elapsed().as_secs_f64()
            )
        },
    );
    Ok(())
}

/// `vellum cluster ...`: the cluster's administration routes (docs/cluster.md).
fn cluster(node: &str, secret: Option<&str>, command: ClusterCommand, out: Output) -> Result<()> {
    let http = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let node = node.trim_end_matches('/').to_string();
    let status = |base: &str| -> Result<Value> {
        let v: Value = http
            .get(format!("{base}/v1/status"))
            .send()
            .with_context(|| format!("reaching {base}"))?
            .json()?;
        Ok(v)
    };
    let post = |base: &str, route: &str, body: Value| -> Result<Value> {
        let secret = secret
            .ok_or_else(|| anyhow!("cluster changes need --secret (or VELLUM_CLUSTER_SECRET)"))?;
        let response = http
            .post(format!("{base}/internal/cluster/{route}"))
            .header(vellum_node::cluster::http::SECRET_HEADER, secret)
            .json(&body)
            .send()
            .with_context(|| format!("reaching {base}"))?;
        let ok = response.status().is_success();
        let v: Value = response.json()?;
        if !ok {
            bail!(
                "{}: {}",
                v["error"]["code"].as_str().unwrap_or("error"),
                v["error"]["message"].as_str().unwrap_or("")
            );
        }
        Ok(v)
    };
    let leader = || -> Result<String> {
        let s = status(&node)?;
        match s["cluster"]["leader_addr"].as_str() {
            Some(a) => Ok(a.trim_end_matches('/').to_string()),
            None if s["cluster"].is_null() => bail!("{node} is not a cluster member"),
            None => bail!("the cluster has no leader right now; retry shortly"),
        }
    };
    let result = match command {
        ClusterCommand::Init { members } => {
            let mut map = serde_json::Map::new();
            for m in &members {
                let (id, url) = m
                    .split_once('=')
                    .ok_or_else(|| anyhow!("member `{m}` is not ID=URL"))?;
                let id: u64 = id.parse().with_context(|| format!("member id `{id}`"))?;
                map.insert(id.to_string(), json!(url));
            }
            post(&node, "init", json!({"members": map}))?
        }
        ClusterCommand::AddLearner { id, addr } => {
            post(&leader()?, "learner", json!({"id": id, "addr": addr}))?
        }
        ClusterCommand::Promote { ids } => post(&leader()?, "promote", json!({"ids": ids}))?,
        ClusterCommand::Remove { ids } => post(&leader()?, "remove", json!({"ids": ids}))?,
        ClusterCommand::Show => {
            let s = status(&node)?;
            if s["cluster"].is_null() {
                bail!("{node} is not a cluster member (started without --node-id)");
            }
            s["cluster"].clone()
        }
    };
    out.print(&result, || {
        let list = |v: &Value| {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| format!("{}={}", m["id"], m["addr"].as_str().unwrap_or("?")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        format!(
            "node {} is {} (term {}); leader {}\nvoters: {}\nlearners: {}{}",
            result["node_id"],
            result["role"].as_str().unwrap_or("?"),
            result["term"],
            result["leader"],
            list(&result["voters"]),
            list(&result["learners"]),
            result["halted"]
                .as_str()
                .map(|h| format!("\nHALTED: {h}"))
                .unwrap_or_default()
        )
    });
    Ok(())
}
