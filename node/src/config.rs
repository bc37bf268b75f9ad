//! The node's configuration: defaults, then an optional TOML file, then environment variables
//! and command-line flags (the binary merges those last two through clap).
//!
//! ```toml
//! data_dir = "./vellum-data"
//! # journal_dir = "/mnt/journal/vellum"   # default: DATA_DIR/journal
//! listen = "127.0.0.1:8080"
//! chain_id = "vellum-dev"
//!
//! [api]
//! in_flight_max = 4096
//! request_timeout_ms = 30000
//! wait_timeout_ms = 20000
//! header_read_timeout_ms = 10000
//! connections_max = 10000
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::api::ApiConfig;

/// Default data directory.
pub const DATA_DIR_DEFAULT: &str = "./vellum-data";
/// Default listen address: loopback only, so a node is never exposed by accident.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:8080";
/// Default chain id.
pub const CHAIN_ID_DEFAULT: &str = "vellum-dev";

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its position.
        message: String,
    },
    /// A value is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// The `[api]` table: every field optional, defaults from [`ApiConfig::default`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFile {
    /// See [`ApiConfig::in_flight_max`].
    pub in_flight_max: Option<usize>,
    /// See [`ApiConfig::request_timeout_ms`].
    pub request_timeout_ms: Option<u64>,
    /// See [`ApiConfig::wait_timeout_ms`].
    pub wait_timeout_ms: Option<u64>,
    /// See [`ApiConfig::blocking_tasks_max`].
    pub blocking_tasks_max: Option<usize>,
    /// See [`ApiConfig::streams_max`].
    pub streams_max: Option<usize>,
    /// See [`ApiConfig::header_read_timeout_ms`].
    pub header_read_timeout_ms: Option<u64>,
    /// See [`ApiConfig::connections_max`].
    pub connections_max: Option<usize>,
}

/// The config file: every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// The block journal's directory (default: `DATA_DIR/journal`).
    pub journal_dir: Option<PathBuf>,
    /// Listen address.
    pub listen: Option<String>,
    /// Chain id.
    pub chain_id: Option<String>,
    /// API protection settings.
    #[serde(default)]
    pub api: ApiFile,
}

impl ConfigFile {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// The effective configuration of `vellum node`.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Data directory.
    pub data_dir: PathBuf,
    /// The block journal's directory; `None`: `DATA_DIR/journal` (see `crate::journal`).
    pub journal_dir: Option<PathBuf>,
    /// Listen address.
    pub listen: SocketAddr,
    /// Chain id.
    pub chain_id: String,
    /// API protection.
    pub api: ApiConfig,
}

/// Values given on the command line or in the environment; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data-dir` / `VELLUM_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--journal-dir` / `VELLUM_JOURNAL_DIR`.
    pub journal_dir: Option<PathBuf>,
    /// `--listen` / `VELLUM_LISTEN`.
    pub listen: Option<String>,
    /// `--chain-id` / `VELLUM_CHAIN_ID`.
    pub chain_id: Option<String>,
}

impl NodeConfig {
    /// Defaults, overlaid by `file`, overlaid by `overrides`.
    pub fn resolve(file: ConfigFile, overrides: Overrides) -> Result<Self, ConfigError> {
        let listen = overrides
            .listen
            .or(file.listen)
            .unwrap_or_else(|| LISTEN_DEFAULT.into());
        let listen: SocketAddr = listen.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "listen address `{listen}` is not IP:PORT (e.g. {LISTEN_DEFAULT})"
            ))
        })?;
        let chain_id = overrides
            .chain_id
            .or(file.chain_id)
            .unwrap_or_else(|| CHAIN_ID_DEFAULT.into());
        if chain_id.is_empty() {
            return Err(ConfigError::Invalid(
                "the chain id must not be empty".into(),
            ));
        }
        let defaults = ApiConfig::default();
        let api = ApiConfig {
            in_flight_max: file.api.in_flight_max.unwrap_or(defaults.in_flight_max),
            request_timeout_ms: file
                .api
                .request_timeout_ms
                .unwrap_or(defaults.request_timeout_ms),
            wait_timeout_ms: file.api.wait_timeout_ms.unwrap_or(defaults.wait_timeout_ms),
            blocking_tasks_max: file
                .api
                .blocking_tasks_max
                .unwrap_or(defaults.blocking_tasks_max),
            streams_max: file.api.streams_max.unwrap_or(defaults.streams_max),
            header_read_timeout_ms: file
                .api
                .header_read_timeout_ms
                .unwrap_or(defaults.header_read_timeout_ms),
            connections_max: file.api.connections_max.unwrap_or(defaults.connections_max),
        };
        if api.wait_timeout_ms >= api.request_timeout_ms {
            return Err(ConfigError::Invalid(format!(
                "api.wait_timeout_ms ({}) must be below api.request_timeout_ms ({})",
                api.wait_timeout_ms, api.request_timeout_ms
            )));
        }
        Ok(Self {
            data_dir: overrides
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| DATA_DIR_DEFAULT.into()),
            journal_dir: overrides.journal_dir.or(file.journal_dir),
            listen,
            chain_id,
            api,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file = ConfigFile::parse(
            "listen = \"127.0.0.1:9000\"\nchain_id = \"from-file\"\n[api]\nin_flight_max = 7\n",
        )
        .unwrap();
        let c = NodeConfig::resolve(
            file,
            Overrides {
                chain_id: Some("from-flag".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(c.chain_id, "from-flag");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.api.in_flight_max, 7);
        assert_eq!(c.data_dir, PathBuf::from(DATA_DIR_DEFAULT));
        assert_eq!(c.journal_dir, None);
        let file = ConfigFile::parse("journal_dir = \"/from/file\"\n").unwrap();
        let c = NodeConfig::resolve(file.clone(), Overrides::default()).unwrap();
        assert_eq!(c.journal_dir, Some(PathBuf::from("/from/file")));
        let flag = Overrides {
            journal_dir: Some("/from/flag".into()),
            ..Overrides::default()
        };
        let c = NodeConfig::resolve(file, flag).unwrap();
        assert_eq!(c.journal_dir, Some(PathBuf::from("/from/flag")));
    }

    #[test]
    fn unknown_keys_and_bad_addresses_are_refused() {
        assert!(ConfigFile::parse("listen_addr = \"x\"").is_err());
        let bad = ConfigFile {
            listen: Some("localhost".into()),
            ..ConfigFile::default()
        };
        assert!(NodeConfig::resolve(bad, Overrides::default()).is_err());
    }
}
