;; `execute` starts an endless ping-pong between two functions; `query` does the same through
;; `call_indirect` (a function calling itself through the table).
;; Expected: deploys; execute and query both end in Failure::StackOverflow.
(module
  (type $rec (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (table funcref (elem $through_table))
  (func $ping (type $rec)
    (i32.add (call $pong (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $pong (type $rec)
    (i32.add (call $ping (i32.add (local.get 0) (i32.const 1))) (i32.const 2)))
  (func $through_table (type $rec)
    (i32.add
      (call_indirect (type $rec) (i32.add (local.get 0) (i32.const 1)) (i32.const 0))
      (i32.const 1)))
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) (call $ping (i32.const 0)))
  (func (export "query") (result i32) (call $through_table (i32.const 0))))
