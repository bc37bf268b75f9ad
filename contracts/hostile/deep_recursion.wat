;; `execute` recurses without a base case (not a tail call: the result is used after the call),
;; with a few live values per frame.
;; Expected: deploys; execute ends in Failure::StackOverflow long before the fuel runs out, and
;; the process survives (calls run on a thread whose native stack is far above the wasm limit).
(module
  (memory (export "memory") 1)
  (func $down (param $depth i64) (result i64)
    (i64.add
      (call $down (i64.add (local.get $depth) (i64.const 1)))
      (local.get $depth)))
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (i32.wrap_i64 (call $down (i64.const 0))))
  (func (export "query") (result i32) i32.const 0))
