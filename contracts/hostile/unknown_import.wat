;; Imports a host function the ABI does not have (`vellum.get_random`): a node that linked it
;; would give contracts a non-deterministic source.
;; Expected: rejected at deploy, ValidationError::UnknownImport { module: "vellum", name: "get_random" }.
(module
  (import "vellum" "get_random" (func $get_random (result i64)))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) (i32.wrap_i64 (call $get_random)))
  (func (export "query") (result i32) i32.const 0))
