;; Exports `execute` with type (i32) -> i64 instead of () -> i32.
;; Expected: rejected at deploy, ValidationError::MissingExport("execute").
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (param i32) (result i64) i64.const 0)
  (func (export "query") (result i32) i32.const 0))
