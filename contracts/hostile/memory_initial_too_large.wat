;; Asks for 65 pages (4 MiB + 64 KiB) of initial memory, one page more than
;; MEMORY_PAGES_INITIAL_MAX: every instance would reserve it before any fuel is spent.
;; Expected: rejected at deploy, ValidationError::Limit { what: "initial memory pages", actual: 65, max: 64 }.
(module
  (memory (export "memory") 65)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
