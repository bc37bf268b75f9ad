;; Write spam: `execute` writes distinct 4-byte keys (0, 1, 2, ...) with empty values in an
;; endless loop. Each write costs 2_000 + 10 * 4 fuel, so 4_096 writes (WRITES_PER_CALL_MAX) cost
;; about 8.4 M fuel.
;; Expected: deploys; with a 50 M fuel limit the 4_097th distinct key ends the call in
;; Failure::InvalidHostCall("more than 4096 keys written in one call"); with a 5 M limit the
;; fuel runs out first: Failure::OutOfFuel.
(module
  (import "vellum" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (local $i i32)
    (loop $forever
      (i32.store (i32.const 0) (local.get $i))
      (call $storage_write (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 0))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $forever))
    (i32.const 0))
  (func (export "query") (result i32) i32.const 0))
