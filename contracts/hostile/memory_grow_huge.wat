;; `execute` asks for 0xFFFF_FFFF more pages in a single memory.grow (256 TiB).
;; Expected: deploys; execute ends in Failure::MemoryLimit (memory.grow is not charged per page,
;; so the resource limiter, not fuel, stops it).
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (drop (memory.grow (i32.const -1)))
    (i32.const 7))
  (func (export "query") (result i32) i32.const 0))
