//! Exercises every SDK facility that the custody and counter contracts do not: panics, the
//! host's SHA-256 and secp256k1 verification, the full `Env`, debug logging, items that are
//! removed, and map iteration without a prefix. Used only by tests.

use serde::{Deserialize, Serialize};
use vellum_sdk::storage::{Item, Map};
use vellum_sdk::{Ctx, Event, StdError, entry_point};

const NOTE: Item<String> = Item::new("note");
const NUMBERS: Map<u64, String> = Map::new("numbers");

/// Execute messages.
#[derive(Deserialize, Serialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum ExecuteMsg {
    /// Panics with this message.
    Panic { message: String },
    /// Returns `Env` as JSON.
    Env {},
    /// Saves, then optionally removes, the note.
    Note { text: String, remove: bool },
    /// Stores `n -> text` for each n.
    Numbers { values: Vec<u64> },
    /// Writes a debug line and emits an event.
    Log { line: String },
}

/// Query messages.
#[derive(Deserialize, Serialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum QueryMsg {
    /// SHA-256 of `data` (hex of its UTF-8 bytes), computed by the host.
    Sha256 { data: String },
    /// secp256k1 verification by the host.
    Verify {
        digest: String,
        signature: String,
        public_key: String,
    },
    /// The note, if any.
    Note {},
    /// Numbers after `start_after`, at most `limit`.
    Numbers {
        start_after: Option<u64>,
        limit: u32,
    },
}

#[entry_point]
pub fn instantiate(_ctx: &mut Ctx, _msg: serde_json::Value) -> Result<(), StdError> {
    Ok(())
}

#[entry_point]
pub fn execute(ctx: &mut Ctx, msg: ExecuteMsg) -> Result<serde_json::Value, StdError> {
    use serde_json::json;
    Ok(match msg {
        ExecuteMsg::Panic { message } => panic!("{message}"),
        ExecuteMsg::Env {} => json!({
            "caller": ctx.env.caller,
            "contract": ctx.env.contract,
            "block_height": ctx.env.block_height,
            "block_time_ms": ctx.env.block_time_ms,
            "tx_hash": ctx.env.tx_hash_hex(),
        }),
        ExecuteMsg::Note { text, remove } => {
            NOTE.save(&text)?;
            if remove {
                NOTE.remove();
            }
            json!(NOTE.may_load()?)
        }
        ExecuteMsg::Numbers { values } => {
            for v in &values {
                NUMBERS.save(v, &format!("n{v}"))?;
            }
            json!(values.len())
        }
        ExecuteMsg::Log { line } => {
            ctx.debug(&line);
            ctx.emit(Event::new("logged").attr("line", line));
            json!(null)
        }
    })
}

#[entry_point]
pub fn query(_ctx: &Ctx, msg: QueryMsg) -> Result<serde_json::Value, String> {
    use serde_json::json;
    Ok(match msg {
        QueryMsg::Sha256 { data } => {
            json!(vellum_sdk::hex_encode(&vellum_sdk::sha256(data.as_bytes())))
        }
        QueryMsg::Verify {
            digest,
            signature,
            public_key,
        } => {
            let digest = vellum_sdk::hex_decode::<32>(&digest).ok_or("digest")?;
            let signature = vellum_sdk::hex_decode::<64>(&signature).ok_or("signature")?;
            let key = vellum_sdk::hex_decode::<33>(&public_key).ok_or("public_key")?;
            json!(vellum_sdk::secp256k1_verify(&digest, &signature, &key))
        }
        QueryMsg::Note {} => json!(NOTE.may_load().map_err(|e| e.to_string())?),
        QueryMsg::Numbers { start_after, limit } => {
            let page = NUMBERS
                .range(start_after.as_ref(), limit)
                .map_err(|e| e.to_string())?;
            json!(page)
        }
    })
}
