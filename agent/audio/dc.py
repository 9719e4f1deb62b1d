"""Taking a steady DC offset out of the input, before the VAD (agent/audio/vad.py)."""

from __future__ import annotations

import math

import numpy as np

from agent.messages import AudioFrame

DC_TIME_S = 0.5
"""How quickly the DC blocker follows a change of offset; a speech sound's own mean
over half a second is near zero."""
DC_MIN = 0.005
"""An offset below this share of full scale (-46 dBFS) is left in: it hides nothing."""


class DcBlocker:
    """Takes a steady offset (DC) out of the frames (the segmenter, agent/audio/vad.py, runs
    every frame through it first): a microphone or interface that adds
    one lifts every frame's level, so the noise gate and webrtcvad heard nothing as
    speech (0.2 of full scale dropped all of it). The offset is followed as a running
    mean of the frames' means (time constant DC_TIME_S), which leaves speech alone."""

    def __init__(self, frame_s: float) -> None:
        self._keep = math.exp(-frame_s / DC_TIME_S)
        self._dc: float | None = None

    def remove(self, frame: AudioFrame) -> AudioFrame:
        x = np.frombuffer(frame.pcm, dtype="<i2").astype(np.float32)
        if not x.size:
            return frame
        if self._dc is None:  # an offset there from the start, above what sounds on it,
            mean = float(x.mean())  # goes at once (a sound's own mean is below its swing)
            self._dc = mean if abs(mean) > float(x.std()) else 0.0
        else:
            self._dc = self._keep * self._dc + (1 - self._keep) * float(x.mean())
        if abs(self._dc) < DC_MIN * 32768:  # audio as it should be: left bit for bit
            return frame
        y = np.clip(np.rint(x - self._dc), -32768, 32767).astype("<i2")
        return AudioFrame(y.tobytes(), frame.start)
