;; Uses `return_call` (tail-call proposal, disabled): an unbounded loop of calls that never
;; grows the stack would otherwise be a way around the stack limit's accounting.
;; Expected: rejected at deploy, ValidationError::InvalidWasm (wasmparser: tail calls support is not enabled).
(module
  (memory (export "memory") 1)
  (func $spin (result i32) (return_call $spin))
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) (call $spin))
  (func (export "query") (result i32) i32.const 0))
