;; `execute` spins in an empty loop forever.
;; Expected: deploys; execute ends in Failure::OutOfFuel with fuel_used == fuel_limit.
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
  (func (export "query") (result i32) i32.const 0))
