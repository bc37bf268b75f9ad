;; Defines a memory but exports it under another name, so the host could not reach it.
;; Expected: rejected at deploy, ValidationError::MissingExport("memory").
(module
  (memory (export "heap") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
