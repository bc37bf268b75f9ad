;; `execute` grows the table one null element at a time with table.grow (reference types) for as
;; long as it succeeds, then returns 7.
;; Expected: deploys; execute ends in Failure::TableLimit when element 16_385 is asked for.
(module
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (loop $more
      (br_if $more
        (i32.ne (table.grow $t (ref.null func) (i32.const 1)) (i32.const -1))))
    (i32.const 7))
  (func (export "query") (result i32) i32.const 0))
