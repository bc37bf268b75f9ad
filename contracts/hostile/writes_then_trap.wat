;; `execute` writes three keys, removes one, emits an event and sets an output, then traps.
;; Expected: deploys; execute ends in Failure::Trap("wasm `unreachable` instruction executed"):
;; the failed outcome carries no writes, events or output (fuel_used shows the writes ran).
(module
  (import "vellum" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "vellum" "storage_remove" (func $storage_remove (param i32 i32)))
  (import "vellum" "event_emit" (func $event_emit (param i32 i32)))
  (import "vellum" "output_write" (func $output_write (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "abcd123")
  ;; event "t" with attribute k=v (19 bytes)
  (data (i32.const 64) "\01\00\00\00t\01\00\00\00\01\00\00\00k\01\00\00\00v")
  (data (i32.const 128) "partial")
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (call $storage_write (i32.const 0) (i32.const 1) (i32.const 4) (i32.const 1))
    (call $storage_write (i32.const 1) (i32.const 1) (i32.const 5) (i32.const 1))
    (call $storage_write (i32.const 2) (i32.const 1) (i32.const 6) (i32.const 1))
    (call $storage_remove (i32.const 3) (i32.const 1))
    (call $event_emit (i32.const 64) (i32.const 19))
    (call $output_write (i32.const 128) (i32.const 7))
    unreachable)
  (func (export "query") (result i32) i32.const 0))
