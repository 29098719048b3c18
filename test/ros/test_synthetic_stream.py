"""The generated demo stream: every face it draws is found where it says, and keeps one track id."""

from __future__ import annotations

import pytest

from fer_ros.core.boxes import box_iou as iou
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.tracking import Tracker
from fer_ros.ros.synthetic_stream import SyntheticFaceStream


@pytest.mark.parametrize("faces", [1, 2])
def test_faces_are_found_where_drawn_and_keep_their_ids(faces):
    stream, pipeline, tracker = SyntheticFaceStream(faces=faces), Pipeline(), Tracker()
    ids_per_face: list[set[str]] = [set() for _ in range(faces)]
    for index in range(0, 60, 3):
        tracked = tracker.update(pipeline.process(stream.frame(index)).faces)
        assert len(tracked) == faces, f"frame {index}: {len(tracked)} faces found, {faces} drawn"
        for k, truth in enumerate(stream.face_boxes(index)):
            best = max(tracked, key=lambda f: iou(f.detection.box, truth))
            assert iou(best.detection.box, truth) > 0.4, (index, k, best.detection.box, truth)
            assert best.emotion == "happy"
            ids_per_face[k].add(best.track_id)
    assert all(len(ids) == 1 for ids in ids_per_face), ids_per_face
    assert len(set().union(*ids_per_face)) == faces


def test_only_one_or_two_faces():
    with pytest.raises(ValueError, match="1 or 2 faces"):
        SyntheticFaceStream(faces=3)
