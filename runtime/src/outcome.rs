//! What a call returns: an [`Outcome`] with the fuel it used and either a [`Success`] or a
//! typed [`Failure`].

/// The result of running one entry point. Consumed fuel is reported in both cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Fuel the call consumed (wasm instructions and host-function charges), at most its limit.
    pub fuel_used: u64,
    /// What the contract produced, or why it failed. A failure carries no writes or events.
    pub result: Result<Success, Failure>,
}

/// What a successful call produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Success {
    /// The answer set with `output_write` (JSON by convention; empty if none was set).
    pub output: Vec<u8>,
    /// Events in emission order.
    pub events: Vec<Event>,
    /// The call's net storage changes in ascending key order; each key appears once.
    pub writes: Vec<Write>,
}

/// An event emitted by a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Event type, e.g. `access`.
    pub ty: String,
    /// Attributes in emission order; keys are unique within an event.
    pub attributes: Vec<(String, String)>,
}

/// One net storage change of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The contract-relative key.
    pub key: Vec<u8>,
    /// The new value, or `None` for a removal.
    pub value: Option<Vec<u8>>,
}

/// Why a call failed. Every variant is the contract's doing (or its fuel's), never the host's:
/// host faults are [`crate::RuntimeError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The contract refused the message (return code 1); the text is its message.
    #[error("contract error: {0}")]
    ContractError(String),
    /// The contract panicked or called `abort`; the text is its message.
    #[error("contract panicked: {0}")]
    Panic(String),
    /// The call used all its fuel.
    #[error("out of fuel")]
    OutOfFuel,
    /// The contract tried to grow its memory beyond [`crate::limits::MEMORY_BYTES_MAX`].
    #[error("memory limit of {} bytes exceeded", crate::limits::MEMORY_BYTES_MAX)]
    MemoryLimit,
    /// The contract tried to grow a table beyond [`crate::limits::TABLE_ELEMENTS_MAX`].
    #[error(
        "table limit of {} elements exceeded",
        crate::limits::TABLE_ELEMENTS_MAX
    )]
    TableLimit,
    /// The wasm stack exceeded [`crate::limits::WASM_STACK_BYTES_MAX`].
    #[error("stack overflow")]
    StackOverflow,
    /// A wasm trap (unreachable, out-of-bounds access, division by zero, ...).
    #[error("trap: {0}")]
    Trap(String),
    /// The contract passed a host function something invalid: a pointer outside its memory, an
    /// oversized key or value, a write in a query, a malformed event, ...
    #[error("invalid host call: {0}")]
    InvalidHostCall(String),
    /// The entry point returned a value that is not a return code.
    #[error("entry point returned invalid code {0}")]
    InvalidReturn(i32),
}
