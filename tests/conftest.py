"""Shared test fixtures. Area-specific fixtures live in each test folder's own conftest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("SHANGJIA_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The third-party corpus, read in place (never copied into the project)."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}: CI keeps ../shared beside the clone; set SHANGJIA_CORPUS")
    return CORPUS


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch):
    """No test may reach a real AWS account by accident."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def _fresh_profiles():
    """A warm container keeps merchants' profiles for a while (merchants.profile_ttl_s); each
    test starts with a cold one, as its tables are new."""
    from shangjia.pipeline.merchants import forget_profiles

    forget_profiles()
    yield
    forget_profiles()
