"""Walking access to Shanghai's 15-minute community life circle (15分钟社区生活圈).

lifecircle_geo measures walking access to the 十全十美 community services, per basic unit and
街镇.

>>> import lifecircle_geo as lc
>>> lc.settings.walk_speed_kmh
4.0
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

from . import (  # noqa: E402
    accessibility,
    batch,
    crs,
    cycle,
    datasets,
    engine,
    extent,
    facilities,
    isochrones,
    offset,
    population,
    routing,
    scenarios,
    standards,
    units,
)
from .analysis import AnalysisResult, analyze  # noqa: E402
from .errors import InputError, LifecircleError, NetworkError, ProfileError  # noqa: E402
from .network import WalkNetwork, WalkRules  # noqa: E402
from .scenarios import compare, scenario  # noqa: E402
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
    "compare",
    "configure",
    "crs",
    "cycle",
    "datasets",
    "display",
    "engine",
    "extent",
    "facilities",
    "isochrones",
    "list_profiles",
    "load_profile",
    "offset",
    "packages",
    "population",
    "report",
    "routing",
    "scenario",
    "scenarios",
    "settings",
    "standards",
    "synth",
    "units",
]

# Imported on first use: the report writers pull in matplotlib and folium (about a second), which
# a run that only measures does not need. ``lc.report`` works all the same.
_LAZY_SUBMODULES = ("display", "packages", "report", "synth")

if TYPE_CHECKING:
    from . import display, packages, report, synth


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
