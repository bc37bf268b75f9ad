;; Imports a mutable global named like a host function (`vellum.block_height`), hoping for a
;; cheap shared cell with the host.
;; Expected: rejected at deploy, ValidationError::Forbidden("import `block_height` is not a function").
(module
  (import "vellum" "block_height" (global $height (mut i64)))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) (i32.wrap_i64 (global.get $height)))
  (func (export "query") (result i32) i32.const 0))
