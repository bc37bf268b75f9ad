;; `execute` calls the `abort` host function with a message (as the SDK's panic hook does), and
;; would return 0 if abort ever returned.
;; Expected: deploys; execute ends in Failure::Panic("hostile: deliberate abort, code 42").
(module
  (import "vellum" "abort" (func $abort (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "hostile: deliberate abort, code 42")
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (call $abort (i32.const 64) (i32.const 34))
    (i32.const 0))
  (func (export "query") (result i32) i32.const 0))
