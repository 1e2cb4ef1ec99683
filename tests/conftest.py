from __future__ import annotations

import sys
from pathlib import Path

import os

import pytest
from hypothesis import settings

# CI replays the same examples every run (a red CI lands nothing); locally each run explores anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

try:  # the page tests: an expect() waits for what it checks as long as a page action does (its
    # default is 5 s, which a busy shared machine overran: CI-like runs under load failed there)
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
except ImportError:  # installed with the test extra; without it the browser tests skip
    pass


@pytest.fixture(scope="session")
def bot():
    from bot import ChatBot

    return ChatBot.load()


@pytest.fixture(scope="session")
def second_dir(tmp_path_factory) -> Path:
    """eval/second-corpus copied to a temporary folder (tests may index or edit it)."""
    import shutil

    return Path(shutil.copytree(ROOT / "eval" / "second-corpus", tmp_path_factory.mktemp("second") / "corpus"))


@pytest.fixture(scope="session")
def second_bot(second_dir):
    from bot import ChatBot

    return ChatBot.load(second_dir)
