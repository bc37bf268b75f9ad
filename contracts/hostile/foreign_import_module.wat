;; Imports WASI's `fd_write`, as a Rust program built for wasm32-wasip1 would: only module
;; "vellum" exists.
;; Expected: rejected at deploy, ValidationError::UnknownImport { module: "wasi_snapshot_preview1", name: "fd_write" }.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
