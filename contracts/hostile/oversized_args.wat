;; Lengths over the ABI's limits (sdk/abi/src/limits.rs), with every byte inside the 8-page
;; (512 KiB) memory so that the size, not the pointer, is what is wrong. `execute` reads its
;; 32-byte message to address 0 and runs case `msg[0]` through the table.
;; Expected: deploys; each over-limit case ends in Failure::InvalidHostCall("<what>: <n> bytes
;; exceed the limit of <max>"); abort with a 5000-byte message ends in Failure::Panic with the
;; first 4096 bytes (abort cuts rather than refuses); the `*_ok` controls use exactly the limit
;; and succeed.
(module
  (import "vellum" "input_len" (func $input_len (result i32)))
  (import "vellum" "input_read" (func $input_read (param i32)))
  (import "vellum" "output_write" (func $output_write (param i32 i32)))
  (import "vellum" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "vellum" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "vellum" "storage_remove" (func $storage_remove (param i32 i32)))
  (import "vellum" "storage_scan" (func $storage_scan (param i32 i32 i32 i32 i32 i32 i32) (result i64)))
  (import "vellum" "event_emit" (func $event_emit (param i32 i32)))
  (import "vellum" "secp256k1_verify" (func $secp256k1_verify (param i32 i32 i32 i32) (result i32)))
  (import "vellum" "debug_log" (func $debug_log (param i32 i32)))
  (import "vellum" "abort" (func $abort (param i32 i32)))

  (type $case (func))
  (memory (export "memory") 8)
  (table funcref (elem
    $storage_write_key_1025       ;; 0
    $storage_read_key_1025        ;; 1
    $storage_remove_key_1025      ;; 2
    $storage_scan_start_1025      ;; 3
    $storage_scan_end_1025        ;; 4
    $storage_write_value_131073   ;; 5
    $output_write_262145          ;; 6
    $event_emit_8193              ;; 7
    $debug_log_4097               ;; 8
    $secp256k1_public_key_66      ;; 9
    $abort_5000                   ;; 10
    $storage_write_key_1024_ok    ;; 11
    $storage_write_value_131072_ok ;; 12
    $output_write_262144_ok       ;; 13
    $debug_log_4096_ok))          ;; 14

  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (if (i32.ne (call $input_len) (i32.const 32)) (then (return (i32.const 1))))
    (call $input_read (i32.const 0))
    (call_indirect (type $case) (i32.load8_u (i32.const 0)))
    (i32.const 0))

  (func $storage_write_key_1025 (type $case)
    (call $storage_write (i32.const 0) (i32.const 1025) (i32.const 0) (i32.const 1)))
  (func $storage_read_key_1025 (type $case)
    (drop (call $storage_read (i32.const 0) (i32.const 1025) (i32.const 0) (i32.const 0))))
  (func $storage_remove_key_1025 (type $case)
    (call $storage_remove (i32.const 0) (i32.const 1025)))
  (func $storage_scan_start_1025 (type $case)
    (drop (call $storage_scan (i32.const 0) (i32.const 1025) (i32.const 0) (i32.const 0)
      (i32.const 1) (i32.const 0) (i32.const 0))))
  (func $storage_scan_end_1025 (type $case)
    (drop (call $storage_scan (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1025)
      (i32.const 1) (i32.const 0) (i32.const 0))))
  (func $storage_write_value_131073 (type $case)
    (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 131073)))
  (func $output_write_262145 (type $case)
    (call $output_write (i32.const 0) (i32.const 262145)))
  (func $event_emit_8193 (type $case)
    (call $event_emit (i32.const 0) (i32.const 8193)))
  (func $debug_log_4097 (type $case)
    (call $debug_log (i32.const 0) (i32.const 4097)))
  (func $secp256k1_public_key_66 (type $case)
    (drop (call $secp256k1_verify (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 66))))
  (func $abort_5000 (type $case)
    (memory.fill (i32.const 4096) (i32.const 0x41) (i32.const 5000)) ;; 'A' x 5000
    (call $abort (i32.const 4096) (i32.const 5000)))
  (func $storage_write_key_1024_ok (type $case)
    (call $storage_write (i32.const 0) (i32.const 1024) (i32.const 0) (i32.const 1)))
  (func $storage_write_value_131072_ok (type $case)
    (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 131072)))
  (func $output_write_262144_ok (type $case)
    (call $output_write (i32.const 0) (i32.const 262144)))
  (func $debug_log_4096_ok (type $case)
    (call $debug_log (i32.const 0) (i32.const 4096))))
