;; The fast path of lib/line_labeller.ts, in WebAssembly with 128-bit SIMD.
;;
;; `label` copies a run of whole, clean lines from the input area to the
;; output area, each as prefix + line + suffix + "\n", checking 16 bytes at a
;; time that a line holds no byte its format must escape while it looks for
;; the line's end. It stops at the first line it must leave to the caller.
;; With a counter ($middleLen >= 0), each line is prefix + its number in
;; decimal + middle + line + suffix + "\n", numbered from $seq up: the JSON
;; records' "seq". The number is kept as ASCII digits and counted up in
;; place, so a line costs a carry or two, not a division per digit.
;; tools/build_wasm.ts assembles this file into lib/line_labeller_wasm.ts;
;; the addresses below are mirrored there and in lib/line_labeller.ts.
;;
;; Memory (8 pages, 512 KiB), addresses in bytes:
;;        0  results of the last call: output end (i32), lines (i32), reason (i32)
;;   16..64  the counter's digits, right-aligned: the last one at 63
;;       64  suffix, at most 16 bytes
;;       96  middle, at most 16 bytes
;;      256  prefix, at most 3840 bytes
;;    65536  input, at most 65536 bytes, then 16 bytes that loads may touch
;;   196608  output, at most 262144 bytes, then 16 bytes that stores may touch
;;
;; Reasons for stopping: 0 the input ran out (what is left, if anything, is
;; an unfinished line); 1 the output area is full; 2 the next line is not for
;; the fast path (a byte to escape, or longer than maxLine).
;;
;; A byte is "bad" when it is below $lo or above $hi (unsigned), or equal to
;; $x1 or $x2, unless it equals $allow. A CR must be bad under every check:
;; the only bad byte a copied line may hold is one CR right before its LF,
;; which is then dropped, as the framer drops it.
(module
  (memory (export "memory") 8)

  (func (export "label")
    (param $start i32) (param $end i32) (param $outStart i32) (param $outEnd i32)
    (param $prefixLen i32) (param $suffixLen i32) (param $maxLine i32)
    (param $lo i32) (param $hi i32) (param $x1 i32) (param $x2 i32) (param $allow i32)
    (param $middleLen i32) (param $seq i64)
    (result i32)
    (local $p i32) (local $o i32) (local $lines i32) (local $reason i32)
    (local $counting i32) (local $ds i32) (local $n i32) (local $head i32)
    (local $b i32) (local $d i32) (local $i i32) (local $q i32) (local $lineEnd i32)
    (local $nl i32) (local $bad i32) (local $firstBad i32) (local $valid i32) (local $s i32)
    (local $okm i32)
    (local $v v128) (local $t v128) (local $vlf v128) (local $vlo v128) (local $vspan v128)
    (local $vx1 v128) (local $vx2 v128) (local $vallow v128)
    (local.set $vlf (i8x16.splat (i32.const 10)))
    (local.set $vlo (i8x16.splat (local.get $lo)))
    (local.set $vspan (i8x16.splat (i32.sub (local.get $hi) (local.get $lo))))
    (local.set $vx1 (i8x16.splat (local.get $x1)))
    (local.set $vx2 (i8x16.splat (local.get $x2)))
    (local.set $vallow (i8x16.splat (local.get $allow)))
    ;; The first line's number as digits ending at 64; $ds: where they start.
    (local.set $counting (i32.ge_s (local.get $middleLen) (i32.const 0)))
    (local.set $ds (i32.const 64))
    (if (local.get $counting)
      (then
        (loop $digit
          (local.set $ds (i32.sub (local.get $ds) (i32.const 1)))
          (i32.store8 (local.get $ds)
            (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $seq) (i64.const 10)))))
          (local.set $seq (i64.div_u (local.get $seq) (i64.const 10)))
          (br_if $digit (i64.ne (local.get $seq) (i64.const 0))))))
    (local.set $p (local.get $start))
    (local.set $o (local.get $outStart))
    (block $done
      (loop $line
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; $head: what goes before the line, the prefix and any number and middle.
        (local.set $n (i32.sub (i32.const 64) (local.get $ds)))
        (local.set $head (local.get $prefixLen))
        (if (local.get $counting)
          (then
            (local.set $head
              (i32.add (local.get $prefixLen) (i32.add (local.get $n) (local.get $middleLen))))))
        (if (i32.gt_u (i32.add (local.get $o) (local.get $head)) (local.get $outEnd))
          (then (local.set $reason (i32.const 1)) (br $done)))
        ;; The prefix, 16 bytes at a time; what spills past it is overwritten.
        (local.set $i (i32.const 0))
        (block $copied
          (loop $copy
            (br_if $copied (i32.ge_u (local.get $i) (local.get $prefixLen)))
            (v128.store
              (i32.add (local.get $o) (local.get $i))
              (v128.load (i32.add (i32.const 256) (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $copy)))
        ;; The number (at most 32 digits in two stores) and the middle after it.
        (if (local.get $counting)
          (then
            (local.set $d (i32.add (local.get $o) (local.get $prefixLen)))
            (v128.store (local.get $d) (v128.load (local.get $ds)))
            (if (i32.gt_u (local.get $n) (i32.const 16))
              (then
                (v128.store
                  (i32.add (local.get $d) (i32.const 16))
                  (v128.load (i32.add (local.get $ds) (i32.const 16))))))
            (v128.store (i32.add (local.get $d) (local.get $n)) (v128.load (i32.const 96)))))
        ;; $d: where the line's first byte goes; $b: the block being read.
        (local.set $d (i32.add (local.get $o) (local.get $head)))
        (local.set $b (local.get $p))
        (local.set $firstBad (i32.const -1))
        (block $found
          (loop $scan
            ;; No LF before the end: an unfinished line, left for the caller.
            (br_if $done (i32.ge_u (local.get $b) (local.get $end)))
            (if (i32.gt_u
                  (i32.add (local.get $d) (i32.sub (local.get $b) (local.get $p)))
                  (local.get $outEnd))
              (then (local.set $reason (i32.const 1)) (br $done)))
            (local.set $v (v128.load (local.get $b)))
            (v128.store
              (i32.add (local.get $d) (i32.sub (local.get $b) (local.get $p)))
              (local.get $v))
            ;; $okm: the bytes that are neither bad nor LF. A byte is in
            ;; [lo, hi] when (byte - lo), wrapping, is at most hi - lo: one
            ;; subtraction, a min and a compare, where lt_u and gt_u cost
            ;; three or four instructions each on x86.
            (local.set $t (i8x16.sub (local.get $v) (local.get $vlo)))
            (local.set $okm
              (i8x16.bitmask
                (v128.andnot
                  (v128.or
                    (v128.andnot
                      (i8x16.eq (i8x16.min_u (local.get $t) (local.get $vspan)) (local.get $t))
                      (v128.or
                        (i8x16.eq (local.get $v) (local.get $vx1))
                        (i8x16.eq (local.get $v) (local.get $vx2))))
                    (i8x16.eq (local.get $v) (local.get $vallow)))
                  (i8x16.eq (local.get $v) (local.get $vlf)))))
            ;; Most blocks are 16 clean bytes of input with no LF: on to the next.
            (if (i32.and
                  (i32.eq (local.get $okm) (i32.const 0xffff))
                  (i32.le_u (i32.add (local.get $b) (i32.const 16)) (local.get $end)))
              (then
                (local.set $b (i32.add (local.get $b) (i32.const 16)))
                (br $scan)))
            (local.set $nl (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vlf))))
            ;; Bad bytes, and the LFs, which the masks below leave out.
            (local.set $bad (i32.xor (local.get $okm) (i32.const 0xffff)))
            ;; Bytes past the end of the input are not the input's.
            (local.set $valid (i32.sub (local.get $end) (local.get $b)))
            (if (i32.lt_u (local.get $valid) (i32.const 16))
              (then
                (local.set $nl
                  (i32.and (local.get $nl)
                    (i32.sub (i32.shl (i32.const 1) (local.get $valid)) (i32.const 1))))
                (local.set $bad
                  (i32.and (local.get $bad)
                    (i32.sub (i32.shl (i32.const 1) (local.get $valid)) (i32.const 1))))))
            ;; Only the bytes before the first LF belong to this line.
            (if (local.get $nl)
              (then
                (local.set $q (i32.add (local.get $b) (i32.ctz (local.get $nl))))
                (local.set $bad
                  (i32.and (local.get $bad)
                    (i32.sub (i32.shl (i32.const 1) (i32.ctz (local.get $nl))) (i32.const 1))))))
            (if (local.get $bad)
              (then
                (if (i32.lt_s (local.get $firstBad) (i32.const 0))
                  (then
                    (local.set $firstBad (i32.add (local.get $b) (i32.ctz (local.get $bad))))
                    ;; Only a CR may be the line ending's; anything else: stop.
                    (if (i32.ne (i32.load8_u (local.get $firstBad)) (i32.const 13))
                      (then (local.set $reason (i32.const 2)) (br $done)))))))
            (br_if $found (local.get $nl))
            (local.set $b (i32.add (local.get $b) (i32.const 16)))
            (br $scan)))
        ;; The line is [p, q); one bad byte is allowed: a CR at q - 1.
        (local.set $lineEnd (local.get $q))
        (if (i32.ge_s (local.get $firstBad) (i32.const 0))
          (then
            (if (i32.ne (local.get $firstBad) (i32.sub (local.get $q) (i32.const 1)))
              (then (local.set $reason (i32.const 2)) (br $done)))
            (local.set $lineEnd (local.get $firstBad))))
        (if (i32.gt_u (i32.sub (local.get $lineEnd) (local.get $p)) (local.get $maxLine))
          (then (local.set $reason (i32.const 2)) (br $done)))
        ;; $s: where the suffix goes, right after the line.
        (local.set $s (i32.add (local.get $d) (i32.sub (local.get $lineEnd) (local.get $p))))
        (if (i32.gt_u
              (i32.add (i32.add (local.get $s) (local.get $suffixLen)) (i32.const 1))
              (local.get $outEnd))
          (then (local.set $reason (i32.const 1)) (br $done)))
        (v128.store (local.get $s) (v128.load (i32.const 64)))
        (i32.store8 (i32.add (local.get $s) (local.get $suffixLen)) (i32.const 10))
        (local.set $o (i32.add (i32.add (local.get $s) (local.get $suffixLen)) (i32.const 1)))
        (local.set $lines (i32.add (local.get $lines) (i32.const 1)))
        (local.set $p (i32.add (local.get $q) (i32.const 1)))
        ;; The next number: add one to the last digit, carrying over the 9s;
        ;; past the first digit, a 1 goes in front. Each step moves left.
        (if (local.get $counting)
          (then
            (local.set $i (i32.const 63))
            (block $counted
              (loop $carry
                (if (i32.lt_u (local.get $i) (local.get $ds))
                  (then
                    (local.set $ds (local.get $i))
                    (i32.store8 (local.get $ds) (i32.const 49))
                    (br $counted)))
                (if (i32.ne (i32.load8_u (local.get $i)) (i32.const 57))
                  (then
                    (i32.store8 (local.get $i)
                      (i32.add (i32.load8_u (local.get $i)) (i32.const 1)))
                    (br $counted)))
                (i32.store8 (local.get $i) (i32.const 48))
                (local.set $i (i32.sub (local.get $i) (i32.const 1)))
                (br $carry)))))
        (br $line)))
    (i32.store (i32.const 0) (local.get $o))
    (i32.store (i32.const 4) (local.get $lines))
    (i32.store (i32.const 8) (local.get $reason))
    (local.get $p)))
