;; Bulk-memory work priced at one instruction would make fuel meaningless: `execute` grows to
;; 16 MiB and then memory.fill's all of it in a loop; `query` memory.copy's 8 MiB in a loop.
;; Expected: deploys; both end in Failure::OutOfFuel with fuel_used == fuel_limit after a
;; handful of iterations (wasmtime charges memory.fill/memory.copy one fuel per byte).
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (drop (memory.grow (i32.const 255)))
    (loop $again
      (memory.fill (i32.const 0) (i32.const 0xab) (i32.const 0x100_0000))
      (br $again))
    (i32.const 0))
  (func (export "query") (result i32)
    (drop (memory.grow (i32.const 255)))
    (loop $again
      (memory.copy (i32.const 0) (i32.const 0x80_0000) (i32.const 0x80_0000))
      (br $again))
    (i32.const 0)))
