#!/usr/bin/env bash
# test_report_browser.sh — `strata report` in a real browser (issue 16): headless Chromium
# (Debian's `chromium`; scripts/install-deps.sh) loads the report.html of a short run (the tiny
# 4-class dataset, 3 epochs) and a three-run overlay. Checked: Chromium prints no console message
# (it logs every console message as an `INFO:CONSOLE` line on stderr with --enable-logging=stderr
# --v=0; a control page with a console.error and a script error shows the check can fail), the
# DOM it builds (--dump-dom) keeps the 7 sections and as many <svg> as the file has (nothing
# swallowed by a parse error), and its screenshot (--window-size 1280,2000) is a 1280×2000 PNG
# that is not blank: decoded here with zlib (no PIL), more than 50 distinct colours and more than
# 3% non-white pixels. Without chromium: a TAP skip. Each Chromium call is bounded by timeout 60.
set -u
cd "$(dirname "$0")/.."
. tests/util/tap.sh
if ! command -v chromium > /dev/null; then echo "1..0 # SKIP chromium is not installed (scripts/install-deps.sh installs it)"; exit 0; fi
echo "1..5"

# chrome PAGE.html PNG: a screenshot; Chromium's stderr to $work/log
chrome() {
  timeout 60 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$work/profile" --enable-logging=stderr \
    --v=0 --hide-scrollbars --screenshot="$2" --window-size=1280,2000 "file://$1" > "$work/log" 2>&1
}
console_lines() { grep -c ':CONSOLE' "$work/log"; }

printf '<!DOCTYPE html><html><head><title>x</title></head><body><script>console.error("boom"); no_such_fn();</script></body></html>' \
  > "$work/bad.html"
chrome "$work/bad.html" "$work/bad.png"; [ "$(console_lines)" -ge 2 ]
ok $? "control: a page with a console.error and a script error gives INFO:CONSOLE lines (the check can fail)"

tests/util/make_tiny.sh "$work/tiny.h5" > /dev/null
for r in a:0.01 b:0.003 c:0.03; do # name:learning rate
  timeout 120 bin/strata train tests/data/train_tiny.json --set "data.path=$work/tiny.h5" --set "results_dir=$work/r" \
    --set "name=${r%%:*}" --set train.epochs=3 --set train.threads=1 --set "optimizer.lr=${r#*:}" > /dev/null 2>&1
done
rep=$work/r/a/report.html
test -s "$rep" && chrome "$rep" "$work/a.png" && [ "$(console_lines)" = 0 ] && test -s "$work/a.png"
ok $? "the report of a 3-epoch run loads in Chromium without a console message"

timeout 60 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$work/profile" --dump-dom "file://$rep" \
  > "$work/dom.html" 2> /dev/null &&
/usr/bin/python3 - "$rep" "$work/dom.html" > "$work/log" 2>&1 <<'PY'
import re, sys
src, dom = open(sys.argv[1]).read(), open(sys.argv[2]).read()
ids = re.findall(r'<section id="([^"]+)"', dom)
assert ids == ["runs", "curves", "per-class", "per-class-history", "warnings", "config", "environment"], ids
assert dom.count("<svg") == src.count("<svg") > 5, (dom.count("<svg"), src.count("<svg"))
assert dom.count("<polyline") == src.count("<polyline"), "polylines lost"
PY
ok $? "Chromium's DOM keeps the 7 sections, every <svg> and every line of the file"

cat > "$work/png.py" <<'PY'
import struct, sys, zlib
def decode(path):  # 8-bit RGB or RGBA PNG -> (width, height, rows of pixel tuples)
    b = open(path, "rb").read(); assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(b):
        n, kind = struct.unpack(">I4s", b[pos:pos + 8]); data = b[pos + 8:pos + 8 + n]; pos += 12 + n
        if kind == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", data[:10])
        elif kind == b"IDAT": idat += data
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    bpp = 3 if ctype == 2 else 4; stride = w * bpp; raw = zlib.decompress(idat); rows = []; prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]; line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0; up = prev[i]; c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + up) & 255
            elif f == 3: line[i] = (line[i] + (a + up) // 2) & 255
            elif f == 4:
                p = a + up - c; pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
        rows.append(line); prev = line
    return w, h, bpp, rows
w, h, bpp, rows = decode(sys.argv[1])
assert (w, h) == (1280, 2000), (w, h)
colours, nonwhite = set(), 0
for line in rows[::2]:
    for x in range(0, w * bpp, bpp * 2):
        px = bytes(line[x:x + 3]); colours.add(px); nonwhite += px != b"\xff\xff\xff"
share = nonwhite / ((h // 2) * (w // 2))
print("%dx%d, %d colours, %.1f%% non-white" % (w, h, len(colours), 100 * share))
assert len(colours) > 50 and share > 0.03, (len(colours), share)
PY
/usr/bin/python3 "$work/png.py" "$work/a.png" > "$work/log" 2>&1; rc=$?
ok $rc "the screenshot is a 1280x2000 PNG and not blank: $(tail -1 "$work/log")"

bin/strata report "$work/r/a" "$work/r/b" "$work/r/c" -o "$work/abc.html" > /dev/null 2>&1 &&
  chrome "$work/abc.html" "$work/abc.png" && [ "$(console_lines)" = 0 ] && /usr/bin/python3 "$work/png.py" "$work/abc.png" > "$work/log" 2>&1
ok $? "three runs overlaid: no console message, a non-blank screenshot: $(tail -1 "$work/log")"

exit $fail
