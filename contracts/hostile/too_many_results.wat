;; A multi-value function type with 33 results, one more than FUNCTION_PARAMS_MAX.
;; Expected: rejected at deploy, ValidationError::Limit { what: "function results", actual: 33, max: 32 }.
(module
  (type $wide (func (result i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32
                            i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32
                            i32)))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
