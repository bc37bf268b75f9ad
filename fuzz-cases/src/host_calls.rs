//! Every host function fed arbitrary pointers, lengths and counts from a real guest.
//!
//! One guest module, generated from the ABI table (`vellum_abi::HOST_FUNCTIONS`) so that a new
//! host function is covered without touching this file, imports every host function and
//! interprets its call message as a program: each op names a host function, a repeat count and
//! that function's arguments; a few extra ops grow memory, copy literal bytes into memory, fold
//! the results into an output, or return a chosen code. The fuzzer's bytes are turned into such
//! a program (with arguments biased towards the interesting places: inside, at and past the
//! edge of memory, near `u32::MAX`, at and around every ABI limit) plus a pre-existing storage,
//! an `Env`, an entry point and a fuel limit, and the call runs through the real runtime
//! (`Runtime::call`: executor, host functions, limiter, fuel).
//!
//! Guarded: the call always ends in a typed `Outcome` (success or `Failure`), never a host
//! error (`RuntimeError`) and never a panic; fuel used is within the limit; a query writes and
//! emits nothing; a success respects every ABI limit (output size, events and their shape,
//! write count, key and value sizes, writes in key order); the same call gives the same outcome
//! again.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use arbitrary::{Result, Unstructured};
use vellum_abi::limits::*;
use vellum_abi::{HOST_FUNCTIONS, ValType};
use vellum_runtime::{Call, CodeHash, EntryPoint, Env, MemoryState, Outcome};

/// Bytes of one wasm page: the guest starts with one.
pub const PAGE: u32 = 65_536;
/// Where the generator puts literal bytes and points arguments: the upper half of the first
/// page (the program itself is copied to offset 0).
pub const SCRATCH: u32 = PAGE / 2;
/// The largest program the generator emits (it must fit below [`SCRATCH`]).
pub const PROGRAM_MAX: usize = SCRATCH as usize - 1024;

/// Extra ops after the host functions (opcode `HOST_FUNCTIONS.len() + i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Special {
    /// `memory.grow(pages: i32)`, the result folded into the accumulator.
    Grow = 0,
    /// `memory.copy(dst: i32, <literal>, len: u16)`: literal bytes follow in the program.
    Poke = 1,
    /// `return code: i32` from the entry point.
    Return = 2,
    /// Stores the accumulator (8 bytes) at `dst: i32` and passes it to `output_write`.
    AccOut = 3,
}

const SPECIALS: u8 = 4;

fn opcode_of(name: &str) -> u8 {
    HOST_FUNCTIONS
        .iter()
        .position(|f| f.name == name)
        .unwrap_or_else(|| panic!("no host function `{name}` in the ABI table")) as u8
}

fn special(s: Special) -> u8 {
    HOST_FUNCTIONS.len() as u8 + s as u8
}

fn wat_type(t: ValType) -> &'static str {
    match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
    }
}

fn size_of(t: ValType) -> u32 {
    match t {
        ValType::I32 => 4,
        ValType::I64 => 8,
    }
}

/// The interpreter guest, as WAT text generated from the ABI table.
pub fn guest_wat() -> String {
    let mut w = String::from("(module\n");
    for (k, f) in HOST_FUNCTIONS.iter().enumerate() {
        let params: Vec<&str> = f.params.iter().map(|t| wat_type(*t)).collect();
        let results: Vec<&str> = f.results.iter().map(|t| wat_type(*t)).collect();
        let _ = writeln!(
            w,
            "  (import \"{}\" \"{}\" (func $h{k} (param {}) (result {})))",
            vellum_abi::IMPORT_MODULE,
            f.name,
            params.join(" "),
            results.join(" ")
        );
    }
    let output_write = opcode_of("output_write");
    let input_len = opcode_of("input_len");
    let input_read = opcode_of("input_read");
    w.push_str(
        "  (memory (export \"memory\") 1)\n\
         (global $acc (mut i64) (i64.const 0))\n\
         (func (export \"vellum_abi_v1\"))\n\
         (func (export \"instantiate\") (result i32) (call $run))\n\
         (func (export \"execute\") (result i32) (call $run))\n\
         (func (export \"query\") (result i32) (call $run))\n\
         (func $mix (param $v i64)\n\
           (global.set $acc (i64.add (i64.mul (global.get $acc) (i64.const 1000003)) (local.get $v))))\n",
    );
    // One function per host function: `$op_k(pc, end) -> new pc`, or -1 when the program ends
    // inside the op. Layout after the opcode: repeat count (u8), then the arguments.
    for (k, f) in HOST_FUNCTIONS.iter().enumerate() {
        let need: u32 = 1 + f.params.iter().map(|t| size_of(*t)).sum::<u32>();
        let _ = writeln!(
            w,
            "  (func $op{k} (param $pc i32) (param $end i32) (result i32) (local $rep i32) (local $i i32)"
        );
        for (j, t) in f.params.iter().enumerate() {
            let _ = writeln!(w, "    (local $a{j} {})", wat_type(*t));
        }
        let _ = writeln!(
            w,
            "    (if (i32.gt_u (i32.add (local.get $pc) (i32.const {need})) (local.get $end)) (then (return (i32.const -1))))\n\
             (local.set $rep (i32.load8_u (local.get $pc)))"
        );
        let mut off = 1;
        for (j, t) in f.params.iter().enumerate() {
            let ty = wat_type(*t);
            let _ = writeln!(
                w,
                "    (local.set $a{j} ({ty}.load offset={off} (local.get $pc)))"
            );
            off += size_of(*t);
        }
        // Repetition j adds j to the first argument (distinct keys, moving pointers).
        let args: Vec<String> = f
            .params
            .iter()
            .enumerate()
            .map(|(j, t)| match (j, t) {
                (0, ValType::I32) => "(i32.add (local.get $a0) (local.get $i))".to_string(),
                (0, ValType::I64) => {
                    "(i64.add (local.get $a0) (i64.extend_i32_u (local.get $i)))".to_string()
                }
                _ => format!("(local.get $a{j})"),
            })
            .collect();
        let call = format!("(call $h{k} {})", args.join(" "));
        let call = match f.results.first() {
            None => call,
            Some(ValType::I32) => format!("(call $mix (i64.extend_i32_u {call}))"),
            Some(ValType::I64) => format!("(call $mix {call})"),
        };
        let _ = writeln!(
            w,
            "    (loop $l\n\
               {call}\n\
               (local.set $i (i32.add (local.get $i) (i32.const 1)))\n\
               (br_if $l (i32.lt_u (local.get $i) (local.get $rep))))\n\
             (i32.add (local.get $pc) (i32.const {need})))"
        );
    }
    let grow = special(Special::Grow);
    let poke = special(Special::Poke);
    let ret = special(Special::Return);
    let acc_out = special(Special::AccOut);
    let _ = writeln!(
        w,
        "  (func $run (result i32) (local $pc i32) (local $end i32) (local $op i32) (local $len i32)\n\
           (local.set $end (call $h{input_len}))\n\
           (call $h{input_read} (i32.const 0))\n\
           (block $done\n\
             (loop $next\n\
               (br_if $done (i32.ge_u (local.get $pc) (local.get $end)))\n\
               (local.set $op (i32.load8_u (local.get $pc)))\n\
               (local.set $pc (i32.add (local.get $pc) (i32.const 1)))"
    );
    for k in 0..HOST_FUNCTIONS.len() {
        let _ = writeln!(
            w,
            "      (if (i32.eq (local.get $op) (i32.const {k})) (then (local.set $pc (call $op{k} (local.get $pc) (local.get $end)))))"
        );
    }
    let _ = writeln!(
        w,
        "      (if (i32.eq (local.get $op) (i32.const {grow})) (then\n\
             (br_if $done (i32.gt_u (i32.add (local.get $pc) (i32.const 5)) (local.get $end)))\n\
             (call $mix (i64.extend_i32_s (memory.grow (i32.load offset=1 (local.get $pc)))))\n\
             (local.set $pc (i32.add (local.get $pc) (i32.const 5)))))\n\
         (if (i32.eq (local.get $op) (i32.const {poke})) (then\n\
             (br_if $done (i32.gt_u (i32.add (local.get $pc) (i32.const 7)) (local.get $end)))\n\
             (local.set $len (i32.load16_u offset=5 (local.get $pc)))\n\
             (br_if $done (i32.gt_u (i32.add (i32.add (local.get $pc) (i32.const 7)) (local.get $len)) (local.get $end)))\n\
             (memory.copy (i32.load offset=1 (local.get $pc)) (i32.add (local.get $pc) (i32.const 7)) (local.get $len))\n\
             (local.set $pc (i32.add (i32.add (local.get $pc) (i32.const 7)) (local.get $len)))))\n\
         (if (i32.eq (local.get $op) (i32.const {ret})) (then\n\
             (br_if $done (i32.gt_u (i32.add (local.get $pc) (i32.const 5)) (local.get $end)))\n\
             (return (i32.load offset=1 (local.get $pc)))))\n\
         (if (i32.eq (local.get $op) (i32.const {acc_out})) (then\n\
             (br_if $done (i32.gt_u (i32.add (local.get $pc) (i32.const 5)) (local.get $end)))\n\
             (i64.store (i32.load offset=1 (local.get $pc)) (global.get $acc))\n\
             (call $h{output_write} (i32.load offset=1 (local.get $pc)) (i32.const 8))\n\
             (local.set $pc (i32.add (local.get $pc) (i32.const 5)))))\n\
         (br_if $done (i32.lt_s (local.get $pc) (i32.const 0)))\n\
         (br_if $done (i32.ge_u (local.get $op) (i32.const {})))\n\
         (br $next)))\n\
       (i32.const 0))\n\
     )",
        HOST_FUNCTIONS.len() as u8 + SPECIALS
    );
    w
}

/// The guest's wasm bytes.
pub fn guest_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| wat::parse_str(guest_wat()).expect("the generated guest is valid WAT"))
}

fn guest() -> CodeHash {
    static HASH: OnceLock<CodeHash> = OnceLock::new();
    *HASH.get_or_init(|| {
        crate::wasm_module::runtime()
            .deploy(guest_wasm())
            .expect("the generated guest deploys")
    })
}

/// Builds programs for the guest.
#[derive(Debug, Default, Clone)]
pub struct Program(pub Vec<u8>);

impl Program {
    /// Calls host function `name` `max(rep, 1)` times with `args` (the first argument grows by
    /// one on each repetition).
    pub fn call(&mut self, name: &str, rep: u8, args: &[u64]) -> &mut Self {
        let k = opcode_of(name);
        let f = &HOST_FUNCTIONS[k as usize];
        assert_eq!(args.len(), f.params.len(), "arguments of {name}");
        self.0.push(k);
        self.0.push(rep);
        for (a, t) in args.iter().zip(f.params) {
            match t {
                ValType::I32 => self.0.extend_from_slice(&(*a as u32).to_le_bytes()),
                ValType::I64 => self.0.extend_from_slice(&a.to_le_bytes()),
            }
        }
        self
    }

    /// Copies `bytes` (at most 65,535) to `dst`.
    pub fn poke(&mut self, dst: u32, bytes: &[u8]) -> &mut Self {
        let bytes = &bytes[..bytes.len().min(u16::MAX as usize)];
        self.0.extend_from_slice(&[special(Special::Poke), 0]);
        self.0.extend_from_slice(&dst.to_le_bytes());
        self.0
            .extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// `memory.grow(pages)`.
    pub fn grow(&mut self, pages: u32) -> &mut Self {
        self.0.extend_from_slice(&[special(Special::Grow), 0]);
        self.0.extend_from_slice(&pages.to_le_bytes());
        self
    }

    /// Returns `code` from the entry point.
    pub fn ret(&mut self, code: i32) -> &mut Self {
        self.0.extend_from_slice(&[special(Special::Return), 0]);
        self.0.extend_from_slice(&code.to_le_bytes());
        self
    }

    /// Writes the accumulated host-function results as the call's output (through `dst`).
    pub fn acc_out(&mut self, dst: u32) -> &mut Self {
        self.0.extend_from_slice(&[special(Special::AccOut), 0]);
        self.0.extend_from_slice(&dst.to_le_bytes());
        self
    }
}

/// One call to run: everything the target decides from the fuzzer's bytes.
#[derive(Debug, Clone)]
pub struct Case {
    /// Entry point.
    pub entry: EntryPoint,
    /// Fuel limit.
    pub fuel: u64,
    /// Context.
    pub env: Env,
    /// Storage before the call.
    pub storage: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The guest's program (its call message).
    pub program: Program,
}

/// Key bytes from a small alphabet with the edge values, so that keys collide and ranges meet.
const ALPHABET: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, b'a', b'b'];

fn key(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let len = u.int_in_range(0..=4)?;
    (0..len)
        .map(|_| Ok(ALPHABET[u.int_in_range(0..=7)?]))
        .collect()
}

/// The ABI's limits, where off-by-one mistakes would live.
const LIMITS: [u32; 14] = [
    KEY_BYTES_MAX as u32,
    VALUE_BYTES_MAX as u32,
    OUTPUT_BYTES_MAX as u32,
    MESSAGE_BYTES_MAX as u32,
    EVENT_BYTES_MAX as u32,
    SCAN_ENTRIES_MAX,
    SCAN_BYTES_MAX as u32,
    EVENT_TYPE_BYTES_MAX as u32,
    EVENT_ATTRIBUTES_MAX as u32,
    20,
    32,
    33,
    64,
    65,
];

/// Eight scratch slots of 2 KiB where literals go and pointers point.
fn slot(u: &mut Unstructured<'_>) -> Result<u32> {
    Ok(SCRATCH + 2048 * u.int_in_range(0..=7)?)
}

/// An i32 argument: a pointer or a length, biased towards the places where bounds checks can
/// be wrong.
fn word(u: &mut Unstructured<'_>) -> Result<u32> {
    Ok(match u.int_in_range(0..=9)? {
        0 => 0,
        1 => u.int_in_range(0..=64)?,
        2 => SCRATCH + u.int_in_range(0..=SCRATCH - 1)?,
        3 => PAGE - u.int_in_range(0..=64)?,
        4 => PAGE + u.int_in_range(0..=64)?,
        5 => u32::MAX - u.int_in_range(0..=64)?,
        6 => {
            let l = LIMITS[u.int_in_range(0..=LIMITS.len() - 1)?];
            l.wrapping_add(u.int_in_range(0..=2)?).wrapping_sub(1)
        }
        7 => slot(u)?,
        _ => u.arbitrary()?,
    })
}

/// Up to `len` bytes: fewer when the input runs out.
fn take(u: &mut Unstructured<'_>, len: usize) -> Result<Vec<u8>> {
    let n = len.min(u.len());
    Ok(u.bytes(n)?.to_vec())
}

fn repeat(u: &mut Unstructured<'_>) -> Result<u8> {
    Ok(if u.ratio(1, 6)? { u.arbitrary()? } else { 0 })
}

fn short_string(u: &mut Unstructured<'_>, choices: &[&str]) -> Result<String> {
    Ok(match u.int_in_range(0..=choices.len())? {
        i if i < choices.len() => choices[i].to_string(),
        _ => {
            let len = u.int_in_range(0..=80)?;
            String::from_utf8_lossy(&take(u, len)?).into_owned()
        }
    })
}

/// Literal bytes worth putting in memory: keys, event encodings (valid or nearly), raw bytes.
fn literal(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    Ok(match u.int_in_range(0..=3)? {
        0 => key(u)?,
        1 => {
            let ty = short_string(u, &["t", "", "access", &"x".repeat(65)])?;
            let n = if u.ratio(1, 10)? {
                EVENT_ATTRIBUTES_MAX + u.int_in_range(0..=1)?
            } else {
                u.int_in_range(0..=3)?
            };
            let mut attrs = Vec::new();
            for i in 0..n {
                let k = if n > 3 {
                    format!("k{i}")
                } else {
                    short_string(u, &["a", "b", ""])?
                };
                attrs.push((k, short_string(u, &["v", ""])?));
            }
            let refs: Vec<(&str, &str)> = attrs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut e = vellum_abi::codec::encode_event(&ty, &refs);
            if u.ratio(1, 8)? && !e.is_empty() {
                let i = u.int_in_range(0..=e.len() - 1)?;
                e[i] = u.arbitrary()?;
            }
            e
        }
        _ => {
            let len = u.int_in_range(0..=300)?;
            take(u, len)?
        }
    })
}

/// A digest, a low-S signature over it and the signer's compressed and uncompressed keys.
type SignatureFixture = ([u8; 32], [u8; 64], Vec<u8>, Vec<u8>);

fn signature_fixture() -> &'static SignatureFixture {
    static F: OnceLock<SignatureFixture> = OnceLock::new();
    F.get_or_init(|| {
        use k256::ecdsa::signature::hazmat::PrehashSigner;
        let key = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("a valid scalar");
        let digest = [0x5a; 32];
        let sig: k256::ecdsa::Signature = key.sign_prehash(&digest).expect("signing a digest");
        let sig = sig.normalize_s();
        let vk = key.verifying_key();
        (
            digest,
            sig.to_bytes().into(),
            vk.to_sec1_point(true).as_bytes().to_vec(),
            vk.to_sec1_point(false).as_bytes().to_vec(),
        )
    })
}

fn fn_name(u: &mut Unstructured<'_>) -> Result<&'static str> {
    Ok(HOST_FUNCTIONS[u.int_in_range(0..=HOST_FUNCTIONS.len() - 1)?].name)
}

/// One step of the program: a raw op, or a recipe that puts literals in memory and calls a
/// host function on them.
fn step(u: &mut Unstructured<'_>, p: &mut Program) -> Result<()> {
    match u.int_in_range(0..=11)? {
        0..=2 => {
            let name = fn_name(u)?;
            let f = vellum_abi::host_function(name).expect("a name from the table");
            let rep = repeat(u)?;
            let args = f
                .params
                .iter()
                .map(|t| match t {
                    ValType::I32 => word(u).map(u64::from),
                    ValType::I64 => u.arbitrary(),
                })
                .collect::<Result<Vec<u64>>>()?;
            p.call(name, rep, &args);
        }
        3 => {
            let bytes = literal(u)?;
            let dst = word(u)?;
            p.poke(dst, &bytes);
        }
        4 => {
            let (s, bytes) = (slot(u)?, literal(u)?);
            p.poke(s, &bytes);
            p.call("event_emit", repeat(u)?, &[s.into(), bytes.len() as u64]);
        }
        5 => {
            let (k, v) = (slot(u)?, slot(u)?);
            let key = key(u)?;
            let value_len = if u.ratio(1, 8)? {
                word(u)?
            } else {
                u.int_in_range(0..=64)?
            };
            p.poke(k, &key);
            let name = if u.ratio(1, 4)? {
                "storage_remove"
            } else {
                "storage_write"
            };
            if name == "storage_write" {
                p.call(
                    name,
                    repeat(u)?,
                    &[k.into(), key.len() as u64, v.into(), value_len.into()],
                );
            } else {
                p.call(name, repeat(u)?, &[k.into(), key.len() as u64]);
            }
        }
        6 => {
            let (k, dst) = (slot(u)?, slot(u)?);
            let key = key(u)?;
            p.poke(k, &key);
            let cap = word(u)?;
            p.call(
                "storage_read",
                repeat(u)?,
                &[k.into(), key.len() as u64, dst.into(), cap.into()],
            );
        }
        7 => {
            let (s, e, dst) = (slot(u)?, slot(u)?, slot(u)?);
            let (start, end) = (key(u)?, key(u)?);
            p.poke(s, &start).poke(e, &end);
            let limit = if u.ratio(1, 2)? {
                u.int_in_range(0..=8)?
            } else {
                word(u)?
            };
            let cap = word(u)?;
            p.call(
                "storage_scan",
                repeat(u)?,
                &[
                    s.into(),
                    start.len() as u64,
                    e.into(),
                    end.len() as u64,
                    limit.into(),
                    dst.into(),
                    cap.into(),
                ],
            );
        }
        8 => {
            let (digest, sig, compressed, uncompressed) = signature_fixture();
            let s = slot(u)?;
            let mut bytes = [&digest[..], &sig[..]].concat();
            bytes.extend_from_slice(if u.ratio(1, 2)? {
                compressed
            } else {
                uncompressed
            });
            if u.ratio(1, 4)? {
                let i = u.int_in_range(0..=bytes.len() - 1)?;
                bytes[i] ^= 1 << u.int_in_range(0..=7)?;
            }
            let key_len = if u.ratio(1, 4)? {
                word(u)?
            } else {
                bytes.len() as u32 - 96
            };
            p.poke(s, &bytes);
            p.call(
                "secp256k1_verify",
                repeat(u)?,
                &[s.into(), (s + 32).into(), (s + 96).into(), key_len.into()],
            );
        }
        9 => {
            let pages = if u.ratio(1, 2)? {
                u.int_in_range(0..=300)?
            } else {
                word(u)?
            };
            p.grow(pages);
        }
        10 => {
            let s = slot(u)?;
            let bytes = literal(u)?;
            p.poke(s, &bytes);
            p.call("output_write", 0, &[s.into(), bytes.len() as u64]);
            if u.ratio(1, 2)? {
                p.ret(u.int_in_range(-1..=2)?);
            }
        }
        _ => {
            p.acc_out(word(u)?);
        }
    }
    Ok(())
}

impl Case {
    /// Decodes a case from fuzzer bytes (never fails: missing bytes read as zeros).
    pub fn generate(u: &mut Unstructured<'_>) -> Result<Self> {
        let entry = match u.int_in_range(0..=2)? {
            0 => EntryPoint::Instantiate,
            1 => EntryPoint::Execute,
            _ => EntryPoint::Query,
        };
        let fuel = match u.int_in_range(0..=3)? {
            0 => u.int_in_range(0..=20_000)?,
            1 => 1_000_000,
            _ => 200_000_000,
        };
        let env = Env {
            contract: u.arbitrary()?,
            caller: u.arbitrary()?,
            block_height: u.arbitrary()?,
            block_time_ms: u.arbitrary()?,
            tx_hash: u.arbitrary()?,
        };
        let mut storage = BTreeMap::new();
        for _ in 0..u.int_in_range(0..=6)? {
            let k = key(u)?;
            let v = if u.ratio(1, 10)? {
                let len = [1024, 40_000, VALUE_BYTES_MAX][u.int_in_range(0..=2)?];
                vec![u.arbitrary::<u8>()?; len]
            } else {
                let len = u.int_in_range(0..=64)?;
                take(u, len)?
            };
            storage.insert(k, v);
        }
        let mut program = Program::default();
        while !u.is_empty() && program.0.len() < PROGRAM_MAX {
            let before = program.0.len();
            // A step that runs out of input is dropped; the program so far still runs.
            if step(u, &mut program).is_err() || program.0.len() > PROGRAM_MAX {
                program.0.truncate(before);
                break;
            }
        }
        Ok(Self {
            entry,
            fuel,
            env,
            storage,
            program,
        })
    }

    /// Runs the case through the runtime and checks every guarded property. Returns the
    /// outcome.
    pub fn check(&self) -> Outcome {
        let rt = crate::wasm_module::runtime();
        let code_hash = guest();
        let state = Arc::new(MemoryState {
            storage: self.storage.clone(),
            codes: BTreeMap::new(),
        });
        let call = Call {
            code_hash,
            entry: self.entry,
            msg: self.program.0.clone(),
            env: self.env,
            fuel_limit: self.fuel,
        };
        let outcome = rt
            .call(call.clone(), state.clone())
            .unwrap_or_else(|e| panic!("host error, not a typed outcome: {e}"));
        assert!(
            outcome.fuel_used <= self.fuel,
            "used {} fuel of {}",
            outcome.fuel_used,
            self.fuel
        );
        if let Ok(s) = &outcome.result {
            if self.entry == EntryPoint::Query {
                assert!(s.writes.is_empty(), "a query wrote");
                assert!(s.events.is_empty(), "a query emitted");
            }
            assert!(s.output.len() <= OUTPUT_BYTES_MAX);
            assert!(s.events.len() <= EVENTS_PER_CALL_MAX);
            for e in &s.events {
                assert!(
                    !e.ty.is_empty() && e.ty.len() <= EVENT_TYPE_BYTES_MAX,
                    "{e:?}"
                );
                assert!(e.attributes.len() <= EVENT_ATTRIBUTES_MAX, "{e:?}");
                for (i, (k, _)) in e.attributes.iter().enumerate() {
                    assert!(!k.is_empty(), "{e:?}");
                    assert!(e.attributes[..i].iter().all(|(o, _)| o != k), "{e:?}");
                }
            }
            assert!(s.writes.len() <= WRITES_PER_CALL_MAX);
            let mut bytes = 0;
            for (i, w) in s.writes.iter().enumerate() {
                assert!(w.key.len() <= KEY_BYTES_MAX);
                assert!(w.value.as_ref().is_none_or(|v| v.len() <= VALUE_BYTES_MAX));
                assert!(i == 0 || s.writes[i - 1].key < w.key, "writes out of order");
                bytes += w.key.len() + w.value.as_ref().map_or(0, Vec::len);
            }
            assert!(bytes <= WRITE_BYTES_PER_CALL_MAX);
        }
        let again = rt
            .call(call, state)
            .unwrap_or_else(|e| panic!("host error on the second run: {e}"));
        assert_eq!(again, outcome, "the same call ended differently");
        outcome
    }
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    if let Ok(case) = Case::generate(&mut u) {
        case.check();
    }
}
