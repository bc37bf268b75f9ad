;; Imports its memory (`vellum.memory`) instead of defining it, as `-C link-arg=--import-memory`
;; would: the host provides no memory, and `memory` is not a host function name.
;; Expected: rejected at deploy, ValidationError::UnknownImport { module: "vellum", name: "memory" }.
(module
  (import "vellum" "memory" (memory 1))
  (export "memory" (memory 0))
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
