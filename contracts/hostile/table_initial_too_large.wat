;; A table of 16_385 initial elements, one more than TABLE_ELEMENTS_MAX.
;; Expected: rejected at deploy, ValidationError::Limit { what: "table initial elements", actual: 16385, max: 16384 }.
(module
  (memory (export "memory") 1)
  (table 16385 funcref)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
