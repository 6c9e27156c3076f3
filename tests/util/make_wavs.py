"""make_wavs.py DIR — the WAV files of the audio converter's tests (test_convert_audio.c and .sh),
written with Python's wave module: s0..s7.wav, 16 kHz mono 16-bit, 0.30 + 0.07·i s each (a sine
of 300 + 90·i Hz plus noise; s0..s3 loud, s4..s7 quiet and higher, so statistics over s0..s3 differ
from those over all eight); st8k.wav, 8 kHz stereo (resampled); and the bad ones: text.wav (not
audio), empty.wav (no samples), short.wav (300 samples, less than one 400-sample window)."""
import sys
import wave

import numpy as np

d = sys.argv[1]


def write(name, x, rate=16000, channels=1):
    w = wave.open(f"{d}/{name}", "wb")
    w.setnchannels(channels)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes(np.round(np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    w.close()


for i in range(8):
    rng = np.random.default_rng(i)
    n = int(16000 * (0.30 + 0.07 * i))
    t = np.arange(n) / 16000
    amp = 0.3 if i < 4 else 0.05
    write(f"s{i}.wav", amp * np.sin(2 * np.pi * (300 + 90 * i) * t) + 0.01 * rng.standard_normal(n))
t = np.arange(4000) / 8000
write("st8k.wav", np.stack([0.2 * np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 660 * t)], 1).ravel(), 8000, 2)
write("empty.wav", np.zeros(0))
write("short.wav", 0.1 * np.sin(np.arange(300) * 0.3))
open(f"{d}/text.wav", "w").write("path,label\nnot audio at all\n")
