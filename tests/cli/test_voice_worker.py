"""`studypilot voice-worker` refuses to start without a LiveKit server to join."""

import os
import subprocess
import sys


def test_voice_worker_without_livekit_settings_exits_naming_them() -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "STUDYPILOT_LIVEKIT"))
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli", "voice-worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    for setting in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        assert setting in result.stderr
