"""Copy the npm front-end packages into lonewatch/static/vendor.

The NHS.UK stylesheet loads its fonts from an NHS host that trust networks
(and this build) may not reach, and its icons from the root path /assets/.
Both are rewritten here: fonts fall back to Arial as the design system allows,
icons are served from our own static folder. Leaflet (the console's map) is copied
whole: its script, stylesheet and marker images, so nothing is fetched from the
internet when the page runs.
"""

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "node_modules"
VENDOR = ROOT / "lonewatch" / "static" / "vendor"


def main() -> int:
    nhsuk = MODULES / "nhsuk-frontend" / "dist" / "nhsuk"
    htmx = MODULES / "htmx.org" / "dist" / "htmx.min.js"
    leaflet = MODULES / "leaflet" / "dist"
    for needed in (nhsuk, htmx, leaflet):
        if not needed.exists():
            print(f"missing {needed.relative_to(ROOT)}: run `npm ci` first", file=sys.stderr)
            return 1
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    (VENDOR / "nhsuk").mkdir(parents=True)
    (VENDOR / "htmx").mkdir(parents=True)
    css = (nhsuk / "nhsuk-frontend.min.css").read_text()
    css = re.sub(r"@font-face\{[^}]*assets\.nhs\.uk[^}]*\}", "", css)
    css = css.replace("url(/assets/", "url(/static/vendor/nhsuk/assets/")
    (VENDOR / "nhsuk" / "nhsuk-frontend.min.css").write_text(css)
    shutil.copy(nhsuk / "nhsuk-frontend.min.js", VENDOR / "nhsuk" / "nhsuk-frontend.min.js")
    shutil.copytree(nhsuk / "assets", VENDOR / "nhsuk" / "assets")
    shutil.copy(htmx, VENDOR / "htmx" / "htmx.min.js")
    # leaflet.css finds its marker and layer images at images/, beside it.
    (VENDOR / "leaflet").mkdir()
    for name in ("leaflet.js", "leaflet.js.map", "leaflet.css"):
        shutil.copy(leaflet / name, VENDOR / "leaflet" / name)
    shutil.copytree(leaflet / "images", VENDOR / "leaflet" / "images")
    shutil.copy(leaflet.parent / "LICENSE", VENDOR / "leaflet" / "LICENSE")
    print(f"front-end assets copied to {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
