;; Declares a table of `externref`: host references would need wasmtime's GC support, which the
;; runtime does not build (the GC proposal types are disabled).
;; Expected: rejected at deploy, ValidationError::InvalidWasm (wasmparser: gc types are disallowed …).
(module
  (memory (export "memory") 1)
  (table $refs 1 externref)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (i32.eqz (ref.is_null (table.get $refs (i32.const 0)))))
  (func (export "query") (result i32) i32.const 0))
