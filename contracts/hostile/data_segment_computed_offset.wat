;; A data segment whose offset is a computed constant expression (extended-const `i32.add`),
;; which the deploy check could not bound without evaluating it.
;; Expected: rejected at deploy, ValidationError::Forbidden("data segment offsets must be a
;; single i32.const").
(module
  (memory (export "memory") 1)
  (data (offset (i32.add (i32.const 65535) (i32.const 65535))) "x")
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
