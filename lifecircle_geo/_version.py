"""The package version, in one place.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), so the installed metadata and
``lifecircle_geo.__version__`` cannot disagree. Modules import it from here, never from the
package root.
"""

__version__ = "0.1.0"
