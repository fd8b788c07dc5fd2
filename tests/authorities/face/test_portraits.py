"""The shipped portraits and the fixture captures built from them."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from realname.authorities.face import (
    PORTRAITS,
    Action,
    DlibEngine,
    UnknownPortrait,
    capture,
    face_capture,
    live_sequence,
    live_still,
    portrait,
    portrait_bytes,
    portraits,
    replay_sequence,
)
from realname.authorities.face.images import decode_frames


def test_every_shipped_image_is_the_one_source_md_describes() -> None:
    source = portraits.data_bytes("SOURCE.md").decode()
    listed = dict(re.findall(r"^\| (\S+\.jpg) \| ([0-9a-f]{64}) \|$", source, re.MULTILINE))
    assert set(listed) >= {
        *PORTRAITS.values(),
        "obama2.jpg",
        "obama3.jpg",
        "obama_partial_face.jpg",
    }
    for name, digest in listed.items():
        assert hashlib.sha256(portraits.data_bytes(name)).hexdigest() == digest, name


def test_the_registry_names_three_people(engine: DlibEngine) -> None:
    assert PORTRAITS == {"p1": "obama.jpg", "p2": "biden.jpg", "p3": "astronaut.jpg"}
    faces = [engine.analyse(portrait(ref)) for ref in ("p1", "p2", "p3")]
    for i, a in enumerate(faces):
        for b in faces[i + 1 :]:
            assert not engine.compare(a, b).is_match
    assert portrait_bytes("p1").startswith(b"\xff\xd8")
    with pytest.raises(UnknownPortrait):
        portrait("p9")


@pytest.mark.parametrize("ref", ["p1", "p2", "p3"])
def test_a_live_still_is_the_person_but_not_the_portrait(engine: DlibEngine, ref: str) -> None:
    still = live_still(ref)
    assert still.shape != portrait(ref).shape or not np.array_equal(still, portrait(ref))
    assert engine.compare(still, portraits.portrait_face(ref)).is_match


@pytest.mark.parametrize(
    ("ref", "kind", "count"),
    [
        ("live:p1", "live", 3),
        ("live:p3", "live", 3),
        ("replay:p2", "replay", 5),
        ("none", "none", 1),
    ],
)
def test_fixture_captures(ref: str, kind: str, count: int) -> None:
    made = capture(ref)
    assert (made.kind, len(made.frames)) == (kind, count)
    assert made.person == (None if kind == "none" else ref.split(":")[1])
    carried = made.to_face_capture()
    assert face_capture(ref) == carried  # the protocol-shaped capture source
    assert carried.media_type == ("image/jpeg" if count == 1 else "image/png")
    decoded = decode_frames(carried.content, carried.media_type)
    assert len(decoded) == count
    assert all(frame.shape == made.frames[0].shape for frame in decoded)


@pytest.mark.parametrize("ref", ["live:p4", "replay:", "p1", "LIVE:p1", "none:p1"])
def test_unknown_capture_references_are_refused(ref: str) -> None:
    with pytest.raises(UnknownPortrait):
        capture(ref)


def test_sequences_are_deterministic() -> None:
    cached = live_sequence("p3", [Action.OPEN_MOUTH])
    fresh = portraits._sequence.__wrapped__("p3", (Action.OPEN_MOUTH,))
    assert all(np.array_equal(a, b) for a, b in zip(cached, fresh, strict=True))
    assert len(live_sequence("p3", ["blink", "turn_left"])) == 5
    # Frames are shared through the cache, so they are read-only.
    with pytest.raises(ValueError, match="read-only"):
        cached[0][0, 0, 0] = 0


def test_replay_frames_show_the_portrait_itself(engine: DlibEngine) -> None:
    frames = replay_sequence("p1")
    reference = portraits.portrait_face("p1")
    distances = [engine.compare(frame, reference).distance for frame in frames[:2]]
    assert max(distances) < 0.3
    assert not np.array_equal(frames[0], frames[1])
