"""A steady DC offset on the input (issue 18): 0.2 of full scale or more once dropped
all speech silently, as the noise gate and webrtcvad heard every frame as loud. Run for
real: espeak-ng's "new tab" with the offset added, through `run --input --dry-run
--json` and the embedded model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.integration.test_cli import NEW_TAB, Audio, Home, audio, dry_run, home, json_lines

__all__ = ["audio", "home"]  # fixtures, shared with test_cli.py


@pytest.mark.parametrize("offset", [0.3, -0.3])
def test_a_command_with_a_dc_offset_is_still_heard(home: Home, audio: Audio, tmp_path: Path,
                                                   offset: float) -> None:
    speech, rate = soundfile.read(audio.new_tab, dtype="float32")
    shifted = tmp_path / "new-tab-dc.wav"
    soundfile.write(shifted, np.clip(speech + offset, -1, 1), rate, subtype="PCM_16")
    (line,) = json_lines(dry_run(home, shifted))
    assert {k: line[k] for k in NEW_TAB} == NEW_TAB, line
