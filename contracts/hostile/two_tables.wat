;; Two tables (allowed by reference types, which are enabled); TABLES_MAX is 1.
;; Expected: rejected at deploy, ValidationError::Limit { what: "tables", actual: 2, max: 1 }.
(module
  (memory (export "memory") 1)
  (table $a 1 funcref)
  (table $b 1 funcref)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
