;; Converts a NaN (0.0 / 0.0, computed from memory) to an integer with the trapping
;; i32.trunc_f32_s.
;; Expected: deploys; execute ends in Failure::Trap("invalid conversion to integer").
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (i32.trunc_f32_s (f32.div (f32.load (i32.const 0)) (f32.load (i32.const 0)))))
  (func (export "query") (result i32) i32.const 0))
