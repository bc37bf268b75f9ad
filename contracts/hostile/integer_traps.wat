;; Integer arithmetic that traps, with operands loaded from memory so nothing can be folded at
;; compile time: `execute` divides by zero (i32.div_u), `query` computes INT_MIN / -1 (i32.div_s),
;; `instantiate` takes i64.rem_s by zero.
;; Expected: deploys; execute -> Failure::Trap("integer divide by zero"),
;; query -> Failure::Trap("integer overflow"), instantiate -> Failure::Trap("integer divide by zero").
(module
  (memory (export "memory") 1)
  ;; 0: i32 0, 8: i64 0, 16: i32 0x8000_0000, 20: i32 -1
  (data (i32.const 16) "\00\00\00\80\ff\ff\ff\ff")
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32)
    (i32.wrap_i64 (i64.rem_s (i64.const 7) (i64.load (i32.const 8)))))
  (func (export "execute") (result i32)
    (i32.div_u (i32.const 1) (i32.load (i32.const 0))))
  (func (export "query") (result i32)
    (i32.div_s (i32.load (i32.const 16)) (i32.load (i32.const 20)))))
