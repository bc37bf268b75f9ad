//! The smallest useful Vellum contract: a counter anyone can increment and its creator can reset.

use serde::{Deserialize, Serialize};
use vellum_sdk::storage::Item;
use vellum_sdk::{Address, Ctx, Event, StdError, entry_point};

const COUNT: Item<u64> = Item::new("count");
const OWNER: Item<Address> = Item::new("owner");

/// `{"count": n}` (optional, default 0).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct InstantiateMsg {
    #[serde(default)]
    pub count: u64,
}

/// Execute messages.
#[derive(Deserialize, Serialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecuteMsg {
    /// Adds one.
    Increment {},
    /// Sets the count (creator only).
    Reset { count: u64 },
}

/// Query messages.
#[derive(Deserialize, Serialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QueryMsg {
    /// `{"count": n}`.
    Count {},
}

/// Answer of `count`, `increment` and `reset`.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct CountResponse {
    pub count: u64,
}

#[entry_point]
pub fn instantiate(ctx: &mut Ctx, msg: InstantiateMsg) -> Result<CountResponse, StdError> {
    COUNT.save(&msg.count)?;
    OWNER.save(&ctx.env.caller)?;
    Ok(CountResponse { count: msg.count })
}

#[entry_point]
pub fn execute(ctx: &mut Ctx, msg: ExecuteMsg) -> Result<CountResponse, String> {
    let count = match msg {
        ExecuteMsg::Increment {} => COUNT.load().map_err(|e| e.to_string())? + 1,
        ExecuteMsg::Reset { count } => {
            if OWNER.load().map_err(|e| e.to_string())? != ctx.env.caller {
                return Err("only the creator may reset the counter".into());
            }
            count
        }
    };
    COUNT.save(&count).map_err(|e| e.to_string())?;
    ctx.emit(Event::new("count").attr("count", count.to_string()));
    Ok(CountResponse { count })
}

#[entry_point]
pub fn query(_ctx: &Ctx, msg: QueryMsg) -> Result<CountResponse, StdError> {
    match msg {
        QueryMsg::Count {} => Ok(CountResponse {
            count: COUNT.load()?,
        }),
    }
}
