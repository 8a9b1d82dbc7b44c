#!/usr/bin/env bash
# End to end: a small `tide lab` run's report.html opened in headless Chromium (Debian's
# `chromium`). Checks that the charts render: the rendered DOM holds every <svg class="chart">
# with its lines, and a screenshot is not blank (many distinct colours, not one background).
# Skips (CTest SKIP_RETURN_CODE 77) with a message when chromium is not installed.
#
#   usage: report_browser_test.sh TIDE_BINARY
set -euo pipefail
tide=$(realpath "$1")
chromium=$(command -v chromium || true)
if [[ -z $chromium ]]; then
  echo "SKIP: chromium is not installed (scripts/deps.sh installs Debian's chromium)"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$tide" lab --n 2000 --rounds 3 --no-progress --out report >/dev/null

browser() {
  # A fresh profile every time; no network, no first-run or sync machinery.
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile-$1" "${@:2}" 2>>"$work/chromium.log"
}

# 1. The DOM after rendering: 5 scenarios x 2 memory charts + the latency and bytes-per-entry
#    charts = 12 charts; every chart has one line per run (5 maps; pressure adds the calibration).
browser dom --dump-dom "file://$work/report/report.html" >dom.html
charts=$(grep -o '<svg class="chart"' dom.html | wc -l)
lines=$(grep -o '<polyline class="series"' dom.html | wc -l)
empty=$(grep -c 'class="series"[^>]*points=""' dom.html || true)
echo "rendered DOM: $charts charts, $lines lines, $empty empty lines"
[[ $charts -eq 12 ]] || { echo "FAIL: expected 12 charts, found $charts"; exit 1; }
[[ $lines -eq $((12 * 5 + 2)) ]] || { echo "FAIL: expected 62 lines, found $lines"; exit 1; }
[[ $empty -eq 0 ]] || { echo "FAIL: $empty lines have no points"; exit 1; }
grep -q '</html>' dom.html || { echo "FAIL: the DOM is not a whole document"; exit 1; }

# 2. A screenshot of the first screenful (the delete-all charts) is not blank.
browser shot --window-size=1200,900 --screenshot="$work/shot.png" "file://$work/report/report.html" >/dev/null
[[ -s shot.png ]] || { echo "FAIL: no screenshot"; cat "$work/chromium.log"; exit 1; }
python3 - "$work/shot.png" <<'PY'
# Decodes the PNG (8-bit RGB or RGBA, no interlace: what Chromium writes) with zlib alone and
# counts its colours. A blank page has one; the report's first screen has text and coloured lines.
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width = 8, b"", 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and colour in (2, 6) and interlace == 0, "unexpected PNG format"
        bpp = 3 if colour == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
raw = zlib.decompress(idat)
stride = width * bpp
prev = bytearray(stride)
colours = set()
for y in range(height):
    f = raw[y * (stride + 1)]
    row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:
        for x in range(0, stride, bpp * 2):
            colours.add(bytes(row[x:x + 3]))
    prev = row
print(f"screenshot {width}x{height}: {len(colours)} distinct colours (sampled)")
# The map colours of the report: blue, green, purple, red, orange lines must be on screen.
want = {"tide::map": (0x25, 0x63, 0xeb), "absl": (0xdc, 0x26, 0x26), "std": (0x93, 0x33, 0xea)}
near = lambda c, w: all(abs(c[i] - w[i]) <= 24 for i in range(3))
missing = [n for n, w in want.items() if not any(near(c, w) for c in colours)]
if len(colours) < 50 or missing:
    sys.exit(f"FAIL: the screenshot looks blank or chartless ({len(colours)} colours; no line of {missing})")
PY
echo "PASS"
