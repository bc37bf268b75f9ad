;; Exports the imported host function `input_len` (type () -> i32) directly as `execute`, so the
;; entry point's return code is whatever length the caller's message has.
;; Expected: deploys (the export has the right type); execute with the 2-byte message `{}` ends
;; in Failure::InvalidReturn(2).
(module
  (import "vellum" "input_len" (func $input_len (result i32)))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (export "execute" (func $input_len))
  (func (export "query") (result i32) i32.const 0))
