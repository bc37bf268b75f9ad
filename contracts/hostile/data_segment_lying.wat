;; A "lying" active data segment: it starts inside the one-page memory (offset 65530) but its
;; 10 bytes run 4 bytes past the end. Instantiation would fail on every call.
;; Expected: rejected at deploy, ValidationError::Memory("data segment at 65530 of 10 bytes lies
;; outside the initial memory of 65536 bytes").
(module
  (memory (export "memory") 1)
  (data (i32.const 65530) "0123456789")
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
