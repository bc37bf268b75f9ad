//! Rewrites the bulk-memory instructions Rust 1.95's prebuilt std emits (`memory.copy`,
//! `memory.fill`) into calls of plain-wasm byte loops, because cosmwasm-vm 2.3.4's static
//! checks refuse the bulk-memory proposal. This is what binaryen's
//! `wasm-opt --llvm-memory-copy-fill-lowering` does; walrus keeps it inside cargo.

use walrus::ir::{
    BinaryOp, Call, ExtendedLoad, Instr, InstrLocId, LoadKind, MemArg, StoreKind, VisitorMut,
};
use walrus::{FunctionBuilder, FunctionId, LocalFunction, MemoryId, Module, ValType};

const BYTE: MemArg = MemArg {
    align: 1,
    offset: 0,
};
const LOAD8: LoadKind = LoadKind::I32_8 {
    kind: ExtendedLoad::ZeroExtend,
};
const STORE8: StoreKind = StoreKind::I32_8 { atomic: false };

/// `memory.copy (dst, src, n)` as a function: forward when `dst <= src`, backward otherwise,
/// so overlapping ranges copy as `memmove` does.
fn copy_fn(module: &mut Module, mem: MemoryId) -> FunctionId {
    let [dst, src, n, i] = [0; 4].map(|_| module.locals.add(ValType::I32));
    let mut b = FunctionBuilder::new(&mut module.types, &[ValType::I32; 3], &[]);
    b.func_body()
        .local_get(n)
        .unop(walrus::ir::UnaryOp::I32Eqz)
        .if_else(
            None,
            |then| {
                then.return_();
            },
            |_| {},
        )
        .local_get(dst)
        .local_get(src)
        .binop(BinaryOp::I32LeU)
        .if_else(
            None,
            |fwd| {
                fwd.i32_const(0).local_set(i).loop_(None, |l| {
                    let top = l.id();
                    l.local_get(dst)
                        .local_get(i)
                        .binop(BinaryOp::I32Add)
                        .local_get(src)
                        .local_get(i)
                        .binop(BinaryOp::I32Add)
                        .load(mem, LOAD8, BYTE)
                        .store(mem, STORE8, BYTE)
                        .local_get(i)
                        .i32_const(1)
                        .binop(BinaryOp::I32Add)
                        .local_tee(i)
                        .local_get(n)
                        .binop(BinaryOp::I32LtU)
                        .br_if(top);
                });
            },
            |bwd| {
                bwd.local_get(n).local_set(i).loop_(None, |l| {
                    let top = l.id();
                    l.local_get(i)
                        .i32_const(1)
                        .binop(BinaryOp::I32Sub)
                        .local_set(i)
                        .local_get(dst)
                        .local_get(i)
                        .binop(BinaryOp::I32Add)
                        .local_get(src)
                        .local_get(i)
                        .binop(BinaryOp::I32Add)
                        .load(mem, LOAD8, BYTE)
                        .store(mem, STORE8, BYTE)
                        .local_get(i)
                        .br_if(top);
                });
            },
        );
    b.finish(vec![dst, src, n], &mut module.funcs)
}

/// `memory.fill (dst, value, n)` as a function.
fn fill_fn(module: &mut Module, mem: MemoryId) -> FunctionId {
    let [dst, val, n, i] = [0; 4].map(|_| module.locals.add(ValType::I32));
    let mut b = FunctionBuilder::new(&mut module.types, &[ValType::I32; 3], &[]);
    b.func_body()
        .local_get(n)
        .unop(walrus::ir::UnaryOp::I32Eqz)
        .if_else(
            None,
            |then| {
                then.return_();
            },
            |_| {},
        )
        .i32_const(0)
        .local_set(i)
        .loop_(None, |l| {
            let top = l.id();
            l.local_get(dst)
                .local_get(i)
                .binop(BinaryOp::I32Add)
                .local_get(val)
                .store(mem, STORE8, BYTE)
                .local_get(i)
                .i32_const(1)
                .binop(BinaryOp::I32Add)
                .local_tee(i)
                .local_get(n)
                .binop(BinaryOp::I32LtU)
                .br_if(top);
        });
    b.finish(vec![dst, val, n], &mut module.funcs)
}

struct Replace {
    copy: FunctionId,
    fill: FunctionId,
    replaced: usize,
}

impl VisitorMut for Replace {
    fn visit_instr_mut(&mut self, instr: &mut Instr, _loc: &mut InstrLocId) {
        let func = match instr {
            Instr::MemoryCopy(_) => self.copy,
            Instr::MemoryFill(_) => self.fill,
            _ => return,
        };
        *instr = Instr::Call(Call { func });
        self.replaced += 1;
    }
}

/// Returns `wasm` without bulk-memory instructions, and how many it replaced.
pub fn lower_bulk_memory(wasm: &[u8]) -> anyhow_free::Result<(Vec<u8>, usize)> {
    let mut module = Module::from_buffer(wasm).map_err(|e| e.to_string())?;
    let mem = module
        .memories
        .iter()
        .next()
        .map(|m| m.id())
        .ok_or("the contract has no memory")?;
    let copy = copy_fn(&mut module, mem);
    let fill = fill_fn(&mut module, mem);
    let mut v = Replace {
        copy,
        fill,
        replaced: 0,
    };
    let ids: Vec<FunctionId> = module
        .funcs
        .iter_local()
        .map(|(id, _)| id)
        .filter(|id| *id != copy && *id != fill)
        .collect();
    for id in ids {
        let func: &mut LocalFunction = module.funcs.get_mut(id).kind.unwrap_local_mut();
        let entry = func.entry_block();
        walrus::ir::dfs_pre_order_mut(&mut v, func, entry);
    }
    // Rust marks its output with a `target_features` section naming bulk-memory; drop it with
    // the instructions.
    let names: Vec<_> = module
        .customs
        .iter()
        .filter(|(_, c)| c.name() == "target_features")
        .map(|(id, _)| id)
        .collect();
    for id in names {
        module.customs.delete(id);
    }
    Ok((module.emit_wasm(), v.replaced))
}

/// Errors as strings: this is a benchmark tool, the message is all a reader needs.
pub mod anyhow_free {
    /// A result whose error is a message.
    pub type Result<T> = std::result::Result<T, String>;
}
