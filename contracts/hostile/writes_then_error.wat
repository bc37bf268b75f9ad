;; `execute` writes two keys, emits an event, sets the output "refused" and returns 1 (the
;; contract's own refusal).
;; Expected: deploys; execute ends in Failure::ContractError("refused"), with no writes or events.
(module
  (import "vellum" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "vellum" "event_emit" (func $event_emit (param i32 i32)))
  (import "vellum" "output_write" (func $output_write (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "ab12")
  (data (i32.const 64) "\01\00\00\00t\01\00\00\00\01\00\00\00k\01\00\00\00v")
  (data (i32.const 128) "refused")
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (call $storage_write (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 1))
    (call $storage_write (i32.const 1) (i32.const 1) (i32.const 3) (i32.const 1))
    (call $event_emit (i32.const 64) (i32.const 19))
    (call $output_write (i32.const 128) (i32.const 7))
    (i32.const 1))
  (func (export "query") (result i32) i32.const 0))
