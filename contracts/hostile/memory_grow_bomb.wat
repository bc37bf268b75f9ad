;; `execute` grows memory one page at a time for as long as memory.grow succeeds, then returns 7.
;; Expected: deploys; execute ends in Failure::MemoryLimit when the 257th page (past 16 MiB) is
;; asked for. (InvalidReturn(7) here would mean growth was refused with -1 instead of trapping.)
(module
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (i32.const 7))
  (func (export "query") (result i32) i32.const 0))
