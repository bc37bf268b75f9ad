;; Instance isolation: the pooling allocator reuses memory and table slots from one call to the
;; next. `execute` checks that it starts clean: its mutable global is 0, its table has one null
;; element, and its memory, grown to 16 MiB, reads as zero everywhere after its 16-byte data
;; segment. Then it dirties all of them (global = 1, 1_000 non-null table elements, memory
;; filled with 0xAA) and returns 0. A call that finds a leftover returns 1 with the output
;; "dirty instance".
;; Expected: deploys; called several times in a row (100 M fuel each), every call succeeds.
(module
  (import "vellum" "output_write" (func $output_write (param i32 i32)))
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (global $used (mut i32) (i32.const 0))
  (elem declare func $dirty)
  (data (i32.const 0) "dirty instance")
  (func $dirty (result i32)
    (call $output_write (i32.const 0) (i32.const 14))
    (i32.const 1))
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (local $p i32)
    (local $acc i64)
    (if (global.get $used) (then (return (call $dirty))))
    (if (i32.ne (table.size $t) (i32.const 1)) (then (return (call $dirty))))
    (if (i32.eqz (ref.is_null (table.get $t (i32.const 0)))) (then (return (call $dirty))))
    (if (i32.ne (memory.grow (i32.const 255)) (i32.const 1)) (then (return (call $dirty))))
    (local.set $p (i32.const 16))
    (loop $scan
      (local.set $acc (i64.or (local.get $acc) (i64.load (local.get $p))))
      (br_if $scan
        (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 8))) (i32.const 0x100_0000))))
    (if (i64.ne (local.get $acc) (i64.const 0)) (then (return (call $dirty))))
    (global.set $used (i32.const 1))
    (table.set $t (i32.const 0) (ref.func $dirty))
    (drop (table.grow $t (ref.func $dirty) (i32.const 1000)))
    (memory.fill (i32.const 16) (i32.const 0xaa) (i32.const 0xff_fff0))
    (i32.const 0)))
