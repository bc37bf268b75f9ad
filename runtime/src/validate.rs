//! Static checks at deploy. A module that passes is one the engine can compile and that stays
//! within every structural limit; everything else about it is bounded at run time by fuel and
//! the resource limiter.

use wasmparser::{
    CompositeInnerType, DataKind, ElementItems, ElementKind, ExternalKind, FuncType, Operator,
    Parser, Payload, TypeRef, ValType, Validator,
};

use crate::ValidationError as E;
use crate::engine::ALLOWED_FEATURES;
use crate::limits::*;
use vellum_abi::{ABI_VERSION_EXPORT, ENTRY_POINTS, IMPORT_MODULE, MEMORY_EXPORT};

fn limit(what: &'static str, actual: u64, max: u64) -> Result<(), E> {
    if actual > max {
        Err(E::Limit { what, actual, max })
    } else {
        Ok(())
    }
}

fn invalid(e: impl std::fmt::Display) -> E {
    E::InvalidWasm(e.to_string())
}

fn abi_val(t: vellum_abi::ValType) -> ValType {
    match t {
        vellum_abi::ValType::I32 => ValType::I32,
        vellum_abi::ValType::I64 => ValType::I64,
    }
}

/// The offset of an active segment, which must be a plain `i32.const` (what compilers emit):
/// anything else could only be checked at instantiation.
fn const_offset(expr: &wasmparser::ConstExpr<'_>, what: &str) -> Result<u64, E> {
    let mut ops = expr.get_operators_reader();
    match (ops.read(), ops.read()) {
        (Ok(Operator::I32Const { value }), Ok(Operator::End)) => Ok(u64::from(value as u32)),
        _ => Err(E::Forbidden(format!(
            "{what} offsets must be a single i32.const"
        ))),
    }
}

/// Checks a module against the ABI and [`crate::limits`]. Cheap relative to compilation; run it
/// before compiling anything received from outside.
pub fn validate(wasm: &[u8]) -> Result<(), E> {
    if wasm.len() > CODE_BYTES_MAX {
        return Err(E::TooLarge {
            size: wasm.len(),
            max: CODE_BYTES_MAX,
        });
    }
    // Full validation first, with exactly the features the engine enables: SIMD, threads,
    // atomics and the other disabled proposals fail here with wasmparser's message.
    Validator::new_with_features(ALLOWED_FEATURES)
        .validate_all(wasm)
        .map_err(invalid)?;

    let mut types: Vec<Option<FuncType>> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new(); // type index of every function, imports first
    let mut memory_pages: Option<u64> = None;
    let mut memories = 0u32;
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    let mut data_segments: Vec<(u64, u64)> = Vec::new(); // (offset, len) of active segments
    let mut element_segments: Vec<(u64, u64)> = Vec::new(); // (offset, count) of active segments
    let mut table_elements: Option<u64> = None;
    let mut module_frames = 0u64;

    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::TypeSection(reader) => {
                limit("types", u64::from(reader.count()), u64::from(TYPES_MAX))?;
                for group in reader {
                    for sub in group.map_err(invalid)?.into_types() {
                        types.push(match sub.composite_type.inner {
                            CompositeInnerType::Func(f) => {
                                limit(
                                    "function parameters",
                                    f.params().len() as u64,
                                    FUNCTION_PARAMS_MAX as u64,
                                )?;
                                limit(
                                    "function results",
                                    f.results().len() as u64,
                                    FUNCTION_PARAMS_MAX as u64,
                                )?;
                                Some(f)
                            }
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    let unknown = || E::UnknownImport {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                    };
                    if import.module != IMPORT_MODULE {
                        return Err(unknown());
                    }
                    let host = vellum_abi::host_function(import.name).ok_or_else(unknown)?;
                    let TypeRef::Func(type_index) = import.ty else {
                        return Err(E::Forbidden(format!(
                            "import `{}` is not a function",
                            import.name
                        )));
                    };
                    let ty = types
                        .get(type_index as usize)
                        .and_then(Option::as_ref)
                        .ok_or_else(unknown)?;
                    let expected_params: Vec<ValType> =
                        host.params.iter().copied().map(abi_val).collect();
                    let expected_results: Vec<ValType> =
                        host.results.iter().copied().map(abi_val).collect();
                    if ty.params() != expected_params.as_slice()
                        || ty.results() != expected_results.as_slice()
                    {
                        return Err(E::ImportSignature(import.name.to_string()));
                    }
                    func_types.push(type_index);
                }
            }
            Payload::FunctionSection(reader) => {
                limit(
                    "functions",
                    u64::from(reader.count()),
                    u64::from(FUNCTIONS_MAX),
                )?;
                for t in reader {
                    func_types.push(t.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                limit("tables", u64::from(reader.count()), u64::from(TABLES_MAX))?;
                for table in reader {
                    let table = table.map_err(invalid)?;
                    limit(
                        "table initial elements",
                        table.ty.initial,
                        TABLE_ELEMENTS_MAX,
                    )?;
                    table_elements = Some(table.ty.initial);
                    if let Some(max) = table.ty.maximum {
                        limit("table maximum elements", max, TABLE_ELEMENTS_MAX)?;
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(invalid)?;
                    memories += 1;
                    limit(
                        "initial memory pages",
                        memory.initial,
                        MEMORY_PAGES_INITIAL_MAX,
                    )?;
                    memory_pages = Some(memory.initial);
                }
            }
            Payload::GlobalSection(reader) => {
                limit("globals", u64::from(reader.count()), u64::from(GLOBALS_MAX))?;
            }
            Payload::ExportSection(reader) => {
                limit("exports", u64::from(reader.count()), u64::from(EXPORTS_MAX))?;
                for export in reader {
                    let export = export.map_err(invalid)?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            Payload::StartSection { .. } => return Err(E::StartFunction),
            Payload::ElementSection(reader) => {
                limit(
                    "element segments",
                    u64::from(reader.count()),
                    u64::from(ELEMENT_SEGMENTS_MAX),
                )?;
                for element in reader {
                    let element = element.map_err(invalid)?;
                    if let ElementKind::Active { offset_expr, .. } = element.kind {
                        let offset = const_offset(&offset_expr, "element segment")?;
                        let count = match &element.items {
                            ElementItems::Functions(r) => r.count(),
                            ElementItems::Expressions(_, r) => r.count(),
                        };
                        element_segments.push((offset, u64::from(count)));
                    }
                }
            }
            Payload::DataSection(reader) => {
                limit(
                    "data segments",
                    u64::from(reader.count()),
                    u64::from(DATA_SEGMENTS_MAX),
                )?;
                for data in reader {
                    let data = data.map_err(invalid)?;
                    if let DataKind::Active { offset_expr, .. } = data.kind {
                        let offset = const_offset(&offset_expr, "data segment")?;
                        data_segments.push((offset, data.data.len() as u64));
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len() as u64;
                limit(
                    "function body bytes",
                    size,
                    u64::from(FUNCTION_BODY_BYTES_MAX),
                )?;
                let mut locals = 0u64;
                for group in body.get_locals_reader().map_err(invalid)? {
                    let (count, _) = group.map_err(invalid)?;
                    locals += u64::from(count);
                }
                limit(
                    "locals in one function",
                    locals,
                    u64::from(FUNCTION_LOCALS_MAX),
                )?;
                // Cranelift's compile time with fuel metering grows with the square of the
                // control frames in one function, and it has hard limits of its own (65,520
                // br_table targets): bound both here so that a module that validates compiles
                // quickly and never fails in the compiler.
                let mut frames = 0u64;
                let mut ops = body.get_operators_reader().map_err(invalid)?;
                while !ops.eof() {
                    match ops.read().map_err(invalid)? {
                        Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                            frames += 1
                        }
                        Operator::BrTable { targets } => limit(
                            "br_table targets",
                            u64::from(targets.len()),
                            u64::from(BR_TABLE_TARGETS_MAX),
                        )?,
                        _ => {}
                    }
                }
                limit(
                    "control frames in one function",
                    frames,
                    u64::from(FUNCTION_CONTROL_FRAMES_MAX),
                )?;
                module_frames += frames;
                limit(
                    "control frames in the module",
                    module_frames,
                    u64::from(MODULE_CONTROL_FRAMES_MAX),
                )?;
            }
            _ => {}
        }
    }

    if memories != 1 {
        return Err(E::Memory(format!(
            "exactly one memory is required, found {memories}"
        )));
    }
    let memory_bytes = memory_pages.unwrap_or(0) * WASM_PAGE_BYTES;
    for (offset, len) in data_segments {
        if offset.saturating_add(len) > memory_bytes {
            return Err(E::Memory(format!(
                "data segment at {offset} of {len} bytes lies outside the initial memory of {memory_bytes} bytes"
            )));
        }
    }

    let table_size = table_elements.unwrap_or(0);
    for (offset, count) in element_segments {
        if offset.saturating_add(count) > table_size {
            return Err(E::Forbidden(format!(
                "element segment at {offset} of {count} entries lies outside the table of {table_size}"
            )));
        }
    }

    let export = |name: &str| exports.iter().find(|(n, _, _)| n == name);
    match export(MEMORY_EXPORT) {
        Some((_, ExternalKind::Memory, _)) => {}
        _ => return Err(E::MissingExport(MEMORY_EXPORT.into())),
    }
    if !matches!(export(ABI_VERSION_EXPORT), Some((_, ExternalKind::Func, _))) {
        return Err(E::AbiVersion);
    }
    for entry in ENTRY_POINTS {
        let ok = match export(entry) {
            Some((_, ExternalKind::Func, index)) => func_types
                .get(*index as usize)
                .and_then(|t| types.get(*t as usize))
                .and_then(Option::as_ref)
                .is_some_and(|f| f.params().is_empty() && f.results() == [ValType::I32]),
            _ => false,
        };
        if !ok {
            return Err(E::MissingExport(entry.into()));
        }
    }
    Ok(())
}
