;; Throws and catches a wasm exception (exception-handling proposal, disabled): unwinding paths
;; that skip fuel and stack accounting are not worth their risk.
;; Expected: rejected at deploy, ValidationError::InvalidWasm (wasmparser: exceptions proposal not enabled).
(module
  (tag $oops (param i32))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (block $caught (result i32)
      (try_table (catch $oops $caught)
        (throw $oops (i32.const 7)))
      (i32.const 0)))
  (func (export "query") (result i32) i32.const 0))
