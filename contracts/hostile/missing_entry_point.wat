;; Exports `instantiate` and `execute` but no `query`.
;; Expected: rejected at deploy, ValidationError::MissingExport("query").
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0))
