"""Finding a font that draws Chinese (CJK) text in matplotlib figures.

Looks the installed fonts up by family name through :mod:`matplotlib.font_manager`. On Debian
and Ubuntu ``apt-get install fonts-noto-cjk`` or ``fonts-wqy-microhei`` provides one; on
Windows and macOS the system fonts (Microsoft YaHei, SimHei, PingFang SC) are found as they are.
Set ``LIFECIRCLE_CJK_FONT`` to a family name or a font file to choose another.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path

__all__ = ["CJK_FAMILIES", "cjk_font"]

log = logging.getLogger(__name__)

#: Families tried in order: simplified Chinese first, then any CJK face that has the hanzi.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "STHeiti",
    "Hiragino Sans GB",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Noto Sans CJK HK",
    "Source Han Sans",
    "Noto Serif CJK SC",
    "Noto Serif CJK JP",
    "Source Han Serif SC",
    "SimSun",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Droid Sans Fallback",
    "Arial Unicode MS",
)

# File names of CJK fonts, for fonts installed after matplotlib built its font cache.
_FILE_HINT = re.compile(
    r"(wqy|wenquanyi|notosanscjk|notoserifcjk|notosanssc|sourcehan|simhei|simsun|msyh|"
    r"pingfang|hiragino|droidsansfallback|uming|ukai|stheiti|arialuni)",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Return the family name of an installed font that draws Chinese, or ``None``.

    The result is cached for the session; call ``cjk_font.cache_clear()`` after installing a
    font.

    Returns
    -------
    str or None
        A family name usable in ``rcParams["font.sans-serif"]``.

    Examples
    --------
    >>> from lifecircle_geo.report.fonts import cjk_font
    >>> family = cjk_font()
    >>> family is None or isinstance(family, str)
    True
    """
    from matplotlib import font_manager

    wanted = os.environ.get("LIFECIRCLE_CJK_FONT", "").strip()
    if wanted and Path(wanted).is_file():
        try:
            font_manager.fontManager.addfont(wanted)
            return font_manager.FontProperties(fname=wanted).get_name()
        except Exception as exc:
            log.warning("LIFECIRCLE_CJK_FONT=%s could not be loaded: %s", wanted, exc)
    preferred = ((wanted,) if wanted else ()) + CJK_FAMILIES

    found = _pick(preferred)
    if found:
        return found
    # matplotlib's cache predates the font: look at the font files themselves.
    added = 0
    for fname in font_manager.findSystemFonts():
        if _FILE_HINT.search(Path(fname).name):
            try:
                font_manager.fontManager.addfont(fname)
                added += 1
            except Exception:
                continue
    if added:
        log.debug("added %d CJK font files missing from matplotlib's cache", added)
        return _pick(preferred)
    return None


def _pick(preferred: tuple[str, ...]) -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in preferred:
        if family in names:
            return family
    return None
