;; State changes from the read-only `query` entry point. `query` (and, as a control, `execute`)
;; reads its 32-byte message to address 0 and, by `msg[0]`, calls storage_write (0),
;; storage_remove (1) or event_emit with a valid event (2); case 3 only reads storage and
;; writes the output, which queries may do.
;; Expected: deploys; query cases 0, 1, 2 end in Failure::InvalidHostCall("storage_write is not
;; allowed in a query" / "storage_remove ..." / "event_emit ..."); query case 3 succeeds; the same
;; cases 0-2 through `execute` succeed with the write, removal or event.
(module
  (import "vellum" "input_len" (func $input_len (result i32)))
  (import "vellum" "input_read" (func $input_read (param i32)))
  (import "vellum" "output_write" (func $output_write (param i32 i32)))
  (import "vellum" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "vellum" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "vellum" "storage_remove" (func $storage_remove (param i32 i32)))
  (import "vellum" "event_emit" (func $event_emit (param i32 i32)))

  (type $case (func))
  (memory (export "memory") 1)
  (data (i32.const 64) "kv")
  (data (i32.const 128) "\01\00\00\00t\01\00\00\00\01\00\00\00k\01\00\00\00v")
  (table funcref (elem $write $remove $emit $read_only))

  (func $dispatch (result i32)
    (if (i32.ne (call $input_len) (i32.const 32)) (then (return (i32.const 1))))
    (call $input_read (i32.const 0))
    (call_indirect (type $case) (i32.load8_u (i32.const 0)))
    (i32.const 0))

  (func $write (type $case)
    (call $storage_write (i32.const 64) (i32.const 1) (i32.const 65) (i32.const 1)))
  (func $remove (type $case)
    (call $storage_remove (i32.const 64) (i32.const 1)))
  (func $emit (type $case)
    (call $event_emit (i32.const 128) (i32.const 19)))
  (func $read_only (type $case)
    (drop (call $storage_read (i32.const 64) (i32.const 1) (i32.const 256) (i32.const 16)))
    (call $output_write (i32.const 64) (i32.const 2)))

  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) (call $dispatch))
  (func (export "query") (result i32) (call $dispatch)))
