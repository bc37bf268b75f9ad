//! The ABI is defined once: the runtime's linker registers exactly the host functions of
//! `vellum_abi::HOST_FUNCTIONS`, with the same signatures, and validation accepts exactly those
//! imports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use vellum_abi::{HOST_FUNCTIONS, IMPORT_MODULE, ValType};
use vellum_runtime::{Runtime, RuntimeConfig, RuntimeError, ValidationError, validate};

fn wat_type(t: &ValType) -> &'static str {
    match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
    }
}

fn module_importing(imports: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module {imports}
            (memory (export "memory") 1)
            (func (export "vellum_abi_v1"))
            (func (export "instantiate") (result i32) i32.const 0)
            (func (export "execute") (result i32) i32.const 0)
            (func (export "query") (result i32) i32.const 0))"#
    ))
    .unwrap()
}

fn import_of(name: &str, params: &[ValType], results: &[ValType]) -> String {
    let p: Vec<_> = params.iter().map(wat_type).collect();
    let r: Vec<_> = results.iter().map(wat_type).collect();
    format!(
        r#"(import "{IMPORT_MODULE}" "{name}" (func (param {}) (result {})))"#,
        p.join(" "),
        r.join(" ")
    )
}

#[test]
fn the_linker_registers_exactly_the_abi_table() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut registered = runtime.registered_imports();
    registered.sort_by(|a, b| a.1.cmp(&b.1));
    let mut expected: Vec<_> = HOST_FUNCTIONS
        .iter()
        .map(|f| {
            (
                IMPORT_MODULE.to_string(),
                f.name.to_string(),
                f.params.to_vec(),
                f.results.to_vec(),
            )
        })
        .collect();
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(registered, expected);
    assert!(HOST_FUNCTIONS.len() >= 17);
}

#[test]
fn a_module_importing_every_host_function_deploys() {
    let imports: String = HOST_FUNCTIONS
        .iter()
        .map(|f| import_of(f.name, f.params, f.results))
        .collect();
    let wasm = module_importing(&imports);
    validate(&wasm).unwrap();
    Runtime::new(RuntimeConfig::default())
        .unwrap()
        .deploy(&wasm)
        .unwrap();
}

#[test]
fn every_host_function_with_a_wrong_signature_is_refused() {
    for f in HOST_FUNCTIONS {
        let mut params = f.params.to_vec();
        params.push(ValType::I32);
        let wasm = module_importing(&import_of(f.name, &params, f.results));
        assert_eq!(
            validate(&wasm),
            Err(ValidationError::ImportSignature(f.name.into())),
            "{}",
            f.name
        );
    }
}

#[test]
fn imports_outside_the_table_are_refused_at_deploy() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    for (module, name) in [
        ("vellum", "fs_read"),
        ("env", "storage_read"),
        ("wasi_snapshot_preview1", "fd_write"),
    ] {
        let wasm = module_importing(&format!(r#"(import "{module}" "{name}" (func))"#));
        match runtime.deploy(&wasm) {
            Err(RuntimeError::Validation(ValidationError::UnknownImport {
                module: m,
                name: n,
            })) => {
                assert_eq!((m.as_str(), n.as_str()), (module, name));
            }
            other => panic!("{module}.{name}: {other:?}"),
        }
    }
}

#[test]
fn fuel_costs_are_documented_in_docs_abi_md() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/abi.md")).unwrap();
    for f in HOST_FUNCTIONS {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}`", f.name)))
            .unwrap_or_else(|| panic!("docs/abi.md has no row for `{}`", f.name));
        let normalised = row.replace(['_', ','], "");
        assert!(
            normalised.contains(&format!("| {} |", f.fuel_base)),
            "fuel base of {} in: {row}",
            f.name
        );
        assert!(
            normalised.contains(&format!("| {} |", f.fuel_per_byte)),
            "fuel per byte of {} in: {row}",
            f.name
        );
    }
}
