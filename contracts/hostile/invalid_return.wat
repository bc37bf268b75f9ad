;; Entry points that return values that are not return codes: `execute` returns 7 and `query`
;; returns -1.
;; Expected: deploys; execute ends in Failure::InvalidReturn(7), query in Failure::InvalidReturn(-1).
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 7)
  (func (export "query") (result i32) i32.const -1))
