;; Not hostile: the well-behaved control. `execute` writes "hello" = "world", emits event "t"
;; with k=v and outputs `{"ok":true}`; `query` reads "hello" back into the output (empty if
;; absent); `instantiate` does nothing.
;; Expected: deploys; execute SUCCEEDS with exactly that write, event and output.
(module
  (import "vellum" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "vellum" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "vellum" "event_emit" (func $event_emit (param i32 i32)))
  (import "vellum" "output_write" (func $output_write (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "helloworld")
  (data (i32.const 64) "\01\00\00\00t\01\00\00\00\01\00\00\00k\01\00\00\00v")
  (data (i32.const 128) "{\"ok\":true}")
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (call $storage_write (i32.const 0) (i32.const 5) (i32.const 5) (i32.const 5))
    (call $event_emit (i32.const 64) (i32.const 19))
    (call $output_write (i32.const 128) (i32.const 11))
    (i32.const 0))
  (func (export "query") (result i32)
    (local $len i64)
    (local.set $len (call $storage_read (i32.const 0) (i32.const 5) (i32.const 256) (i32.const 64)))
    (if (i64.ge_s (local.get $len) (i64.const 0))
      (then (call $output_write (i32.const 256) (i32.wrap_i64 (local.get $len)))))
    (i32.const 0)))
