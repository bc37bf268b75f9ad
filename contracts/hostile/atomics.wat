;; Uses atomic instructions (i32.atomic.rmw.add, memory.atomic.notify) on an ordinary memory.
;; Atomics belong to the disabled threads proposal.
;; Expected: rejected at deploy, ValidationError::InvalidWasm (wasmparser: threads support is not enabled).
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
    (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
  (func (export "query") (result i32) i32.const 0))
