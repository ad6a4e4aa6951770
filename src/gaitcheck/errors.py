"""Exceptions that carry a message fit to show a user.

Every error names the file it concerns (when there is one) and what to do about it.
The CLI prints ``str(error)`` and exits with :attr:`GaitcheckError.exit_code`.
"""

from __future__ import annotations


class GaitcheckError(Exception):
    """Base class: a problem the user can fix; the message says how."""

    exit_code = 1


class InputError(GaitcheckError):
    """A file given by the user cannot be used (missing, unreadable, wrong kind)."""

    exit_code = 2


class VideoError(InputError):
    """A video cannot be decoded or holds no usable frames."""


class ModelError(GaitcheckError):
    """The pose model cannot be found, downloaded or built."""

    exit_code = 3


class TrackError(GaitcheckError):
    """A pose track is malformed or does not contain what an analysis needs."""

    exit_code = 4


class AnalysisError(GaitcheckError):
    """The clip cannot be analysed (no strides, wrong activity, no legs visible, ...)."""

    exit_code = 5
