;; `execute` asks for 0xFFFF_FFFF more table elements in a single table.grow.
;; Expected: deploys; execute ends in Failure::OutOfFuel with fuel_used == fuel_limit: wasmtime
;; charges table.grow one fuel per requested element before growing, so a four-billion-element
;; request is refused by fuel before the limiter sees it.
(module
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (drop (table.grow $t (ref.null func) (i32.const -1)))
    (i32.const 7))
  (func (export "query") (result i32) i32.const 0))
