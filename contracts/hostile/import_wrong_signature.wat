;; Imports `vellum.block_height` with result i32 instead of the table's u64 (i64): a linker that
;; coerced it would hand the guest a truncated value.
;; Expected: rejected at deploy, ValidationError::ImportSignature("block_height").
(module
  (import "vellum" "block_height" (func $block_height (result i32)))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) (call $block_height))
  (func (export "query") (result i32) i32.const 0))
