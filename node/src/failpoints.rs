//! Failpoints in the block commit path, for fault-injection tests (`docs/testing-faults.md`).
//!
//! Each point is a named place in [`crate::store::Store::commit`], the ledger's writer and
//! producer threads, or admission ([`POINTS`]). They are compiled only with the `failpoints` feature of
//! `vellum-node` (on top of the `fail` crate) and stay inert until configured, at run time, by
//! the environment variable [`ENV`]:
//!
//! ```text
//! VELLUM_FAILPOINTS='store.commit.before_commit=abort(3)'
//! VELLUM_FAILPOINTS='store.commit.after_state=error;ledger.write.before_acks=sleep(50)'
//! ```
//!
//! `NAME=ACTION` pairs are separated by `;`. The actions:
//!
//! - `abort` / `abort(N)`: on the N-th time the point is reached (default the first), print
//!   `vellum failpoint NAME: abort` to stderr and call [`std::process::abort`]: the process dies
//!   at once with SIGABRT, no unwinding, no destructor, no flush, as in a power cut after the
//!   last write the kernel accepted.
//! - `error` / `error(N)`: from the N-th time on, the point makes `Store::commit` return a
//!   [`crate::store::StoreError`] (only points inside `Store::commit` accept it): the write
//!   transaction is dropped (for points before redb's commit) and the pipeline halts.
//! - anything else is handed to [`fail::cfg`] as is (`sleep(MS)`, `panic`, `print`, `pause`,
//!   `off`, `P%`, `N*`, `->`; see the `fail` crate).
//!
//! Unknown names and malformed actions are refused, so a typo cannot make a test pass quietly.
//!
//! Without the feature, [`setup_from_env`] refuses a set `VELLUM_FAILPOINTS` (a binary that
//! cannot honour it says so instead of running without faults), and [`failpoint!`] expands to
//! nothing. With the feature and no configuration, each point costs one relaxed atomic load.

/// The environment variable that configures failpoints.
pub const ENV: &str = "VELLUM_FAILPOINTS";

/// One failpoint: its name, whether it can return an error, and where it is.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// The name used in [`ENV`].
    pub name: &'static str,
    /// Whether the `error` action applies (the point is inside `Store::commit`).
    pub can_error: bool,
    /// Where it is and what a block has reached there.
    pub doc: &'static str,
}

/// Every failpoint, in the order a transaction meets them.
pub const POINTS: &[Point] = &[
    Point {
        name: "ledger.admit.after_nonce_read",
        can_error: false,
        doc: "Ledger::admit (an HTTP thread): an account's committed nonce read from redb with the mempool's lock released, before the lock is taken again; no block involved",
    },
    Point {
        name: "execute.diverge",
        can_error: false,
        doc: "execute_block, before the header: with `return`, adds a state write no other node makes (a non-deterministic contract or a bug), so this node's state root leaves the cluster's",
    },
    Point {
        name: "ledger.produce.before_send",
        can_error: false,
        doc: "producer thread: block n+1 executed, before it is handed to the writer (block n may be mid-commit)",
    },
    Point {
        name: "store.commit.before_begin",
        can_error: true,
        doc: "Store::commit_blocks (the applier, after the blocks were acknowledged): before the redb write transaction opens",
    },
    Point {
        name: "store.commit.after_block_rows",
        can_error: true,
        doc: "Store::commit: header, hash index, tx list, tip, transactions, tx index and receipts inserted; no state yet",
    },
    Point {
        name: "store.commit.after_state",
        can_error: true,
        doc: "Store::commit: state writes inserted and removed; no event index yet",
    },
    Point {
        name: "store.commit.before_commit",
        can_error: true,
        doc: "Store::commit: everything inserted, just before redb's two-phase commit",
    },
    Point {
        name: "store.commit.after_commit",
        can_error: true,
        doc: "Store::commit: redb's commit returned (durable), before Store::commit returns",
    },
    Point {
        name: "ledger.write.after_commit",
        can_error: false,
        doc: "writer thread: the block's journal record flushed (the block is durable), before the tip moves and the receipts go out",
    },
    Point {
        name: "ledger.write.before_acks",
        can_error: false,
        doc: "writer thread: tip updated, before any receipt goes to a waiter",
    },
    Point {
        name: "ledger.write.after_acks",
        can_error: false,
        doc: "writer thread: every receipt of the block sent to its waiters, before the block is broadcast",
    },
];

/// The names of [`POINTS`].
pub fn names() -> impl Iterator<Item = &'static str> {
    POINTS.iter().map(|p| p.name)
}

/// Defines a failpoint: `failpoint!("name")`; `failpoint!("name", error)` in a function
/// returning `Result<_, StoreError>` (the `error` action returns an injected error); or
/// `failpoint!("name", |arg| value)` in a function returning `value`'s type (`return(arg)`).
#[macro_export]
#[doc(hidden)]
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        {
            if $crate::failpoints::active() {
                ::fail::fail_point!($name);
            }
        }
    };
    ($name:literal, error) => {
        #[cfg(feature = "failpoints")]
        {
            if $crate::failpoints::active() {
                ::fail::fail_point!($name, |_| Err($crate::failpoints::injected($name)));
            }
        }
    };
    ($name:literal, $e:expr) => {
        #[cfg(feature = "failpoints")]
        {
            if $crate::failpoints::active() {
                ::fail::fail_point!($name, $e);
            }
        }
    };
}

#[cfg(feature = "failpoints")]
static ACTIVE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether any failpoint has been configured (the fast path of [`failpoint!`]).
#[cfg(feature = "failpoints")]
#[doc(hidden)]
#[inline(always)]
pub fn active() -> bool {
    ACTIVE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether this build has failpoints compiled in.
pub const COMPILED: bool = cfg!(feature = "failpoints");

/// One parsed `NAME=ACTION` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Abort the process on the N-th hit.
    Abort(u64),
    /// Return an injected storage error from the N-th hit on.
    Error(u64),
    /// A `fail` crate action string.
    Fail(String),
}

/// Parses a `VELLUM_FAILPOINTS` value into `(point, action)` pairs.
pub fn parse(spec: &str) -> Result<Vec<(&'static Point, Action)>, String> {
    let mut out = Vec::new();
    for item in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, action) = item
            .split_once('=')
            .ok_or_else(|| format!("`{item}`: expected NAME=ACTION"))?;
        let (name, action) = (name.trim(), action.trim());
        let point = POINTS.iter().find(|p| p.name == name).ok_or_else(|| {
            format!(
                "unknown failpoint `{name}` (known: {})",
                names().collect::<Vec<_>>().join(", ")
            )
        })?;
        let counted = |word: &str| -> Result<Option<u64>, String> {
            if action == word {
                return Ok(Some(1));
            }
            match action
                .strip_prefix(word)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
            {
                Some(n) => match n.trim().parse::<u64>() {
                    Ok(n) if n >= 1 => Ok(Some(n)),
                    _ => Err(format!("`{item}`: {word}(N) needs N >= 1")),
                },
                None => Ok(None),
            }
        };
        let action = if let Some(n) = counted("abort")? {
            Action::Abort(n)
        } else if let Some(n) = counted("error")? {
            if !point.can_error {
                return Err(format!(
                    "`{item}`: `{name}` cannot return an error (only store.commit.* can)"
                ));
            }
            Action::Error(n)
        } else if action.is_empty() {
            return Err(format!("`{item}`: empty action"));
        } else {
            Action::Fail(action.to_string())
        };
        out.push((point, action));
    }
    Ok(out)
}

/// Configures failpoints from a `VELLUM_FAILPOINTS` value. Returns what was armed.
#[cfg(feature = "failpoints")]
pub fn configure(spec: &str) -> Result<Vec<String>, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let parsed = parse(spec)?;
    let mut armed = Vec::new();
    for (point, action) in parsed {
        let name = point.name;
        match &action {
            Action::Abort(n) => {
                let (n, hits) = (*n, AtomicU64::new(0));
                fail::cfg_callback(name, move || {
                    if hits.fetch_add(1, Ordering::SeqCst) + 1 >= n {
                        use std::io::Write as _;
                        let _ = writeln!(std::io::stderr(), "vellum failpoint {name}: abort");
                        std::process::abort();
                    }
                })?;
            }
            Action::Error(n) => {
                let actions = if *n == 1 {
                    "return".to_string()
                } else {
                    format!("{}*off->return", n - 1)
                };
                fail::cfg(name, &actions)?;
            }
            Action::Fail(actions) => fail::cfg(name, actions)?,
        }
        armed.push(format!("{name}={action:?}"));
    }
    if !armed.is_empty() {
        ACTIVE.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    Ok(armed)
}

/// Reads [`ENV`] and configures what it names. `Ok(empty)` when it is unset or empty. Without
/// the `failpoints` feature a non-empty value is an error.
pub fn setup_from_env() -> Result<Vec<String>, String> {
    match std::env::var(ENV) {
        Ok(s) => setup(&s),
        Err(std::env::VarError::NotPresent) => Ok(Vec::new()),
        Err(e) => Err(format!("{ENV}: {e}")),
    }
}

/// [`setup_from_env`] for a given value of [`ENV`].
pub fn setup(spec: &str) -> Result<Vec<String>, String> {
    if spec.trim().is_empty() {
        return Ok(Vec::new());
    }
    #[cfg(feature = "failpoints")]
    {
        configure(spec)
    }
    #[cfg(not(feature = "failpoints"))]
    {
        parse(spec)?;
        Err(format!(
            "{ENV} is set but this binary was built without failpoints \
             (build with `--features vellum-node/failpoints`)"
        ))
    }
}

/// Whether failpoint `name` fires now (its action is `return`, counted or not). For points that
/// change what happens rather than stop it (`execute.diverge`).
pub fn fires(name: &str) -> bool {
    #[cfg(feature = "failpoints")]
    {
        active() && fail::eval(name, |_| ()).is_some()
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
        false
    }
}

/// The error the `error` action makes `Store::commit` return.
#[cfg(feature = "failpoints")]
#[doc(hidden)]
pub fn injected(name: &str) -> crate::store::StoreError {
    crate::store::StoreError::Redb(format!("injected fault at failpoint {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_actions_and_refuses_typos() {
        let p =
            parse("store.commit.before_commit=abort(3); ledger.write.before_acks=abort").unwrap();
        assert_eq!(p[0].0.name, "store.commit.before_commit");
        assert_eq!(p[0].1, Action::Abort(3));
        assert_eq!(p[1].1, Action::Abort(1));
        let p = parse("store.commit.after_state=error(2)").unwrap();
        assert_eq!(p[0].1, Action::Error(2));
        let p = parse("store.commit.after_state=sleep(5)").unwrap();
        assert_eq!(p[0].1, Action::Fail("sleep(5)".into()));
        assert!(parse("store.commit.befor_commit=abort").is_err());
        assert!(parse("store.commit.before_commit").is_err());
        assert!(parse("store.commit.before_commit=abort(0)").is_err());
        assert!(parse("store.commit.before_commit=abort(x)").is_err());
        assert!(parse("ledger.write.before_acks=error").is_err());
        assert!(parse("store.commit.before_commit=").is_err());
        assert!(parse("").unwrap().is_empty());
    }

    /// Runs only where the feature is off: `cargo test --release -p vellum-node --lib` (the
    /// workspace's test build turns the feature on through the e2e crate).
    #[cfg(not(feature = "failpoints"))]
    #[test]
    fn without_the_feature_a_configuration_is_refused() {
        let e = setup("store.commit.before_commit=abort").unwrap_err();
        assert!(e.contains("built without failpoints"), "{e}");
        assert!(setup("").unwrap().is_empty());
        assert!(
            setup("nonsense=abort")
                .unwrap_err()
                .contains("unknown failpoint")
        );
    }

    #[test]
    fn every_point_is_in_the_source() {
        // A point listed but never placed would make its fault test pass without a fault.
        let sources: String = [
            include_str!("store.rs"),
            include_str!("ledger.rs"),
            include_str!("execute.rs"),
        ]
        .concat()
        .split_whitespace()
        .collect();
        for name in names() {
            assert!(
                sources.contains(&format!("failpoint!(\"{name}\""))
                    || sources.contains(&format!("fires(\"{name}\")")),
                "{name} is not placed"
            );
        }
    }
}
