//! The document-custody contract (SPEC.md section 5).
//!
//! Every registered document has one custodian, a list of versions (SHA-256 of the document's
//! bytes), a set of grantees, and an append-only history: every message that touches the
//! document (including refused accesses) adds an entry with the actor, block height and
//! transaction hash. Custodian-only messages from anyone else fail and change nothing.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use vellum_sdk::storage::Map;
use vellum_sdk::{Address, Ctx, Event, StdError, entry_point};

/// Longest document id, in bytes.
pub const DOCUMENT_ID_BYTES_MAX: usize = 256;
/// Longest access purpose, in bytes.
pub const PURPOSE_BYTES_MAX: usize = 1024;
/// Most grantees of one document.
pub const GRANTEES_MAX: usize = 256;
/// History entries returned when a query gives no limit.
pub const HISTORY_PAGE_DEFAULT: u32 = 100;
/// Most history entries one query returns.
pub const HISTORY_PAGE_MAX: u32 = 1000;

const DOCUMENTS: Map<String, Document> = Map::new("doc");
const HISTORY: Map<(String, u64), Entry> = Map::new("hist");

/// A document's current state.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Document {
    /// Who holds custody.
    pub custodian: Address,
    /// SHA-256 of every version, oldest first; version `n` is `versions[n - 1]`.
    pub versions: Vec<String>,
    /// Who may access, besides the custodian (ascending).
    pub grantees: Vec<Address>,
    /// Free-form metadata given at registration, as its JSON text.
    pub metadata: Option<String>,
    /// Number of history entries.
    pub history_len: u64,
}

/// One history entry.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Entry {
    /// Position in the document's history, from 0.
    pub seq: u64,
    /// `register`, `update`, `grant`, `revoke`, `access`, `access_denied` or `transfer`.
    pub action: String,
    /// Who sent the message.
    pub actor: Address,
    /// Block that recorded it.
    pub block_height: u64,
    /// That block's timestamp (ms since the Unix epoch).
    pub block_time_ms: u64,
    /// Transaction that recorded it (hex).
    pub tx_hash: String,
    /// Document hash of a `register` or `update`.
    pub sha256: Option<String>,
    /// Version created by a `register` or `update`.
    pub version: Option<u64>,
    /// Grantee of a `grant` or `revoke`.
    pub grantee: Option<Address>,
    /// Stated purpose of an `access` or `access_denied`.
    pub purpose: Option<String>,
    /// Previous custodian of a `transfer` (the actor).
    pub from: Option<Address>,
    /// New custodian of a `transfer`.
    pub new_custodian: Option<Address>,
}

/// How an [`Entry`] is shown to clients: fields that do not apply to its action are left out.
#[derive(Serialize, Debug, PartialEq)]
pub struct EntryView<'a> {
    pub seq: u64,
    pub action: &'a str,
    pub actor: Address,
    pub block_height: u64,
    pub block_time_ms: u64,
    pub tx_hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grantee: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_custodian: Option<Address>,
}

impl<'a> From<&'a Entry> for EntryView<'a> {
    fn from(e: &'a Entry) -> Self {
        Self {
            seq: e.seq,
            action: &e.action,
            actor: e.actor,
            block_height: e.block_height,
            block_time_ms: e.block_time_ms,
            tx_hash: &e.tx_hash,
            sha256: e.sha256.as_deref(),
            version: e.version,
            grantee: e.grantee,
            purpose: e.purpose.as_deref(),
            from: e.from,
            new_custodian: e.new_custodian,
        }
    }
}

/// Instantiate message: `{}`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct InstantiateMsg {}

/// Execute messages.
#[derive(Deserialize, Serialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecuteMsg {
    /// Registers a new document; the signer becomes its custodian.
    Register {
        document_id: String,
        sha256: String,
        metadata: Option<Box<RawValue>>,
    },
    /// Adds a version (custodian only).
    Update { document_id: String, sha256: String },
    /// Lets `grantee` access (custodian only).
    Grant {
        document_id: String,
        grantee: Address,
    },
    /// Withdraws a grant (custodian only).
    Revoke {
        document_id: String,
        grantee: Address,
    },
    /// Records an access: granted to the custodian and grantees, recorded as denied otherwise.
    Access {
        document_id: String,
        purpose: String,
    },
    /// Moves custody (custodian only). Grants stay; the new custodian may revoke them.
    Transfer {
        document_id: String,
        new_custodian: Address,
    },
}

/// Query messages.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QueryMsg {
    /// The document's current state.
    Document { document_id: String },
    /// A page of the history, oldest first.
    History {
        document_id: String,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    /// Whether a hash is one of the document's versions.
    Verify { document_id: String, sha256: String },
}

/// Answer of `register` and `update`.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct VersionResponse {
    pub document_id: String,
    pub version: u64,
}

/// Answer of `grant` and `revoke`.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct GrantResponse {
    pub document_id: String,
    pub grantee: Address,
}

/// Answer of `access`.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct AccessResponse {
    pub granted: bool,
}

/// Answer of `transfer`.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct TransferResponse {
    pub document_id: String,
    pub custodian: Address,
}

/// Answer of the `document` query.
#[derive(Serialize, Deserialize, Debug)]
pub struct DocumentResponse {
    pub document_id: String,
    pub custodian: Address,
    /// Hash of the latest version.
    pub sha256: String,
    /// Latest version number, from 1.
    pub version: u64,
    pub grantees: Vec<Address>,
    pub history_len: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Box<RawValue>>,
}

/// Answer of the `history` query.
#[derive(Serialize, Debug, PartialEq)]
pub struct HistoryResponse<'a> {
    pub entries: Vec<EntryView<'a>>,
}

/// Answer of the `verify` query.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct VerifyResponse {
    pub matches: bool,
    pub version: Option<u64>,
}

/// Every answer of `execute`, serialised as the inner value.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum ExecuteResponse {
    Version(VersionResponse),
    Grant(GrantResponse),
    Access(AccessResponse),
    Transfer(TransferResponse),
}

/// Every answer of `query`, serialised as the inner value.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum QueryResponse {
    Document(DocumentResponse),
    /// The serialised [`HistoryResponse`] (its entries borrow from storage reads).
    History(Box<RawValue>),
    Verify(VerifyResponse),
}

/// Why a message was refused. The text reaches the caller as the receipt's error.
#[derive(Debug, PartialEq)]
pub enum ContractError {
    /// No document with this id.
    NotFound(String),
    /// The id is taken.
    AlreadyRegistered(String),
    /// The signer is not the custodian.
    Unauthorized {
        document_id: String,
        action: &'static str,
    },
    /// A field is malformed.
    Invalid(String),
    /// Storage or serialisation.
    Std(StdError),
}

impl std::fmt::Display for ContractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(id) => write!(f, "document `{id}` not found"),
            Self::AlreadyRegistered(id) => write!(f, "document `{id}` is already registered"),
            Self::Unauthorized {
                document_id,
                action,
            } => {
                write!(
                    f,
                    "unauthorized: only the custodian of `{document_id}` may {action} it"
                )
            }
            Self::Invalid(m) => f.write_str(m),
            Self::Std(e) => write!(f, "{e}"),
        }
    }
}

impl From<StdError> for ContractError {
    fn from(e: StdError) -> Self {
        Self::Std(e)
    }
}

fn check_id(id: &str) -> Result<(), ContractError> {
    if id.is_empty() || id.len() > DOCUMENT_ID_BYTES_MAX {
        return Err(ContractError::Invalid(format!(
            "document_id must be 1 to {DOCUMENT_ID_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

/// Checks a SHA-256 given as hex and returns it in lowercase.
fn check_sha256(s: &str) -> Result<String, ContractError> {
    vellum_sdk::hex_decode::<32>(s)
        .map(|b| vellum_sdk::hex_encode(&b))
        .ok_or_else(|| {
            ContractError::Invalid(format!("sha256 must be 64 hex characters, got `{s}`"))
        })
}

fn load(id: &str) -> Result<Document, ContractError> {
    check_id(id)?;
    DOCUMENTS
        .may_load(&id.to_string())?
        .ok_or_else(|| ContractError::NotFound(id.into()))
}

fn only_custodian(
    ctx: &Ctx,
    id: &str,
    doc: &Document,
    action: &'static str,
) -> Result<(), ContractError> {
    if ctx.env.caller != doc.custodian {
        return Err(ContractError::Unauthorized {
            document_id: id.into(),
            action,
        });
    }
    Ok(())
}

/// Appends a history entry, saves the document and emits the matching event.
fn record(
    ctx: &mut Ctx,
    id: String,
    mut doc: Document,
    action: &str,
    fill: impl FnOnce(&mut Entry),
) -> Result<(), ContractError> {
    let mut entry = Entry {
        seq: doc.history_len,
        action: action.into(),
        actor: ctx.env.caller,
        block_height: ctx.env.block_height,
        block_time_ms: ctx.env.block_time_ms,
        tx_hash: ctx.env.tx_hash_hex(),
        sha256: None,
        version: None,
        grantee: None,
        purpose: None,
        from: None,
        new_custodian: None,
    };
    fill(&mut entry);
    let mut event = Event::new(action)
        .attr("document_id", id.clone())
        .attr("actor", entry.actor.to_string())
        .attr("seq", entry.seq.to_string());
    if let Some(v) = &entry.sha256 {
        event = event.attr("sha256", v.clone());
    }
    if let Some(v) = entry.version {
        event = event.attr("version", v.to_string());
    }
    if let Some(v) = entry.grantee {
        event = event.attr("grantee", v.to_string());
    }
    if let Some(v) = &entry.purpose {
        event = event.attr("purpose", v.clone());
    }
    if let Some(v) = entry.new_custodian {
        event = event.attr("new_custodian", v.to_string());
    }
    doc.history_len += 1;
    HISTORY.save(&(id.clone(), entry.seq), &entry)?;
    DOCUMENTS.save(&id, &doc)?;
    ctx.emit(event);
    Ok(())
}

#[entry_point]
pub fn instantiate(_ctx: &mut Ctx, _msg: InstantiateMsg) -> Result<(), ContractError> {
    Ok(())
}

#[entry_point]
pub fn execute(ctx: &mut Ctx, msg: ExecuteMsg) -> Result<ExecuteResponse, ContractError> {
    use ExecuteResponse as R;
    match msg {
        ExecuteMsg::Register {
            document_id,
            sha256,
            metadata,
        } => {
            check_id(&document_id)?;
            let sha256 = check_sha256(&sha256)?;
            if DOCUMENTS.has(&document_id) {
                return Err(ContractError::AlreadyRegistered(document_id));
            }
            let doc = Document {
                custodian: ctx.env.caller,
                versions: vec![sha256.clone()],
                grantees: Vec::new(),
                metadata: metadata.map(|m| m.get().to_string()),
                history_len: 0,
            };
            record(ctx, document_id.clone(), doc, "register", |e| {
                e.sha256 = Some(sha256);
                e.version = Some(1);
            })?;
            Ok(R::Version(VersionResponse {
                document_id,
                version: 1,
            }))
        }
        ExecuteMsg::Update {
            document_id,
            sha256,
        } => {
            let mut doc = load(&document_id)?;
            only_custodian(ctx, &document_id, &doc, "update")?;
            let sha256 = check_sha256(&sha256)?;
            doc.versions.push(sha256.clone());
            let version = doc.versions.len() as u64;
            record(ctx, document_id.clone(), doc, "update", |e| {
                e.sha256 = Some(sha256);
                e.version = Some(version);
            })?;
            Ok(R::Version(VersionResponse {
                document_id,
                version,
            }))
        }
        ExecuteMsg::Grant {
            document_id,
            grantee,
        } => {
            let mut doc = load(&document_id)?;
            only_custodian(ctx, &document_id, &doc, "grant access to")?;
            if let Err(at) = doc.grantees.binary_search(&grantee) {
                if doc.grantees.len() >= GRANTEES_MAX {
                    return Err(ContractError::Invalid(format!(
                        "a document has at most {GRANTEES_MAX} grantees"
                    )));
                }
                doc.grantees.insert(at, grantee);
            }
            record(ctx, document_id.clone(), doc, "grant", |e| {
                e.grantee = Some(grantee)
            })?;
            Ok(R::Grant(GrantResponse {
                document_id,
                grantee,
            }))
        }
        ExecuteMsg::Revoke {
            document_id,
            grantee,
        } => {
            let mut doc = load(&document_id)?;
            only_custodian(ctx, &document_id, &doc, "revoke access to")?;
            let at = doc.grantees.binary_search(&grantee).map_err(|_| {
                ContractError::Invalid(format!("{grantee} has no grant on `{document_id}`"))
            })?;
            doc.grantees.remove(at);
            record(ctx, document_id.clone(), doc, "revoke", |e| {
                e.grantee = Some(grantee)
            })?;
            Ok(R::Grant(GrantResponse {
                document_id,
                grantee,
            }))
        }
        ExecuteMsg::Access {
            document_id,
            purpose,
        } => {
            let doc = load(&document_id)?;
            if purpose.len() > PURPOSE_BYTES_MAX {
                return Err(ContractError::Invalid(format!(
                    "purpose is longer than {PURPOSE_BYTES_MAX} bytes"
                )));
            }
            let caller = ctx.env.caller;
            let granted = caller == doc.custodian || doc.grantees.binary_search(&caller).is_ok();
            let action = if granted { "access" } else { "access_denied" };
            record(ctx, document_id, doc, action, |e| e.purpose = Some(purpose))?;
            Ok(R::Access(AccessResponse { granted }))
        }
        ExecuteMsg::Transfer {
            document_id,
            new_custodian,
        } => {
            let mut doc = load(&document_id)?;
            only_custodian(ctx, &document_id, &doc, "transfer")?;
            let from = doc.custodian;
            doc.custodian = new_custodian;
            record(ctx, document_id.clone(), doc, "transfer", |e| {
                e.from = Some(from);
                e.new_custodian = Some(new_custodian);
            })?;
            Ok(R::Transfer(TransferResponse {
                document_id,
                custodian: new_custodian,
            }))
        }
    }
}

#[entry_point]
pub fn query(_ctx: &Ctx, msg: QueryMsg) -> Result<QueryResponse, ContractError> {
    use QueryResponse as R;
    match msg {
        QueryMsg::Document { document_id } => {
            let doc = load(&document_id)?;
            Ok(R::Document(DocumentResponse {
                document_id,
                custodian: doc.custodian,
                sha256: doc.versions.last().cloned().unwrap_or_default(),
                version: doc.versions.len() as u64,
                grantees: doc.grantees,
                history_len: doc.history_len,
                metadata: doc
                    .metadata
                    .map(RawValue::from_string)
                    .transpose()
                    .map_err(|e| ContractError::Std(StdError::Serialization(e.to_string())))?,
            }))
        }
        QueryMsg::History {
            document_id,
            start_after,
            limit,
        } => {
            load(&document_id)?;
            let limit = limit.unwrap_or(HISTORY_PAGE_DEFAULT).min(HISTORY_PAGE_MAX);
            let entries: Vec<Entry> = HISTORY
                .prefix(&document_id)
                .range(start_after.as_ref(), limit)?
                .into_iter()
                .map(|(_, e)| e)
                .collect();
            let page = HistoryResponse {
                entries: entries.iter().map(EntryView::from).collect(),
            };
            let json = serde_json::to_string(&page)
                .and_then(RawValue::from_string)
                .map_err(|e| ContractError::Std(StdError::Serialization(e.to_string())))?;
            Ok(R::History(json))
        }
        QueryMsg::Verify {
            document_id,
            sha256,
        } => {
            let doc = load(&document_id)?;
            let sha256 = check_sha256(&sha256)?;
            let version = doc
                .versions
                .iter()
                .rposition(|v| *v == sha256)
                .map(|i| i as u64 + 1);
            Ok(R::Verify(VerifyResponse {
                matches: version.is_some(),
                version,
            }))
        }
    }
}
