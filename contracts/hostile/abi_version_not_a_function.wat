;; Exports `vellum_abi_v1` as a global instead of a function.
;; Expected: rejected at deploy, ValidationError::AbiVersion.
(module
  (memory (export "memory") 1)
  (global (export "vellum_abi_v1") i32 (i32.const 1))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
