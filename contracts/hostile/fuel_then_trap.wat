;; Work first, fail afterwards: is the work paid for? `execute` reads its 32-byte message and
;; calls $work_then_fail with `msg[0]`, which spins a call-free loop of 1_000_000 iterations
;; (about 5 M fuel) and then, in the same function, fails by case:
;;   0 i32.div_u by zero          -> Failure::Trap("integer divide by zero")
;;   1 i32.load past the memory   -> Failure::Trap("out of bounds memory access")
;;   2 memory.grow of 0xFFFF_FFFF -> Failure::MemoryLimit
;;   3 table.grow past 16_384     -> Failure::TableLimit
;;   4 i32.trunc_f32_s of NaN     -> Failure::Trap("invalid conversion to integer")
;;   5 unreachable                -> Failure::Trap("wasm `unreachable` instruction executed")
;;   6 the abort host call        -> Failure::Panic("gave up")
;; Expected: deploys; each case ends in the failure above AND reports fuel_used >= 1_000_000
;; (the loop's work). A failed call that reported less would have had its work for free.
(module
  (import "vellum" "input_len" (func $input_len (result i32)))
  (import "vellum" "input_read" (func $input_read (param i32)))
  (import "vellum" "abort" (func $abort (param i32 i32)))
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (data (i32.const 128) "gave up")

  (func $work_then_fail (param $how i32)
    (local $i i32)
    (local.set $i (i32.const 1000000))
    (loop $again
      (br_if $again (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
    ;; $i is 0 here.
    (block $abort
      (block $unreachable
        (block $trunc
          (block $table
            (block $grow
              (block $oob
                (block $div
                  (br_table $div $oob $grow $table $trunc $unreachable $abort (local.get $how)))
                (drop (i32.div_u (i32.const 1) (local.get $i)))
                (return))
              (drop (i32.load (i32.const 65535)))
              (return))
            (drop (memory.grow (i32.const -1)))
            (return))
          (drop (table.grow $t (ref.null func) (i32.const 16384)))
          (return))
        (drop (i32.trunc_f32_s (f32.div (f32.convert_i32_u (local.get $i))
                                        (f32.convert_i32_u (local.get $i)))))
        (return))
      unreachable)
    (call $abort (i32.const 128) (i32.const 7)))

  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (if (i32.ne (call $input_len) (i32.const 32)) (then (return (i32.const 1))))
    (call $input_read (i32.const 0))
    (call $work_then_fail (i32.load8_u (i32.const 0)))
    (i32.const 0)))
