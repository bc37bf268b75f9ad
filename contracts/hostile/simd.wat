;; Uses a 128-bit SIMD value (v128.const / i32x4.extract_lane). SIMD is disabled: relaxed SIMD
;; is non-deterministic and plain SIMD is not needed by contracts.
;; Expected: rejected at deploy, ValidationError::InvalidWasm (wasmparser: SIMD support is not enabled).
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (i32x4.extract_lane 0 (v128.const i32x4 0 1 2 3)))
  (func (export "query") (result i32) i32.const 0))
