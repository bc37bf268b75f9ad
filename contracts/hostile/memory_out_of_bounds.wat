;; Plain wasm loads and stores outside the one-page memory: `execute` loads 4 bytes at 65533
;; (straddling the end), `query` stores at 0xFFFF_FFFC.
;; Expected: deploys; both end in Failure::Trap("out of bounds memory access").
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) (i32.load (i32.const 65533)))
  (func (export "query") (result i32)
    (i32.store (i32.const -4) (i32.const 1))
    (i32.const 0)))
