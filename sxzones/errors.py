"""The error and warning classes of sxzones.

One base class, :class:`SxzonesError`; each subclass also inherits the built-in exception it
resembles, so ``except ValueError`` keeps working for callers that do not know sxzones.
A user mistake (bad file, bad option, bad CRS) is always one of these, never a bare
``ValueError``: the CLI turns them into a one-paragraph message and exit status 2.
"""

from __future__ import annotations


class SxzonesError(Exception):
    """Base class of every error sxzones raises on purpose."""


class CRSError(SxzonesError, ValueError):
    """A coordinate reference system is unknown, missing, or does not fit the coordinates."""


class LayerError(SxzonesError, ValueError):
    """A layer file cannot be used as a whole (unreadable, empty, fields missing)."""


class NoFeatureError(LayerError):
    """Validation rejected every feature of a file; ``report`` (its
    :class:`~sxzones.layers.validate.LayerReport`) holds each row with its reason, for a
    run to write them into its rejects file."""

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[type, tuple[str, object]]:
        return (type(self), (str(self), self.report))


class CatalogError(SxzonesError, ValueError):
    """The layer catalogue is malformed or names a layer it does not have."""


class RecipeError(SxzonesError, ValueError):
    """A recipe file is malformed (unknown key, missing input)."""


class RulesError(SxzonesError, ValueError):
    """A rules file is malformed (missing clause, unknown key, bad parameter)."""


class OutputError(SxzonesError, OSError):
    """An output cannot be written (exists without --overwrite, folder not writable)."""


class SxzonesWarning(UserWarning):
    """Base class of the warnings sxzones emits."""
