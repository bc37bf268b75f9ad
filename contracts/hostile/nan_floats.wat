;; Floats are allowed only because NaN results are canonicalised. `execute` produces NaNs in
;; many ways, from operands loaded from memory (so nothing is folded at compile time), and
;; writes their raw bits both as its output (output_write) and to storage key "nan"
;; (storage_write). Without canonicalisation x86 gives 0xFFC0_0000 for 0/0 and propagates the
;; sign and payload of an input NaN, so the bits would depend on the machine.
;; Output layout (84 bytes, little-endian): seven f64 results, then seven f32 results.
;;   f64: 0/0, sqrt(-1), (-NaN:1) * 2, max(-NaN:1, 0), promote(-NaN:1 f32), inf - inf, floor(-NaN:1)
;;   f32: 0/0, sqrt(-1), (-NaN:1) + 1, min(-NaN:1, 0), demote(-NaN:1 f64), inf - inf, nearest(-NaN:1)
;; Expected: deploys; execute SUCCEEDS, the output is seven times 0x7FF8_0000_0000_0000 then
;; seven times 0x7FC0_0000, and the single write "nan" holds the same 84 bytes.
(module
  (import "vellum" "output_write" (func $output_write (param i32 i32)))
  (import "vellum" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  ;; 0: f64 0.0 (zero memory), 8: f32 0.0 (zero memory)
  (data (i32.const 16) "\00\00\00\00\00\00\f0\bf")  ;; f64 -1.0
  (data (i32.const 24) "\00\00\80\bf")              ;; f32 -1.0
  (data (i32.const 32) "\01\00\00\00\00\00\f8\ff")  ;; f64 NaN, sign set, payload 1
  (data (i32.const 40) "\01\00\c0\ff")              ;; f32 NaN, sign set, payload 1
  (data (i32.const 48) "\00\00\00\00\00\00\f0\3f")  ;; f64 1.0
  (data (i32.const 56) "\00\00\80\3f")              ;; f32 1.0
  (data (i32.const 512) "nan")
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    ;; f64 results at 1024..1080
    (f64.store (i32.const 1024) (f64.div (f64.load (i32.const 0)) (f64.load (i32.const 0))))
    (f64.store (i32.const 1032) (f64.sqrt (f64.load (i32.const 16))))
    (f64.store (i32.const 1040) (f64.mul (f64.load (i32.const 32)) (f64.const 2)))
    (f64.store (i32.const 1048) (f64.max (f64.load (i32.const 32)) (f64.load (i32.const 0))))
    (f64.store (i32.const 1056) (f64.promote_f32 (f32.load (i32.const 40))))
    (f64.store (i32.const 1064)
      (f64.sub
        (f64.div (f64.load (i32.const 48)) (f64.load (i32.const 0)))
        (f64.div (f64.load (i32.const 48)) (f64.load (i32.const 0)))))
    (f64.store (i32.const 1072) (f64.floor (f64.load (i32.const 32))))
    ;; f32 results at 1080..1108
    (f32.store (i32.const 1080) (f32.div (f32.load (i32.const 8)) (f32.load (i32.const 8))))
    (f32.store (i32.const 1084) (f32.sqrt (f32.load (i32.const 24))))
    (f32.store (i32.const 1088) (f32.add (f32.load (i32.const 40)) (f32.const 1)))
    (f32.store (i32.const 1092) (f32.min (f32.load (i32.const 40)) (f32.load (i32.const 8))))
    (f32.store (i32.const 1096) (f32.demote_f64 (f64.load (i32.const 32))))
    (f32.store (i32.const 1100)
      (f32.sub
        (f32.div (f32.load (i32.const 56)) (f32.load (i32.const 8)))
        (f32.div (f32.load (i32.const 56)) (f32.load (i32.const 8)))))
    (f32.store (i32.const 1104) (f32.nearest (f32.load (i32.const 40))))
    (call $output_write (i32.const 1024) (i32.const 84))
    (call $storage_write (i32.const 512) (i32.const 3) (i32.const 1024) (i32.const 84))
    (i32.const 0))
  (func (export "query") (result i32) i32.const 0))
