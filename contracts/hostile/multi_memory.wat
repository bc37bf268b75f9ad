;; Declares two memories (multi-memory proposal, disabled); the host only knows `memory`.
;; Expected: rejected at deploy, ValidationError::InvalidWasm (wasmparser: multiple memories).
(module
  (memory (export "memory") 1)
  (memory $second 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
