"""Face engine benchmark: analysis time per 640×480 image on one core, and distances.

Run as ``python bench/bench_face.py [--repeat N]``. The process pins itself to one
CPU and caps every thread pool at one thread before NumPy or dlib load, so the
figures are single-core. Every time is printed next to a baseline measured in the
same run on the same image — Pillow decoding the JPEG and resizing it to half
size — so the ratio means something across machines:

- ``analyse``: decode + HOG detection + 68 and 5 landmarks + aligned chip + 128-d
  descriptor (everything :func:`realname.authorities.face.analyse` does);
- the same split into detection alone and descriptor alone;
- a five-frame active-liveness evaluation (two actions), per capture.

It then prints the descriptor distances the thresholds are set against.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402 - the environment above must be set before these load
import io  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from realname.authorities.face import (  # noqa: E402
    Action,
    Challenge,
    Comparison,
    InMemoryChallengeStore,
    default_engine,
    evaluate,
    live_sequence,
)
from realname.authorities.face.images import encode_jpeg, to_rgb  # noqa: E402
from realname.authorities.face.portraits import data_bytes, recaptured  # noqa: E402


def _ms(run: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``run`` in milliseconds, after one warm-up call."""
    run()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _test_image() -> bytes:
    """obama2.jpg cropped to 4:3 around the face and scaled to 640×480, as a JPEG."""
    photo = to_rgb(data_bytes("obama2.jpg"))
    left, top, right, bottom = default_engine().analyse(photo, descriptor=False).box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    width = min(photo.shape[1], 2.4 * (right - left))
    height = width * 3 / 4
    box = (
        round(max(0, cx - width / 2)),
        round(max(0, cy - height / 2)),
        round(max(0, cx - width / 2) + width),
        round(max(0, cy - height / 2) + height),
    )
    frame = Image.fromarray(photo).crop(box).resize((640, 480), Image.Resampling.LANCZOS)
    return encode_jpeg(np.asarray(frame), quality=90)


def _report(label: str, result: Comparison) -> None:
    print(
        f"  {label:<32} {result.distance:.3f}  sim {result.similarity:5.1f}"
        f"  match={result.is_match}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    engine = default_engine()
    start = time.perf_counter()
    engine.warm_up()
    print(f"models loaded in {(time.perf_counter() - start) * 1000:.0f} ms (once per process)")

    jpeg = _test_image()
    rgb = to_rgb(jpeg)
    models = engine.models

    def baseline() -> None:
        with Image.open(io.BytesIO(jpeg)) as image:
            image.convert("RGB").resize((320, 240), Image.Resampling.BILINEAR)

    face = engine.analyse(rgb)
    chip = models.chip(rgb, face.box)
    base_ms = _ms(baseline, args.repeat)
    rows = [
        ("baseline: Pillow decode + resize", base_ms),
        (
            "analyse (decode, detect, landmarks, descriptor)",
            _ms(lambda: engine.analyse(jpeg), args.repeat),
        ),
        ("  detection only (HOG, 640×480)", _ms(lambda: models.detect(rgb, 0), args.repeat)),
        (
            "  descriptor only (ResNet, 150×150 chip)",
            _ms(lambda: models.descriptor(chip), args.repeat),
        ),
    ]
    print(f"\none core, 640×480 JPEG, median of {args.repeat}")
    for label, ms in rows:
        print(f"  {label:<50} {ms:8.1f} ms/image  {ms / base_ms:7.1f}× baseline")

    actions = (Action.BLINK, Action.TURN_LEFT)
    frames = live_sequence("p1", actions)
    store = InMemoryChallengeStore()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    counter = iter(range(10**6))

    def liveness() -> None:
        challenge = Challenge(f"bench-{next(counter)}", actions, now, now + timedelta(minutes=2))
        store.save(challenge)
        assert evaluate(challenge, frames, store=store, now=now, engine=engine).passed

    live_ms = _ms(liveness, max(3, args.repeat // 3))
    print(
        f"  {'active liveness, 5 frames of 480×480':<50} {live_ms:8.1f} ms/capture"
        f" {live_ms / base_ms:7.1f}× baseline"
    )

    print("\ndescriptor distances (match at ≤ 0.6; similarity = 100 − 50·distance)")
    described = {
        name: engine.analyse(data_bytes(f"{name}.jpg"))
        for name in ("obama", "obama2", "obama3", "biden", "astronaut")
    }
    pairs = [("obama", "obama2"), ("obama", "obama3"), ("obama2", "obama3"), ("obama", "biden")]
    for a, b in pairs:
        _report(f"{a}–{b}", engine.compare(described[a], described[b]))
    _report("astronaut–transformed copy", engine.compare(described["astronaut"], recaptured("p3")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
