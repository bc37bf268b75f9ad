;; Byte spam: `execute` writes 128 KiB values (VALUE_BYTES_MAX) under distinct 4-byte keys in an
;; endless loop. Each write counts 131_076 bytes towards WRITE_BYTES_PER_CALL_MAX (4 MiB) and
;; costs 2_000 + 10 * 131_076 fuel.
;; Expected: deploys; with a 50 M fuel limit the 32nd write (32 * 131_076 > 4 MiB, after about
;; 42 M fuel) ends the call in Failure::InvalidHostCall("more than 4194304 bytes written in one call").
(module
  (import "vellum" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (memory (export "memory") 3)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (local $i i32)
    (loop $forever
      (i32.store (i32.const 0) (local.get $i))
      (call $storage_write (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 131072))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $forever))
    (i32.const 0))
  (func (export "query") (result i32) i32.const 0))
