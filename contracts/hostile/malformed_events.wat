;; Malformed and abusive events for event_emit (format: sdk/abi/src/codec.rs encode_event).
;; `execute` reads its 32-byte message to address 0 and runs case `msg[0]` through the table.
;; Expected: deploys; every malformed case ends in Failure::InvalidHostCall("event_emit: ...")
;; naming the defect (truncated encoding, trailing bytes, non-UTF-8 string, empty or 65-byte
;; type, empty or repeated attribute key, 33 attributes, a lying attribute count), and the 65th
;; event of a call in Failure::InvalidHostCall("more than 64 events in one call"). Controls:
;; one valid event, 64 events, and a type of exactly 64 bytes succeed.
(module
  (import "vellum" "input_len" (func $input_len (result i32)))
  (import "vellum" "input_read" (func $input_read (param i32)))
  (import "vellum" "event_emit" (func $event_emit (param i32 i32)))

  (type $case (func))
  (memory (export "memory") 1)
  ;; 0x100: valid, type "t", attribute k=v (19 bytes; byte 19 is a zero, used as trailing byte)
  (data (i32.const 0x100) "\01\00\00\00t\01\00\00\00\01\00\00\00k\01\00\00\00v")
  ;; 0x300: type is the single byte 0xff (9 bytes)
  (data (i32.const 0x300) "\01\00\00\00\ff\00\00\00\00")
  ;; 0x340: empty type, no attributes (8 bytes; the memory is zero)
  ;; 0x400: 65-byte type (73 bytes)
  (data (i32.const 0x400) "\41\00\00\00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\00\00\00\00")
  ;; 0x500: attribute key k twice (29 bytes)
  (data (i32.const 0x500) "\01\00\00\00t\02\00\00\00\01\00\00\00k\01\00\00\00v\01\00\00\00k\01\00\00\00w")
  ;; 0x540: empty attribute key (18 bytes)
  (data (i32.const 0x540) "\01\00\00\00t\01\00\00\00\00\00\00\00\01\00\00\00v")
  ;; 0x600: 33 attributes announced, followed by 264 zero bytes (273 bytes)
  (data (i32.const 0x600) "\01\00\00\00t\21\00\00\00")
  ;; 0x800: attribute count 0xFFFF_FFFF with nothing after it (9 bytes)
  (data (i32.const 0x800) "\01\00\00\00t\ff\ff\ff\ff")
  ;; 0x840: attribute value is the single byte 0xff (19 bytes)
  (data (i32.const 0x840) "\01\00\00\00t\01\00\00\00\01\00\00\00k\01\00\00\00\ff")
  ;; 0x900: 64-byte type, no attributes (72 bytes)
  (data (i32.const 0x900) "\40\00\00\00bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\00\00\00\00")

  (table funcref (elem
    $truncated              ;; 0
    $trailing_byte          ;; 1
    $type_not_utf8          ;; 2
    $type_empty             ;; 3
    $type_65_bytes          ;; 4
    $repeated_key           ;; 5
    $empty_key              ;; 6
    $attributes_33          ;; 7
    $lying_count            ;; 8
    $value_not_utf8         ;; 9
    $events_65              ;; 10
    $valid_ok               ;; 11
    $events_64_ok           ;; 12
    $type_64_bytes_ok))     ;; 13

  (func (export "vellum_abi_v1"))
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0)
  (func (export "execute") (result i32)
    (if (i32.ne (call $input_len) (i32.const 32)) (then (return (i32.const 1))))
    (call $input_read (i32.const 0))
    (call_indirect (type $case) (i32.load8_u (i32.const 0)))
    (i32.const 0))

  (func $emit_valid (param $times i32)
    (loop $again
      (if (i32.gt_s (local.get $times) (i32.const 0))
        (then
          (call $event_emit (i32.const 0x100) (i32.const 19))
          (local.set $times (i32.sub (local.get $times) (i32.const 1)))
          (br $again)))))

  (func $truncated (type $case) (call $event_emit (i32.const 0x100) (i32.const 18)))
  (func $trailing_byte (type $case) (call $event_emit (i32.const 0x100) (i32.const 20)))
  (func $type_not_utf8 (type $case) (call $event_emit (i32.const 0x300) (i32.const 9)))
  (func $type_empty (type $case) (call $event_emit (i32.const 0x340) (i32.const 8)))
  (func $type_65_bytes (type $case) (call $event_emit (i32.const 0x400) (i32.const 73)))
  (func $repeated_key (type $case) (call $event_emit (i32.const 0x500) (i32.const 29)))
  (func $empty_key (type $case) (call $event_emit (i32.const 0x540) (i32.const 18)))
  (func $attributes_33 (type $case) (call $event_emit (i32.const 0x600) (i32.const 273)))
  (func $lying_count (type $case) (call $event_emit (i32.const 0x800) (i32.const 9)))
  (func $value_not_utf8 (type $case) (call $event_emit (i32.const 0x840) (i32.const 19)))
  (func $events_65 (type $case) (call $emit_valid (i32.const 65)))
  (func $valid_ok (type $case) (call $emit_valid (i32.const 1)))
  (func $events_64_ok (type $case) (call $emit_valid (i32.const 64)))
  (func $type_64_bytes_ok (type $case) (call $event_emit (i32.const 0x900) (i32.const 72))))
