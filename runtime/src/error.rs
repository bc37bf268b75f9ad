//! Host-side errors. A contract's own failure (refusal, trap, out of fuel) is never one of these:
//! it is a [`crate::Failure`] inside an [`crate::Outcome`].

use crate::CodeHash;

/// Why a module was refused at deploy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The module is larger than [`crate::limits::CODE_BYTES_MAX`].
    #[error("module is {size} bytes, the limit is {max}")]
    TooLarge {
        /// Size of the module in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a valid wasm module for the allowed feature set (this includes SIMD,
    /// threads and every other disabled proposal).
    #[error("invalid wasm: {0}")]
    InvalidWasm(String),
    /// The module imports something that is not in the ABI, or with the wrong type.
    #[error(
        "import `{module}.{name}` is not part of the vellum abi v{}",
        vellum_abi::ABI_VERSION
    )]
    UnknownImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// An import exists in the ABI but has another signature.
    #[error("import `{0}` has the wrong signature")]
    ImportSignature(String),
    /// A required export is missing or has the wrong type.
    #[error("missing or mistyped export `{0}`")]
    MissingExport(String),
    /// The module does not declare the ABI version this node speaks.
    #[error(
        "module does not export `{}`: built for another abi version?",
        vellum_abi::ABI_VERSION_EXPORT
    )]
    AbiVersion,
    /// The module has a start function (it would run during instantiation, before any entry
    /// point, outside metering's accounting of calls).
    #[error("start functions are not allowed")]
    StartFunction,
    /// The module's memory layout is not the one the ABI requires.
    #[error("memory: {0}")]
    Memory(String),
    /// A structural limit of [`crate::limits`] is exceeded.
    #[error("{what}: {actual} exceeds the limit of {max}")]
    Limit {
        /// What is counted.
        what: &'static str,
        /// The module's value.
        actual: u64,
        /// The limit.
        max: u64,
    },
    /// A feature outside the deterministic subset is used.
    #[error("forbidden: {0}")]
    Forbidden(String),
}

/// A failure of the state backend (the node's storage), surfaced unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state backend: {0}")]
pub struct StateError(pub String);

/// Why the runtime could not run a call at all. None of these is the contract's fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The code was refused by validation.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// No code is stored under this hash.
    #[error("no code with hash {0}")]
    CodeNotFound(CodeHash),
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The requested fuel limit is above [`crate::limits::FUEL_PER_CALL_MAX`].
    #[error("fuel limit {requested} exceeds the maximum {max}")]
    FuelLimit {
        /// What was asked.
        requested: u64,
        /// The maximum.
        max: u64,
    },
    /// The message is larger than [`crate::limits::INPUT_BYTES_MAX`].
    #[error("message is {0} bytes, the limit is {max}", max = crate::limits::INPUT_BYTES_MAX)]
    InputTooLarge(usize),
    /// wasmtime failed in a way that is not attributable to the guest (compilation, instance
    /// pool exhausted, configuration).
    #[error("engine: {0}")]
    Engine(String),
    /// The executor thread is gone.
    #[error("executor thread unavailable")]
    ExecutorGone,
}

impl RuntimeError {
    pub(crate) fn engine(e: impl std::fmt::Display) -> Self {
        Self::Engine(format!("{e:#}"))
    }
}
