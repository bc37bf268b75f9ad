;; Declares a 64-bit memory (memory64 proposal, disabled): pointers would no longer be the ABI's u32.
;; Expected: rejected at deploy, ValidationError::InvalidWasm (wasmparser: memory64 must be enabled).
(module
  (memory (export "memory") i64 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
