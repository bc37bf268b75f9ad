;; Imports a memory under the name of a real host function (`vellum.storage_read`): the name is
;; known, the kind is not a function.
;; Expected: rejected at deploy, ValidationError::Forbidden("import `storage_read` is not a function").
(module
  (import "vellum" "storage_read" (memory 1))
  (export "memory" (memory 0))
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
