#!/usr/bin/env python3
"""The test docs_api_reference: builds the `docs` target and checks the pages a user opens.

    usage: check_api_reference.py CMAKE BUILD_DIR HTML_DIR
"""
import pathlib
import subprocess
import sys

# page -> text it must contain (a member or field name the reference exists to explain).
PAGES = {
    "index.html": ["tide API reference", "tide::map"],
    "classtide_1_1map.html": ["shrink_to_fit", "insert_or_assign", "What each operation invalidates"],
    "classtide_1_1set.html": ["std::unordered_set"],
    "structtide_1_1memstats.html": ["footprint_bytes", "released_bytes", "live_bytes"],
    "structtide_1_1map__memory.html": ["tombstones"],
    "classtide_1_1heap__allocator.html": ["tide::heap"],
    "namespacetide.html": ["read_memstats", "memstats_prometheus", "erase_if"],
}


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: check_api_reference.py CMAKE BUILD_DIR HTML_DIR")
    cmake, build_dir, html_dir = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    subprocess.run([cmake, "--build", build_dir, "--target", "docs"], check=True)
    failures = []
    for page, needles in PAGES.items():
        path = html_dir / page
        if not path.is_file():
            failures.append(f"{path} does not exist")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        failures += [f"{page}: no {needle!r}" for needle in needles if needle not in text]
    for failure in failures:
        print(f"check_api_reference: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"check_api_reference: ok ({len(PAGES)} pages in {html_dir})")


if __name__ == "__main__":
    main()
