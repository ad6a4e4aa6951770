"""Find, download or build the MediaPipe pose landmarker model (``pose_landmarker_*.task``).

Resolution order: an explicit path, then the ``GAITCHECK_MODEL`` environment variable,
then the per-user cache (``platformdirs.user_cache_dir("gaitcheck")/models``, or
``$GAITCHECK_CACHE_DIR/models``).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from gaitcheck.errors import ModelError

VARIANTS = ("lite", "full", "heavy")
DEFAULT_VARIANT = "full"
MODEL_ENV = "GAITCHECK_MODEL"
CACHE_DIR_ENV = "GAITCHECK_CACHE_DIR"


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ModelError(f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}")


def model_filename(variant: str = DEFAULT_VARIANT) -> str:
    """File name of a variant, e.g. ``pose_landmarker_full.task``."""
    _check_variant(variant)
    return f"pose_landmarker_{variant}.task"


def model_cache_dir() -> Path:
    """Directory where provisioned models are kept (``$GAITCHECK_CACHE_DIR`` overrides the root)."""
    root = os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("gaitcheck")
    return Path(root).expanduser() / "models"


def resolve_model(explicit: str | os.PathLike[str] | None = None, variant: str = DEFAULT_VARIANT) -> Path:
    """Find an existing model file without downloading or building anything.

    Parameters
    ----------
    explicit
        Path given by the user (``--model``); when set it must exist.
    variant
        ``"lite"``, ``"full"`` or ``"heavy"``; picks the file name looked up in the cache.

    Returns
    -------
    Path
        The model file.

    Raises
    ------
    ModelError
        When nothing is found; the message lists every location tried and how to fix it.
    """
    _check_variant(variant)
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelError(f"model file {path} (given with --model) does not exist; pass the path of a .task file")
        return path
    env_value = os.environ.get(MODEL_ENV)
    if env_value:
        path = Path(env_value).expanduser()
        if not path.is_file():
            raise ModelError(
                f"model file {path} (from ${MODEL_ENV}) does not exist; fix or unset {MODEL_ENV}, "
                "or run `gaitcheck model ensure`"
            )
        return path
    cached = model_cache_dir() / model_filename(variant)
    if cached.is_file():
        return cached
    raise ModelError(
        f"no {variant} pose model found. Tried: --model (not given); ${MODEL_ENV} (not set); "
        f"cache {cached} (missing). Fix: run `gaitcheck model ensure --variant {variant}` "
        f"(downloads it, or builds it offline), or set {MODEL_ENV} to a pose_landmarker .task file"
    )
