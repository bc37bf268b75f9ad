;; Out-of-bounds and overflowing pointers to every pointer argument of every host function.
;; `execute` reads its message (32 bytes) to address 0 and calls case number `msg[0]` through
;; the table below; each case makes one host call with one bad pointer and valid everything else:
;;   *_wrap: pointer 0xFFFF_FFF0 (i32.const -16) with 32 bytes, so pointer + length overflows u32;
;;   *_tail: pointer 65530, inside the one-page memory, with 32 bytes (or the argument's fixed
;;           size: 20, 32 or 64 bytes) that run past its end.
;;   *_len_past_end: pointer 0 with 65_537 bytes, one more than the memory.
;; If a host call wrongly returns, the case returns and `execute` answers 0 (success).
;; Expected: deploys; every case ends in Failure::InvalidHostCall whose message names the
;; argument ("input_read", "storage_read destination", "sha256 source", "abort message", ...);
;; abort with a bad pointer is an invalid host call too, not a panic. The `*_ok` cases are
;; controls at the exact edge of memory and must succeed. The `*_len_max` cases pass length
;; 0xFFFF_FFFF: host functions charge their per-byte fuel for the declared length before any
;; check, so these end in Failure::OutOfFuel (all fuel used), not InvalidHostCall.
(module
  (import "vellum" "input_len" (func $input_len (result i32)))
  (import "vellum" "input_read" (func $input_read (param i32)))
  (import "vellum" "output_write" (func $output_write (param i32 i32)))
  (import "vellum" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "vellum" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "vellum" "storage_remove" (func $storage_remove (param i32 i32)))
  (import "vellum" "storage_scan" (func $storage_scan (param i32 i32 i32 i32 i32 i32 i32) (result i64)))
  (import "vellum" "caller" (func $caller (param i32)))
  (import "vellum" "contract_address" (func $contract_address (param i32)))
  (import "vellum" "tx_hash" (func $tx_hash (param i32)))
  (import "vellum" "event_emit" (func $event_emit (param i32 i32)))
  (import "vellum" "sha256" (func $sha256 (param i32 i32 i32)))
  (import "vellum" "secp256k1_verify" (func $secp256k1_verify (param i32 i32 i32 i32) (result i32)))
  (import "vellum" "debug_log" (func $debug_log (param i32 i32)))
  (import "vellum" "abort" (func $abort (param i32 i32)))

  (type $case (func))
  (memory (export "memory") 1)
  ;; 0..32: the message; 256: the key "k"; 512..640: zeros used as value, digest, signature, key.
  (data (i32.const 256) "k")

  (table funcref (elem
    $input_read_wrap $input_read_tail                   ;; 0, 1
    $output_write_wrap $output_write_tail               ;; 2, 3
    $storage_read_key_wrap $storage_read_key_tail       ;; 4, 5
    $storage_read_dst_wrap $storage_read_dst_tail       ;; 6, 7
    $storage_write_key_wrap $storage_write_key_tail     ;; 8, 9
    $storage_write_value_wrap $storage_write_value_tail ;; 10, 11
    $storage_remove_key_wrap $storage_remove_key_tail   ;; 12, 13
    $storage_scan_start_wrap $storage_scan_start_tail   ;; 14, 15
    $storage_scan_end_wrap $storage_scan_end_tail       ;; 16, 17
    $storage_scan_dst_wrap $storage_scan_dst_tail       ;; 18, 19
    $caller_wrap $caller_tail                           ;; 20, 21
    $contract_address_wrap $contract_address_tail       ;; 22, 23
    $tx_hash_wrap $tx_hash_tail                         ;; 24, 25
    $event_emit_wrap $event_emit_tail                   ;; 26, 27
    $sha256_src_wrap $sha256_src_tail                   ;; 28, 29
    $sha256_dst_wrap $sha256_dst_tail                   ;; 30, 31
    $secp256k1_digest_wrap $secp256k1_digest_tail       ;; 32, 33
    $secp256k1_signature_wrap $secp256k1_signature_tail ;; 34, 35
    $secp256k1_public_key_wrap $secp256k1_public_key_tail ;; 36, 37
    $debug_log_wrap $debug_log_tail                     ;; 38, 39
    $abort_wrap $abort_tail                             ;; 40, 41
    $output_write_one_past_end                          ;; 42
    $output_write_empty_wrap                            ;; 43
    $edge_ok                                            ;; 44
    $empty_at_end_ok                                    ;; 45
    $output_write_len_past_end                          ;; 46
    $sha256_src_len_past_end                            ;; 47
    $output_write_len_max                               ;; 48
    $sha256_src_len_max))                               ;; 49

  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (if (i32.ne (call $input_len) (i32.const 32)) (then (return (i32.const 1))))
    (call $input_read (i32.const 0))
    (call_indirect (type $case) (i32.load8_u (i32.const 0)))
    (i32.const 0))

  ;; A stored 8-byte value under "k", for the destination cases of storage_read / storage_scan
  ;; (the host only writes a destination when there is something that fits in it).
  (func $put_k
    (call $storage_write (i32.const 256) (i32.const 1) (i32.const 512) (i32.const 8)))

  (func $input_read_wrap (type $case) (call $input_read (i32.const -16)))
  (func $input_read_tail (type $case) (call $input_read (i32.const 65530)))
  (func $output_write_wrap (type $case) (call $output_write (i32.const -16) (i32.const 32)))
  (func $output_write_tail (type $case) (call $output_write (i32.const 65530) (i32.const 32)))
  (func $storage_read_key_wrap (type $case)
    (drop (call $storage_read (i32.const -16) (i32.const 32) (i32.const 512) (i32.const 64))))
  (func $storage_read_key_tail (type $case)
    (drop (call $storage_read (i32.const 65530) (i32.const 32) (i32.const 512) (i32.const 64))))
  (func $storage_read_dst_wrap (type $case)
    (call $put_k)
    (drop (call $storage_read (i32.const 256) (i32.const 1) (i32.const -16) (i32.const 32))))
  (func $storage_read_dst_tail (type $case)
    (call $put_k)
    (drop (call $storage_read (i32.const 256) (i32.const 1) (i32.const 65530) (i32.const 32))))
  (func $storage_write_key_wrap (type $case)
    (call $storage_write (i32.const -16) (i32.const 32) (i32.const 512) (i32.const 8)))
  (func $storage_write_key_tail (type $case)
    (call $storage_write (i32.const 65530) (i32.const 32) (i32.const 512) (i32.const 8)))
  (func $storage_write_value_wrap (type $case)
    (call $storage_write (i32.const 256) (i32.const 1) (i32.const -16) (i32.const 32)))
  (func $storage_write_value_tail (type $case)
    (call $storage_write (i32.const 256) (i32.const 1) (i32.const 65530) (i32.const 32)))
  (func $storage_remove_key_wrap (type $case)
    (call $storage_remove (i32.const -16) (i32.const 32)))
  (func $storage_remove_key_tail (type $case)
    (call $storage_remove (i32.const 65530) (i32.const 32)))
  (func $storage_scan_start_wrap (type $case)
    (drop (call $storage_scan (i32.const -16) (i32.const 32) (i32.const 0) (i32.const 0)
      (i32.const 10) (i32.const 512) (i32.const 64))))
  (func $storage_scan_start_tail (type $case)
    (drop (call $storage_scan (i32.const 65530) (i32.const 32) (i32.const 0) (i32.const 0)
      (i32.const 10) (i32.const 512) (i32.const 64))))
  (func $storage_scan_end_wrap (type $case)
    (drop (call $storage_scan (i32.const 256) (i32.const 1) (i32.const -16) (i32.const 32)
      (i32.const 10) (i32.const 512) (i32.const 64))))
  (func $storage_scan_end_tail (type $case)
    (drop (call $storage_scan (i32.const 256) (i32.const 1) (i32.const 65530) (i32.const 32)
      (i32.const 10) (i32.const 512) (i32.const 64))))
  (func $storage_scan_dst_wrap (type $case)
    (call $put_k)
    (drop (call $storage_scan (i32.const 256) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 10) (i32.const -16) (i32.const 32))))
  (func $storage_scan_dst_tail (type $case)
    (call $put_k)
    (drop (call $storage_scan (i32.const 256) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 10) (i32.const 65530) (i32.const 32))))
  (func $caller_wrap (type $case) (call $caller (i32.const -16)))
  (func $caller_tail (type $case) (call $caller (i32.const 65530)))
  (func $contract_address_wrap (type $case) (call $contract_address (i32.const -16)))
  (func $contract_address_tail (type $case) (call $contract_address (i32.const 65530)))
  (func $tx_hash_wrap (type $case) (call $tx_hash (i32.const -16)))
  (func $tx_hash_tail (type $case) (call $tx_hash (i32.const 65530)))
  (func $event_emit_wrap (type $case) (call $event_emit (i32.const -16) (i32.const 32)))
  (func $event_emit_tail (type $case) (call $event_emit (i32.const 65530) (i32.const 32)))
  (func $sha256_src_wrap (type $case) (call $sha256 (i32.const -16) (i32.const 32) (i32.const 512)))
  (func $sha256_src_tail (type $case) (call $sha256 (i32.const 65530) (i32.const 32) (i32.const 512)))
  (func $sha256_dst_wrap (type $case) (call $sha256 (i32.const 512) (i32.const 32) (i32.const -16)))
  (func $sha256_dst_tail (type $case) (call $sha256 (i32.const 512) (i32.const 32) (i32.const 65530)))
  (func $secp256k1_digest_wrap (type $case)
    (drop (call $secp256k1_verify (i32.const -16) (i32.const 512) (i32.const 512) (i32.const 33))))
  (func $secp256k1_digest_tail (type $case)
    (drop (call $secp256k1_verify (i32.const 65530) (i32.const 512) (i32.const 512) (i32.const 33))))
  (func $secp256k1_signature_wrap (type $case)
    (drop (call $secp256k1_verify (i32.const 512) (i32.const -16) (i32.const 512) (i32.const 33))))
  (func $secp256k1_signature_tail (type $case)
    (drop (call $secp256k1_verify (i32.const 512) (i32.const 65530) (i32.const 512) (i32.const 33))))
  (func $secp256k1_public_key_wrap (type $case)
    (drop (call $secp256k1_verify (i32.const 512) (i32.const 512) (i32.const -16) (i32.const 33))))
  (func $secp256k1_public_key_tail (type $case)
    (drop (call $secp256k1_verify (i32.const 512) (i32.const 512) (i32.const 65530) (i32.const 33))))
  (func $debug_log_wrap (type $case) (call $debug_log (i32.const -16) (i32.const 32)))
  (func $debug_log_tail (type $case) (call $debug_log (i32.const 65530) (i32.const 32)))
  (func $abort_wrap (type $case) (call $abort (i32.const -16) (i32.const 32)))
  (func $abort_tail (type $case) (call $abort (i32.const 65530) (i32.const 32)))
  ;; One byte starting exactly at the end of memory.
  (func $output_write_one_past_end (type $case)
    (call $output_write (i32.const 65536) (i32.const 1)))
  ;; Zero bytes, but at a pointer outside memory: still refused.
  (func $output_write_empty_wrap (type $case)
    (call $output_write (i32.const -16) (i32.const 0)))
  ;; Controls: the last bytes of memory are usable by every host function.
  (func $edge_ok (type $case)
    (call $caller (i32.const 65516))
    (call $contract_address (i32.const 65516))
    (call $tx_hash (i32.const 65504))
    (call $sha256 (i32.const 65504) (i32.const 32) (i32.const 65504))
    (call $debug_log (i32.const 65504) (i32.const 32))
    (call $storage_write (i32.const 65535) (i32.const 1) (i32.const 65528) (i32.const 8))
    (drop (call $storage_read (i32.const 65535) (i32.const 1) (i32.const 65528) (i32.const 8)))
    (drop (call $storage_scan (i32.const 65535) (i32.const 1) (i32.const 0) (i32.const 0)
      (i32.const 1) (i32.const 65519) (i32.const 17)))
    (call $output_write (i32.const 65504) (i32.const 32)))
  ;; Controls: an empty range exactly at the end of memory is fine.
  (func $empty_at_end_ok (type $case)
    (call $debug_log (i32.const 65536) (i32.const 0))
    (call $output_write (i32.const 65536) (i32.const 0)))
  ;; Pointer 0, one byte more than the memory holds.
  (func $output_write_len_past_end (type $case)
    (call $output_write (i32.const 0) (i32.const 65537)))
  (func $sha256_src_len_past_end (type $case)
    (call $sha256 (i32.const 0) (i32.const 65537) (i32.const 512)))
  ;; Length 0xFFFF_FFFF: charged 1 fuel per declared byte before the length is looked at.
  (func $output_write_len_max (type $case)
    (call $output_write (i32.const 0) (i32.const -1)))
  (func $sha256_src_len_max (type $case)
    (call $sha256 (i32.const 0) (i32.const -1) (i32.const 512))))
