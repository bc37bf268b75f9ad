//! The short form of every fuzz target, on stable, in the README test command: each target runs
//! every stored input (`fuzz/regressions/<target>/`, inputs that once crashed it, and
//! `fuzz/seeds/<target>/`) and then inputs generated from a fixed seed: random bytes, and
//! mutations of valid inputs. `VELLUM_FUZZ_CASES=N` multiplies the generated counts by N for a
//! longer run without nightly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use k256::ecdsa::SigningKey;
use vellum_abi::HOST_FUNCTIONS;
use vellum_fuzz_cases::host_calls::{Case, Program, SCRATCH};
use vellum_fuzz_cases::{Rng, TARGETS, replay_and_generate};
use vellum_node::chain::tx::{Action, address_of_signing_key, payload_json, sign};
use vellum_runtime::{EntryPoint, Env, Failure};

fn scale() -> usize {
    std::env::var("VELLUM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

#[test]
fn every_fuzz_target_has_a_short_form_here() {
    // The list the `cargo fuzz` crate builds must be the list this file runs.
    let manifest =
        std::fs::read_to_string(vellum_fuzz_cases::fuzz_dir().join("Cargo.toml")).unwrap();
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} is not in fuzz/Cargo.toml"
        );
        assert!(
            vellum_fuzz_cases::fuzz_dir()
                .join(format!("fuzz_targets/{name}.rs"))
                .is_file(),
            "{name} has no fuzz_targets file"
        );
    }
    assert_eq!(manifest.matches("[[bin]]").count(), TARGETS.len());
}

#[test]
fn tx_envelope_short_form() {
    let n = replay_and_generate(
        "tx_envelope",
        vellum_fuzz_cases::tx_envelope::run,
        3_000 * scale(),
        400,
    );
    assert!(n >= 3_000);
    // Mutations of valid envelopes, as JSON and as the raw key || signature || payload form.
    let mut rng = Rng::new(1);
    let key = SigningKey::from_slice(&[3u8; 32]).unwrap();
    let msg = serde_json::value::to_raw_value(&serde_json::json!({ "register": { "id": "d1" } }))
        .unwrap();
    let action = Action::Execute {
        contract: "ab".repeat(20),
        msg,
    };
    let mut verified = 0;
    for nonce in 0..(200 * scale()) as u64 {
        let payload = payload_json(
            vellum_fuzz_cases::tx_envelope::CHAIN_ID,
            &address_of_signing_key(&key),
            nonce,
            None,
            &action,
        );
        let envelope = sign(&payload, &key);
        let json = serde_json::to_vec(&envelope).unwrap();
        vellum_fuzz_cases::tx_envelope::run(&json);
        let keys = vellum_node::chain::tx::KeyCache::default();
        if vellum_node::chain::tx::verify_envelope(envelope.clone(), "fuzz", &keys).is_ok() {
            verified += 1;
        }
        vellum_fuzz_cases::tx_envelope::run(&rng.mutate(&json));
        let raw = [
            hex::decode(&envelope.public_key).unwrap(),
            hex::decode(&envelope.signature).unwrap(),
            payload.into_bytes(),
        ]
        .concat();
        vellum_fuzz_cases::tx_envelope::run(&raw);
        vellum_fuzz_cases::tx_envelope::run(&rng.mutate(&raw));
    }
    // The seeds really are valid, so the mutations start from the verifying path.
    assert_eq!(verified, 200 * scale());
}

#[test]
fn abi_codecs_short_form() {
    replay_and_generate(
        "abi_codecs",
        vellum_fuzz_cases::abi_codecs::run,
        20_000 * scale(),
        200,
    );
    let mut rng = Rng::new(2);
    for i in 0..5_000 * scale() {
        let k = format!("k{i}");
        let valid = if i % 2 == 0 {
            vellum_abi::codec::encode_event("access", &[(&k, "v"), ("actor", "ab")])
        } else {
            vellum_abi::codec::encode_scan([(k.as_bytes(), &b"value"[..]), (&b""[..], &b""[..])])
        };
        vellum_fuzz_cases::abi_codecs::run(&valid);
        vellum_fuzz_cases::abi_codecs::run(&rng.mutate(&valid));
    }
}

#[test]
fn wasm_module_short_form() {
    replay_and_generate(
        "wasm_module",
        vellum_fuzz_cases::wasm_module::run,
        2_000 * scale(),
        300,
    );
    // Real contracts and the host-call guest, each run whole and then mutated: most mutations
    // fail validation, the rest compile and run.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bases = [
        vellum_fuzz_cases::host_calls::guest_wasm().to_vec(),
        vellum_testing::build_contract(root.join("contracts/counter")).unwrap(),
    ];
    let mut rng = Rng::new(3);
    let mut valid = 0;
    for base in &bases {
        vellum_fuzz_cases::wasm_module::run(base);
        for _ in 0..30 * scale() {
            let m = rng.mutate(base);
            if vellum_runtime::validate(&m).is_ok() {
                valid += 1;
            }
            vellum_fuzz_cases::wasm_module::run(&m);
        }
    }
    // Some mutants validate, so deploy and execution ran on more than the originals.
    assert!(valid > 0, "no mutant validated");
}

#[test]
fn host_calls_short_form() {
    let n = replay_and_generate(
        "host_calls",
        vellum_fuzz_cases::host_calls::run,
        4_000 * scale(),
        600,
    );
    assert!(n >= 4_000);
}

#[test]
fn store_model_short_form() {
    let n = replay_and_generate(
        "store_model",
        vellum_fuzz_cases::store_model::run,
        400 * scale(),
        800,
    );
    assert!(n >= 400);
}

#[test]
fn generated_programs_reach_every_host_function_and_every_outcome() {
    // The generator is what makes the host-call target mean something: over a few thousand
    // inputs it calls every host function, and calls end in success and in each kind of
    // failure the host functions can cause.
    let mut rng = Rng::new(4);
    let mut called = vec![false; HOST_FUNCTIONS.len()];
    let (mut ok, mut invalid, mut fuel, mut panic, mut trap) = (0, 0, 0, 0, 0);
    for _ in 0..3_000 {
        let len = rng.below(600);
        let bytes = rng.bytes(len);
        let case = Case::generate(&mut arbitrary::Unstructured::new(&bytes)).unwrap();
        let mut at = 0;
        let p = &case.program.0;
        // Walk the program's ops as the guest does.
        while at < p.len() {
            let op = p[at] as usize;
            at += 1;
            if let Some(f) = HOST_FUNCTIONS.get(op) {
                called[op] = true;
                at += 1 + f.params.len() * 4;
            } else if op == HOST_FUNCTIONS.len() + 1 && at + 7 <= p.len() {
                at += 7 + u16::from_le_bytes([p[at + 5], p[at + 6]]) as usize; // poke
            } else {
                at += 5;
            }
        }
        match case.check().result {
            Ok(_) => ok += 1,
            Err(Failure::InvalidHostCall(_)) => invalid += 1,
            Err(Failure::OutOfFuel) => fuel += 1,
            Err(Failure::Panic(_)) => panic += 1,
            Err(_) => trap += 1,
        }
    }
    for (f, c) in HOST_FUNCTIONS.iter().zip(&called) {
        assert!(c, "no generated program calls {}", f.name);
    }
    assert!(
        ok > 0 && invalid > 0 && fuel > 0 && panic > 0 && trap > 0,
        "{ok} {invalid} {fuel} {panic} {trap}"
    );
}

#[test]
fn the_guest_calls_every_host_function_correctly() {
    // A hand-written program through the interpreter guest with valid arguments: each host
    // function does its job, so the fuzz target is exercising the real paths.
    let s = SCRATCH;
    let mut p = Program::default();
    p.poke(s, b"k1").poke(s + 16, b"value").poke(s + 64, b"k2");
    p.call("storage_write", 0, &[s.into(), 2, (s + 16).into(), 5]);
    p.call(
        "storage_write",
        0,
        &[(s + 64).into(), 2, (s + 16).into(), 1],
    );
    p.call("storage_remove", 0, &[(s + 64).into(), 2]);
    p.call("storage_read", 0, &[s.into(), 2, (s + 128).into(), 64]);
    p.call(
        "storage_scan",
        0,
        &[s.into(), 0, 0, 0, 10, (s + 256).into(), 512],
    );
    let event = vellum_abi::codec::encode_event("access", &[("document_id", "d1")]);
    p.poke(s + 1024, &event);
    p.call("event_emit", 0, &[(s + 1024).into(), event.len() as u64]);
    p.call("input_len", 0, &[]);
    p.call("input_read", 0, &[(s + 4096).into()]);
    p.call("caller", 0, &[(s + 2048).into()]);
    p.call("contract_address", 0, &[(s + 2080).into()]);
    p.call("tx_hash", 0, &[(s + 2112).into()]);
    p.call("block_height", 0, &[]);
    p.call("block_time_ms", 0, &[]);
    p.call("sha256", 0, &[(s + 16).into(), 5, (s + 2200).into()]);
    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let digest = [0x5a; 32];
    use k256::ecdsa::signature::hazmat::PrehashSigner;
    let sig: k256::ecdsa::Signature = key.sign_prehash(&digest).unwrap();
    let pk = key.verifying_key().to_sec1_point(true).as_bytes().to_vec();
    p.poke(
        s + 3000,
        &[&digest[..], &sig.normalize_s().to_bytes()[..], &pk[..]].concat(),
    );
    p.call(
        "secp256k1_verify",
        0,
        &[(s + 3000).into(), (s + 3032).into(), (s + 3096).into(), 33],
    );
    p.call("debug_log", 0, &[(s + 16).into(), 5]);
    p.acc_out(s + 8000);
    let without_abort = p.clone();
    let case = |program: Program, entry| Case {
        entry,
        fuel: 100_000_000,
        env: Env {
            block_height: 9,
            ..Env::default()
        },
        storage: [(b"k0".to_vec(), b"old".to_vec())].into_iter().collect(),
        program,
    };
    let outcome = case(without_abort.clone(), EntryPoint::Execute).check();
    let success = outcome.result.expect("the program succeeds");
    let output = success.output.clone();
    let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = success
        .writes
        .into_iter()
        .map(|w| (w.key, w.value))
        .collect();
    assert_eq!(
        writes,
        vec![
            (b"k1".to_vec(), Some(b"value".to_vec())),
            (b"k2".to_vec(), None)
        ]
    );
    assert_eq!(success.events.len(), 1);
    assert_eq!(success.events[0].ty, "access");
    assert_eq!(success.output.len(), 8, "acc_out wrote the folded results");
    // The same program with one bit of the signature flipped folds a different result.
    let mut tampered = without_abort.clone();
    let at = tampered.0.windows(32).position(|w| w == digest).unwrap() + 40;
    tampered.0[at] ^= 1;
    let other = case(tampered, EntryPoint::Execute).check().result.unwrap();
    assert_ne!(other.output, output);
    // In a query the first write is refused.
    assert!(matches!(
        case(without_abort.clone(), EntryPoint::Query).check().result,
        Err(Failure::InvalidHostCall(m)) if m.contains("query")
    ));
    // abort ends the call with its message.
    let mut aborting = without_abort;
    aborting.call("abort", 0, &[(s + 16).into(), 5]);
    assert_eq!(
        case(aborting, EntryPoint::Execute).check().result,
        Err(Failure::Panic("value".into()))
    );
}

#[test]
fn every_pointer_argument_out_of_bounds_is_an_invalid_host_call() {
    // For each host function and each of its i32 arguments, a pointer at u32::MAX - 3 (the
    // others valid-ish small values) ends in InvalidHostCall or, for functions that ignore the
    // argument, success; never a host error (Case::check panics on those).
    for f in HOST_FUNCTIONS {
        for j in 0..f.params.len() {
            let mut args: Vec<u64> = vec![u64::from(SCRATCH); f.params.len()];
            args[j] = u64::from(u32::MAX - 3);
            let mut p = Program::default();
            p.call(f.name, 0, &args);
            let outcome = Case {
                entry: EntryPoint::Execute,
                fuel: 10_000_000,
                env: Env::default(),
                storage: Default::default(),
                program: p,
            }
            .check();
            match outcome.result {
                Err(Failure::InvalidHostCall(_)) | Ok(_) => {}
                // Lengths that large are refused as too long, also InvalidHostCall; abort cuts.
                Err(Failure::Panic(_)) if f.name == "abort" => {}
                other => panic!("{}({args:?}): {other:?}", f.name),
            }
        }
    }
}
