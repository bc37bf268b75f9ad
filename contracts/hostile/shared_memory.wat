;; Declares its exported memory `shared` (threads proposal): shared memory is the basis of
;; data races between threads and is disabled.
;; Expected: rejected at deploy, ValidationError::InvalidWasm (wasmparser: threads must be enabled).
(module
  (memory (export "memory") 1 1 shared)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
