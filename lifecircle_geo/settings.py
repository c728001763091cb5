"""Typed defaults shared by every module: walk speed, search cutoff, cache folder, progress bars.

Change them for a session with :func:`configure` or by assigning attributes of :data:`settings`;
no module keeps state of a run here.

Examples
--------
>>> import lifecircle_geo as lc
>>> lc.settings.walk_speed_kmh
4.0
>>> lc.settings.minutes_to_m(15)
1000.0
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Settings", "configure", "settings"]


def _default_cache() -> Path:
    root = os.environ.get("LIFECIRCLE_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(root) / "lifecircle_geo" if root else Path.home() / ".cache" / "lifecircle_geo"


@dataclass
class Settings:
    """Session-wide defaults.

    Attributes
    ----------
    walk_speed_kmh : float
        Session default walking speed: used when a network is built (ferry and boarding waits
        become equivalent metres at this speed) and by the measures called without a speed.
        :func:`lifecircle_geo.analyze` walks at the *profile's* speed
        (``Profile.walk_speed_kmh``, with its source) and warns when the network was built at
        another one. 4.0 km/h: 800-1000 m in 15 minutes (GB 50180-2018's 15-minute level)
        implies 3.2-4.0 km/h; an assumption, keep it configurable.
    search_cutoff_m : float
        How far a search goes beyond which a resident counts as "not reached" (2,000 m, about
        30 minutes at 4 km/h). Walk times past it are reported as missing, not guessed.
    max_snap_m : float
        Largest distance from a point (facility, resident) to the street network that is still
        snapped; farther points are reported with a reason.
    extent_within_m : float
        The street data's extent is the area within this distance of a walkable street
        (holes it encloses filled): :func:`lifecircle_geo.extent.network_extent`.
    min_network_share : float
        Units with a smaller share of their area inside that extent are ``partial network``:
        their coverage is reported but not turned into projects.
    cache_folder : pathlib.Path
        Where downloads (osmnx) are cached.
    progress : bool
        Show tqdm progress bars on long work.
    write_processes : int
        Processes writing a run's outputs at once. 2: the figures and one-page summaries are
        drawn in a forked second process while this one writes the database, workbook and
        map (where there is a second core and ``fork``; else one after another). 1: one after
        another. A batch gives its tasks a second process only when it runs at most half as
        many tasks at once as there are cores (one 街镇 on two cores), never on Dask.
    log_level : str
        Level for the ``lifecircle_geo`` logger.
    """

    walk_speed_kmh: float = 4.0
    search_cutoff_m: float = 2000.0
    max_snap_m: float = 500.0
    extent_within_m: float = 250.0
    min_network_share: float = 0.9
    cache_folder: Path = field(default_factory=_default_cache)
    progress: bool = True
    write_processes: int = 2
    log_level: str = "WARNING"

    def minutes_to_m(self, minutes: float, speed_kmh: float | None = None) -> float:
        """Metres walked in ``minutes`` at ``speed_kmh`` (default: :attr:`walk_speed_kmh`)."""
        return float(minutes) * (speed_kmh or self.walk_speed_kmh) * 1000.0 / 60.0

    def m_to_minutes(
        self, metres: float | np.ndarray, speed_kmh: float | None = None
    ) -> float | np.ndarray:
        """Minutes needed to walk ``metres`` (scalar or array) at ``speed_kmh``."""
        return metres / ((speed_kmh or self.walk_speed_kmh) * 1000.0 / 60.0)


settings = Settings()


def configure(**kwargs: Any) -> Settings:
    """Change session defaults, e.g. ``configure(walk_speed_kmh=3.6, progress=False)``.

    Raises
    ------
    AttributeError
        For a name that is not a setting.
    """
    for key, value in kwargs.items():
        if not hasattr(settings, key):
            raise AttributeError(f"unknown setting {key!r}; known: {sorted(vars(settings))}")
        setattr(settings, key, value)
    logging.getLogger("lifecircle_geo").setLevel(settings.log_level)
    return settings
