;; A data segment whose offset is i32.const -16, i.e. 0xFFFF_FFF0 as the unsigned address wasm
;; uses: offset + length overflows 32 bits. A validator that added the two as u32 would wrap to
;; a small in-bounds end.
;; Expected: rejected at deploy, ValidationError::Memory("data segment at 4294967280 of 32 bytes
;; lies outside the initial memory of 65536 bytes").
(module
  (memory (export "memory") 1)
  (data (i32.const -16) "0123456789abcdef0123456789abcdef")
  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))
