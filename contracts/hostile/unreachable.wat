;; `execute` executes `unreachable`.
;; Expected: deploys; execute ends in Failure::Trap("wasm `unreachable` instruction executed").
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) unreachable)
  (func (export "query") (result i32) i32.const 0))
