#!/bin/sh
# Regenerates models/src/test/resources/image-cases/jpeg: JPEG files written by libjpeg-turbo with
# many settings, each with the pixels Pillow would get (decoded by the same library, see jpegref.c).
# Needs gcc, libjpeg-turbo with headers, python3 + numpy. Run from this folder.
set -eu
out=../../src/test/resources/image-cases/jpeg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -Wall -o "$tmp/jpegref" jpegref.c -ljpeg
mkdir -p "$out"
"$tmp/jpegref" decode ../../src/test/resources/fixtures/images/cat_landscape.jpg "$tmp/cat.ppm"
crop() { # name x y w h
  python3 - "$tmp/cat.ppm" "$tmp/$1.ppm" "$2" "$3" "$4" "$5" <<'PY'
import sys, numpy as np
src, dst, x, y, w, h = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
b = open(src, 'rb').read()
parts = b.split(b'\n', 3)
W, H = map(int, parts[1].split())
img = np.frombuffer(parts[3], np.uint8).reshape(H, W, 3)[y:y + h, x:x + w]
open(dst, 'wb').write(b'P6\n%d %d\n255\n' % (w, h) + img.tobytes())
PY
}
crop s61x37 100 60 61 37
crop s3x5 140 90 3 5
crop s5x3 140 90 5 3
crop s4x6 140 90 4 6
crop s129x67 80 50 129 67
crop s45x29 120 70 45 29
case_() { # name source quality sampling progressive restart colorspace [baseline]
  name=$1; shift
  src=$1; shift
  "$tmp/jpegref" encode "$tmp/$src.ppm" "$out/$name.jpg" "$@"
  "$tmp/jpegref" decode "$out/$name.jpg" "$out/$name.ppm"
}
case_ baseline_420 s61x37 85 2x2,1x1,1x1 0 0 ycc
case_ baseline_422 s61x37 85 2x1,1x1,1x1 0 0 ycc
case_ baseline_440 s61x37 85 1x2,1x1,1x1 0 0 ycc
case_ baseline_444 s61x37 85 1x1,1x1,1x1 0 0 ycc
case_ baseline_411 s61x37 85 4x1,1x1,1x1 0 0 ycc
case_ baseline_420_3x5 s3x5 90 2x2,1x1,1x1 0 0 ycc
case_ baseline_420_5x3 s5x3 90 2x2,1x1,1x1 0 0 ycc
case_ baseline_422_4x6 s4x6 90 2x1,1x1,1x1 0 0 ycc
case_ gray s61x37 85 1x1 0 0 gray
case_ progressive_420 s61x37 85 2x2,1x1,1x1 1 0 ycc
case_ progressive_444 s61x37 92 1x1,1x1,1x1 1 0 ycc
case_ progressive_gray s61x37 85 1x1 1 0 gray
case_ restart_420 s129x67 80 2x2,1x1,1x1 0 5 ycc
case_ restart_progressive s129x67 80 2x2,1x1,1x1 1 3 ycc
case_ sequential_multiscan s61x37 85 2x2,1x1,1x1 2 0 ycc
case_ cmyk s45x29 90 1x1,1x1,1x1,1x1 0 0 cmyk
case_ ycck s45x29 90 2x2,1x1,1x1,2x2 0 0 ycck
case_ adobe_rgb s45x29 90 1x1,1x1,1x1 0 0 rgb
case_ quality3_16bit_tables s61x37 3 2x2,1x1,1x1 0 0 ycc 0
# Damaged entropy data, decoded the way libjpeg recovers (restart resynchronisation, a marker in
# the middle of the data, flipped bits); jpegref prints libjpeg's warning count for each.
corrupt() { # name source python-expression-on-bytes-b
  python3 - "$out/$2.jpg" "$out/$1.jpg" "$3" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
def rst(n, k=1):  # position of the k-th occurrence of restart marker n
    pos = -1
    for _ in range(k):
        pos = b.index(bytes([0xFF, 0xD0 + n]), pos + 1)
    return pos
exec(sys.argv[3])
open(sys.argv[2], 'wb').write(bytes(b))
PY
  "$tmp/jpegref" decode "$out/$1.jpg" "$out/$1.ppm"
}
corrupt corrupt_rst_too_far restart_420 'b[rst(2) + 1] = 0xD4'
corrupt corrupt_rst_behind restart_420 'b[rst(1) + 1] = 0xD7'
corrupt corrupt_cut_interval restart_420 'p = rst(3); del b[p - 40:p]'
corrupt corrupt_flipped_bits restart_420 'p = rst(4); b[p - 30] ^= 0x5A; b[p - 25] ^= 0xC3'
corrupt corrupt_progressive_bits progressive_420 'b[len(b) // 2] ^= 0x24; b[len(b) // 2 + 7] ^= 0x81'
ls -l "$out"
