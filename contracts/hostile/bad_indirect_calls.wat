;; call_indirect abuse: `execute` calls an empty table slot, `query` an index past the table's
;; end, `instantiate` a function through the wrong signature.
;; Expected: deploys; execute -> Failure::Trap("uninitialized element"),
;; query -> Failure::Trap("undefined element"), instantiate -> Failure::Trap("indirect call type mismatch").
(module
  (type $nullary (func (result i32)))
  (type $unary (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (table 2 funcref)
  (elem (i32.const 0) $one)
  (func $one (type $nullary) (i32.const 1))
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32)
    (call_indirect (type $unary) (i32.const 5) (i32.const 0)))
  (func (export "execute") (result i32)
    (call_indirect (type $nullary) (i32.const 1)))
  (func (export "query") (result i32)
    (call_indirect (type $nullary) (i32.const 2))))
