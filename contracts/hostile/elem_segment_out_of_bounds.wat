;; An active element segment that lies outside its table (offset 1 in a one-element table): the
;; table counterpart of a lying data segment. Deploy does not check element segments, so the
;; failure happens while instantiating, on every call.
;; Expected: deploys; execute ends in Failure::Trap("out of bounds table access") (a contract
;; failure, not a host error).
(module
  (memory (export "memory") 1)
  (table 1 funcref)
  (elem (i32.const 1) $f)
  (func $f)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
