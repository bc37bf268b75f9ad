;; Imports `vellum.storage_read` with the right result (i64) but one parameter short.
;; Expected: rejected at deploy, ValidationError::ImportSignature("storage_read").
(module
  (import "vellum" "storage_read" (func $storage_read (param i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
