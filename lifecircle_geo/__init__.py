"""lifecircle_geo: walking access to the 十全十美 community services of Shanghai's
15-minute community life circle (15分钟社区生活圈), per basic unit and 街镇.

>>> import lifecircle_geo as lc
>>> lc.settings.walk_speed_kmh
4.0
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lifecircle-geo")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

from . import (  # noqa: E402
    accessibility,
    batch,
    crs,
    engine,
    facilities,
    isochrones,
    population,
    standards,
    units,
)
from .analysis import AnalysisResult, analyze  # noqa: E402
from .errors import InputError, LifecircleError, NetworkError, ProfileError  # noqa: E402
from .network import WalkNetwork, WalkRules  # noqa: E402
from .settings import configure, settings  # noqa: E402
from .standards import list_profiles, load_profile  # noqa: E402

__all__ = [
    "AnalysisResult",
    "InputError",
    "LifecircleError",
    "NetworkError",
    "ProfileError",
    "WalkNetwork",
    "WalkRules",
    "__version__",
    "accessibility",
    "analyze",
    "batch",
    "configure",
    "crs",
    "engine",
    "facilities",
    "isochrones",
    "list_profiles",
    "load_profile",
    "population",
    "settings",
    "standards",
    "units",
]
