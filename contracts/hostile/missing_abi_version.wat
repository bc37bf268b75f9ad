;; Follows the ABI in every way except that it does not export `vellum_abi_v1`.
;; Expected: rejected at deploy, ValidationError::AbiVersion.
(module
  (memory (export "memory") 1)
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
