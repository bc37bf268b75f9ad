;; Has a start function, which would run (and loop forever here) during instantiation, before
;; any entry point is called.
;; Expected: rejected at deploy, ValidationError::StartFunction.
(module
  (memory (export "memory") 1)
  (func $start (loop br 0))
  (start $start)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
