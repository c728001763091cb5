"""How long an HTML map takes to open in a browser: headless Chromium, no network.

For each page: a copy with a probe appended (a last script that writes ``performance.now()``
into the DOM once every script of the page has run: the page parsed, Leaflet loaded, every
layer built), opened with ``chromium --headless --dump-dom``; reported are that time and the
browser process's wall time (start-up and the first paint included).
Tile requests fail at once (``--host-resolver-rules``), as on an office PC without a tile
server. Nothing is asserted; the issue's bar is "every map opens in under 3 s".

Usage::

    python benchmarks/map_open.py out/city/city_map.html out/city/district_code/*/map.html
    python benchmarks/map_open.py --json benchmarks/results/map_open.json PAGES...
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = """
<script>
(function () {
  var d = document.createElement("div");
  d.id = "lc-open-ms";
  d.textContent = String(Math.round(performance.now()));
  document.body.appendChild(d);
})();
</script>
"""


def browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    raise SystemExit("no chromium on PATH (apt-get install chromium)")


def open_ms(page: Path, work: Path) -> tuple[float | None, float]:
    """Return (the page's ms to drawn, the browser's wall s) for one page."""
    probe = work / f"probe_{page.parent.name}_{page.name}"
    text = page.read_text(encoding="utf-8")
    probe.write_text(
        text.replace("</html>", PROBE + "</html>") if "</html>" in text else text + PROBE,
        encoding="utf-8",
    )
    cmd = [
        browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        f"--user-data-dir={work / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--window-size=1200,900",
        "--dump-dom",
        probe.as_uri(),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    wall = time.perf_counter() - t0
    # the copy sits beside nothing it links to: links are not followed here
    probe.unlink(missing_ok=True)
    m = re.search(r'id="lc-open-ms">(\d+)<', proc.stdout.decode("utf-8", "replace"))
    return (float(m.group(1)) if m else None), wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="+", type=Path)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="map_open_") as tmp:
        work = Path(tmp)
        for page in args.pages:
            ms, wall = open_ms(page, work)
            size_mib = page.stat().st_size / 2**20
            rows.append(
                {
                    "page": str(page),
                    "mib": round(size_mib, 2),
                    "open_ms": ms,
                    "browser_s": round(wall, 2),
                }
            )
            shown = f"{ms / 1000:.2f} s" if ms is not None else "no probe (did not load)"
            print(f"{page}: {size_mib:.1f} MiB, drawn in {shown}, browser {wall:.1f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if all(r["open_ms"] is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
