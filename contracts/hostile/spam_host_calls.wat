;; Host-call spam: `execute` calls block_height in an endless loop; `query` does the same with
;; sha256 over 1 KiB.
;; Expected: deploys; both end in Failure::OutOfFuel with fuel_used == fuel_limit (every host
;; call is charged: 50 fuel per block_height, 200 + 1 per byte per sha256).
(module
  (import "vellum" "block_height" (func $block_height (result i64)))
  (import "vellum" "sha256" (func $sha256 (param i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (loop $forever
      (drop (call $block_height))
      (br $forever))
    (i32.const 0))
  (func (export "query") (result i32)
    (loop $forever
      (call $sha256 (i32.const 0) (i32.const 1024) (i32.const 2048))
      (br $forever))
    (i32.const 0)))
