"""The Rasa project itself: data validates, and every rule/story path in bot/tests passes `rasa test`."""

import os
import subprocess

from api.stack import BOT_DIR, RASA_ENV, ensure_model, rasa_bin


def _rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(rasa_bin()), *args], cwd=BOT_DIR, env={**os.environ, **RASA_ENV}, capture_output=True, text=True, timeout=timeout
    )


def test_training_data_validates():
    result = _rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_conversation_stories_pass(tmp_path):
    model = ensure_model()
    result = _rasa("test", "core", "--model", str(model), "--stories", "tests/test_stories.yml", "--out", str(tmp_path), "--fail-on-prediction-errors")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
