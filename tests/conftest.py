"""Shared test fixtures.

Data that nobody on the project made lives in ``../shared/data`` beside the checkout (CI
puts it there); tests that need it skip with a clear reason when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SAMPLE_VIDEOS = REPO_ROOT / "sample_videos"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data``; skips the test when it is not beside the checkout."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (CI provides ../shared beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_videos() -> Path:
    """The bundled sample clips with their truth files (always in the repository)."""
    return SAMPLE_VIDEOS


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The provisioned full pose model (``resolve_model()``); skips when none is found."""
    from gaitcheck.errors import ModelError
    from gaitcheck.pose.model import resolve_model

    try:
        return resolve_model()
    except ModelError as exc:
        pytest.skip(f"pose model not provisioned; run `gaitcheck model ensure` first ({exc})")
