#!/usr/bin/env bash
# The README's chart, generated: runs `tide lab` (the default run, or the options given), prints
# its table (the README's excerpt comes from it) and renders charts of its fresh report.html to a
# PNG with headless Chromium (Debian's `chromium`). The charts, <svg class="chart"> elements
# chosen by title, are put side by side on a minimal page with the report's own style, and the
# page is screenshot at their size.
#
#   usage: scripts/readme_chart.sh [--report FILE] [--png FILE] [--chart TITLE]... [tide lab options]
#     --report FILE  render from this report.html instead of running tide lab
#     --png FILE     where the PNG goes (default: docs/images/lab_delete_all.png)
#     --chart TITLE  a chart's title, as in the report (default: the two delete-all charts)
#   TIDE=path sets the tide binary (default: build/release/tools/tide/tide, built by scripts/lab.sh).
#
#   e.g. scripts/readme_chart.sh > /tmp/lab-table.txt
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

report="" png=docs/images/lab_delete_all.png charts=() lab_options=()
while (($# > 0)); do
  case $1 in
    --report) report=$(realpath "$2"); shift 2 ;;
    --png) png=$2; shift 2 ;;
    --chart) charts+=("$2"); shift 2 ;;
    *) lab_options+=("$1"); shift ;;
  esac
done
if ((${#charts[@]} == 0)); then
  charts=("delete-all: bytes held by the map" "delete-all: process RSS")
fi
chromium=$(command -v chromium || true)
[[ -n $chromium ]] || { echo "readme_chart.sh: chromium is not installed (scripts/deps.sh installs it)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -z $report ]]; then
  tide=${TIDE:-build/release/tools/tide/tide}
  "$tide" lab --no-progress --out "$work/report" "${lab_options[@]}"
  report=$work/report/report.html
fi

# The page: the report's <style>, then each chart; prints its width and height.
size=$(python3 - "$report" "$work/page.html" "${charts[@]}" <<'PY'
import re, sys
report, page, titles = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3:]
style = re.search(r"<style>.*?</style>", report, re.S).group(0)
svgs = {m.group(1): m.group(0)
        for m in re.finditer(r'<svg class="chart"[^>]*>\s*<title>(.*?)</title>.*?</svg>', report, re.S)}
missing = [t for t in titles if t not in svgs]
if missing:
    sys.exit(f"readme_chart.sh: no chart titled {missing} in {sys.argv[1]} (charts: {list(svgs)})")
gap = 8
sizes = [tuple(int(v) for v in re.search(r'width="(\d+)" height="(\d+)"', svgs[t]).groups()) for t in titles]
width = sum(w for w, _ in sizes) + gap * (len(sizes) - 1)
height = max(h for _, h in sizes)
with open(page, "w") as f:
    f.write('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' + style +
            f'\n<style>body {{ margin: 0; display: flex; gap: {gap}px; }} '
            'svg.chart { border: none; }</style>\n</head>\n<body>\n' +
            "\n".join(svgs[t] for t in titles) + "\n</body>\n</html>\n")
print(f"{width},{height}")
PY
)

# A fresh profile; no network, no first-run or sync machinery.
mkdir -p "$(dirname "$png")"
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --hide-scrollbars --window-size="$size" \
  --screenshot="$work/chart.png" "file://$work/page.html" 2>"$work/chromium.log" >/dev/null ||
  { cat "$work/chromium.log" >&2; exit 1; }
[[ -s $work/chart.png ]] || { echo "readme_chart.sh: chromium wrote no screenshot" >&2; cat "$work/chromium.log" >&2; exit 1; }
mv "$work/chart.png" "$png"
echo "readme_chart.sh: ${#charts[@]} chart(s) of $report -> $png (${size/,/x})" >&2
