"""Training on FER+ votes, warm start from an exported ONNX file, product-matched crops, the ensemble graph."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the 'train' extra (torch)")

import cv2  # noqa: E402
import onnxruntime as ort  # noqa: E402
import skimage.data  # noqa: E402
from test_ferplus import write_ferplus  # noqa: E402
from training_fixtures import tiny_config  # noqa: E402

from fer_ros.core.classifiers import EmotionClassifier  # noqa: E402
from fer_ros.core.labels import EMOTION_LABELS  # noqa: E402
from fer_ros.core.model_registry import find_model_file  # noqa: E402
from fer_ros.training import augment as aug  # noqa: E402
from fer_ros.training.config import AugmentConfig, DataConfig  # noqa: E402
from fer_ros.training.data import ImageSet, concat_sets  # noqa: E402
from fer_ros.training.ensemble import Member, build_ensemble  # noqa: E402
from fer_ros.training.export import export_checkpoint  # noqa: E402
from fer_ros.training.models import build_model  # noqa: E402
from fer_ros.training.onnx_weights import load_onnx_weights, recalibrate_batchnorm  # noqa: E402
from fer_ros.training.product_crops import measure_box_stats, photo_chips  # noqa: E402
from fer_ros.training.scn import SelfCureNetwork  # noqa: E402
from fer_ros.training.trainer import train  # noqa: E402

SHIPPED_RESNET = "emotion_fer_resnet_fer2013.onnx"


def shipped_resnet() -> torch.nn.Module:
    return build_model("fer_resnet", 7, 1, widths=[32, 32, 64, 128, 256], dropout=0.3)


def test_onnx_weights_reproduce_the_shipped_model():
    path = find_model_file(SHIPPED_RESNET)
    model = shipped_resnet()
    assert load_onnx_weights(model, path) == 26
    model.eval()
    x = torch.randn(6, 1, 40, 40)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(torch.softmax(model(x), 1).numpy() - expected).max() < 1e-5
        recalibrate_batchnorm(model, torch.randn(64, 1, 40, 40) * 2 + 0.3)
        assert np.abs(torch.softmax(model(x), 1).numpy() - expected).max() < 1e-5
    bn = model.stem[0][1]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var), atol=1e-3)  # statistics moved


def test_onnx_weights_refuse_another_architecture():
    small = build_model("fer_resnet", 7, 1, widths=[8, 8, 16, 32, 64])
    with pytest.raises(ValueError, match="does not fit"):
        load_onnx_weights(small, find_model_file(SHIPPED_RESNET))
    with pytest.raises(ValueError, match="not the same architecture"):
        load_onnx_weights(build_model("mini_xception", 7, 1), find_model_file(SHIPPED_RESNET))


SEED = "emotion_mini_xception_fer2013.onnx"


def test_onnx_weights_reproduce_the_converted_seed():
    """The paper's mini-Xception (3x3 class convolution, Keras "same" pooling) is the converted seed's function."""
    path = find_model_file(SEED)
    model = build_model("mini_xception", 7, 1, head="conv")
    assert load_onnx_weights(model, path) == 46
    model.eval()
    x = torch.randn(6, 1, 64, 64)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(torch.softmax(model(x), 1).numpy() - expected).max() < 1e-5
    with pytest.raises(ValueError, match="not the same architecture"):  # pooled features + linear layer
        load_onnx_weights(build_model("mini_xception", 7, 1), path)
    with pytest.raises(ValueError, match="linear layer"):
        SelfCureNetwork(model)


def test_seed_fine_tunes_with_degradations_and_exports(tmp_path, tiny_dataset):
    """Fine-tuning the seed at 64x64 with blur/JPEG/low resolution (this used to crash libtorch) and export."""
    config = tiny_config(tmp_path / "run", tiny_dataset, init_from=str(find_model_file(SEED)),
                         model={"name": "mini_xception", "kwargs": {"head": "conv"}},
                         data={"input_size": 64, "mean": 0.5, "std": 0.5},
                         augment={"blur_prob": 0.5, "jpeg_prob": 0.5, "lowres_prob": 0.5})
    metrics = train(config)
    assert np.isfinite(metrics["history"][0]["train_loss"])
    result = export_checkpoint(tmp_path / "run" / "last.pt", tmp_path / "mx.onnx")
    assert result.max_abs_diff < 1e-4 and result.metadata["input_size"] == "64,64"
    assert EmotionClassifier.from_model(str(result.path)).predict([np.zeros((64, 64, 3), np.uint8)]).shape == (1, 7)


def test_degraded_batch_has_plain_nchw_strides():
    x = torch.rand(8, 1, 64, 64)
    out = aug.degrade(x, AugmentConfig(blur_prob=1.0, jpeg_prob=1.0))
    assert out.shape == x.shape and out.stride() == torch.empty(out.shape).stride()


def test_box_jitter_crops_around_the_measured_box():
    x = torch.zeros(1, 1, 48, 48)
    x[:, :, 12:36, 12:36] = 1.0  # a bright square covering the central half
    cfg = AugmentConfig(hflip=False, rotation_deg=0, brightness=0, contrast=0, box_scale=0.5, box_log_sd=1e-6,
                        box_shift_sd=0.0)
    out = aug.augment(x, cfg, torch.Generator().manual_seed(0), out_size=40)
    assert out.shape == (1, 1, 40, 40)
    assert out[0, 0, 2:-2, 2:-2].min() > 0.9  # the box of half the image side fills the whole crop
    wide = aug.augment(x, AugmentConfig(hflip=False, rotation_deg=0, brightness=0, contrast=0, scale=0,
                                        translate_px=0), None, out_size=40)
    assert wide[0, 0, 0, 0] < 0.1 and wide[0, 0, 20, 20] > 0.9  # without: the whole image, resized


def test_box_centre_moves_the_crop():
    x = torch.zeros(1, 1, 48, 48)
    x[:, :, 24:, :] = 1.0  # bright lower half
    cfg = AugmentConfig(hflip=False, rotation_deg=0, brightness=0, contrast=0, box_scale=0.5, box_log_sd=1e-6,
                        box_shift_sd=0.0, box_centre_y=0.75)
    out = aug.augment(x, cfg, torch.Generator().manual_seed(0), out_size=40)
    assert out[0, 0, 2:-2, 2:-2].min() > 0.9  # the half-size box centred at 3/4 height is all lower half
    centred = aug.augment(x, AugmentConfig(hflip=False, rotation_deg=0, brightness=0, contrast=0, box_scale=0.5,
                                           box_log_sd=1e-6), None, out_size=40)
    assert centred[0, 0, 2, 20] < 0.1 and centred[0, 0, -3, 20] > 0.9


def test_box_jitter_spreads_sizes_and_centres():
    x = torch.rand(256, 1, 48, 48)
    cfg = AugmentConfig(box_scale=0.9, box_log_sd=0.15, box_shift_sd=0.05)
    gen = torch.Generator().manual_seed(0)
    first = aug.augment(x, cfg, gen, out_size=40)
    second = aug.augment(x, cfg, gen, out_size=40)
    assert first.shape == (256, 1, 40, 40) and not torch.allclose(first, second)


def test_degrade_blurs_and_compresses_on_uint8():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((8, 1, 40, 40)).astype(np.float32))
    same = aug.degrade(x, AugmentConfig())
    assert same is x  # nothing asked for: untouched
    blurred = aug.degrade(x, AugmentConfig(blur_prob=1.0, blur_sigma=1.5), torch.Generator().manual_seed(0))
    assert blurred.shape == x.shape and blurred.std() < x.std() * 0.8
    jpeg = aug.degrade(x, AugmentConfig(jpeg_prob=1.0, jpeg_quality=10), torch.Generator().manual_seed(0))
    assert (jpeg - x).abs().mean() > 0.02 and jpeg.min() >= 0 and jpeg.max() <= 1
    rgb = torch.rand(4, 3, 40, 40)
    gray = aug.degrade(rgb, AugmentConfig(gray_prob=1.0), torch.Generator().manual_seed(0))
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])


def test_concat_sets_turns_hard_labels_into_one_hot_rows():
    images = np.zeros((2, 4, 4), np.uint8)
    soft = ImageSet(images, np.array([0, 6]), EMOTION_LABELS, ["a", "b"], np.full((2, 7), 1 / 7, np.float32))
    hard = ImageSet(images, np.array([3, 1]), EMOTION_LABELS, ["c", "d"])
    joined = concat_sets([soft, hard])
    assert joined.images.shape == (4, 4, 4) and joined.targets.tolist() == [0, 6, 3, 1]
    assert np.allclose(joined.soft[2:], np.eye(7)[[3, 1]]) and np.allclose(joined.soft[:2], 1 / 7)
    with pytest.raises(ValueError, match="different labels"):
        concat_sets([soft, ImageSet(images, np.array([0, 1]), ("female", "male"), ["e", "f"])])


@pytest.mark.parametrize("target", ["majority", "distribution", "probability"])
def test_train_on_ferplus_votes_with_extra_sets(tmp_path, tiny_dataset, target):
    root = write_ferplus(tmp_path / "fp")
    config = tiny_config(tmp_path / "run", tiny_dataset, keep_epochs=True,
                         data={"train_dir": str(root), "val_dir": str(root), "ferplus_target": target,
                               "source_size": 48,
                               "extra_train": [{"dir": str(tiny_dataset[0])}],
                               "extra_val": [{"name": "folder", "dir": str(tiny_dataset[1]), "mode": "crops"}]},
                         augment={"box_scale": 0.96, "box_log_sd": 0.14, "box_shift_sd": 0.05, "blur_prob": 0.3,
                                  "jpeg_prob": 0.3, "lowres_prob": 0.3})
    metrics = train(config)
    entry = metrics["history"][0]
    assert 0.0 <= entry["folder_acc"] <= 1.0 and "val_acc" in entry
    assert (tmp_path / "run" / "epoch_001.pt").is_file()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["data"]["ferplus_target"] == target


def test_ferplus_soft_targets_need_mode_ce(tmp_path, tiny_dataset):
    root = write_ferplus(tmp_path / "fp")
    config = tiny_config(tmp_path / "run", tiny_dataset, mode="scn",
                         data={"train_dir": str(root), "val_dir": str(root), "ferplus_target": "distribution"})
    with pytest.raises(ValueError, match="needs mode 'ce'"):
        train(config)


def test_warm_start_from_onnx_keeps_the_shipped_accuracy_at_epoch_zero(tmp_path, tiny_dataset):
    from fer_ros.training.checkpoint import build_training_model
    from fer_ros.training.trainer import evaluate, initialise, load_datasets

    config = tiny_config(tmp_path / "run", tiny_dataset, init_from=str(find_model_file(SHIPPED_RESNET)),
                         data={"input_size": 40}, model={"name": "fer_resnet",
                                                         "kwargs": {"widths": [32, 32, 64, 128, 256]}})
    train_set, val_set, _ = load_datasets(config)
    model = build_training_model(config)
    initialise(model, config, train_set)
    got = evaluate(model, val_set, config, torch.device("cpu"))
    clf = EmotionClassifier.from_model("fer-resnet-fer2013")
    chips = [cv2.resize(img, (40, 40)) for img in val_set.images]
    expected = float((clf.predict(chips).argmax(1) == val_set.targets).mean())
    assert got.accuracy == pytest.approx(expected)


def astronaut_photos(root):
    face = np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])
    (root / "happy").mkdir(parents=True)
    (root / "sad").mkdir()
    cv2.imwrite(str(root / "happy" / "a.jpg"), face)
    cv2.imwrite(str(root / "sad" / "blank.jpg"), np.full((200, 200, 3), 90, np.uint8))
    return root


def test_photo_chips_are_what_fer_ros_eval_classifies(tmp_path):
    from fer_ros.cli import eval as fer_eval

    root = astronaut_photos(tmp_path / "photos")
    data = DataConfig(input_size=40, face_crop="square")
    chips = photo_chips(root, data)
    assert chips.images.shape == (1, 40, 40) and chips.missing == 1 and chips.targets.tolist() == [3]
    out = tmp_path / "r.json"
    assert fer_eval.main([str(root), "--task", "emotion", "--mode", "photos", "--model", "fer-resnet-fer2013",
                          "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    clf = EmotionClassifier.from_model("fer-resnet-fer2013")
    assert result["faces_found"] == 1
    ours = clf.predict([cv2.cvtColor(chips.images[0], cv2.COLOR_GRAY2BGR)]).argmax(1)[0]
    assert (ours == 3) == (result["per_class"]["happy"]["recall"] == 1.0)


def test_measure_box_stats_on_a_face(tmp_path):
    face = cv2.resize(np.ascontiguousarray(skimage.data.astronaut()[30:230, 130:330, ::-1]), (48, 48))
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), np.roll(face, i, axis=1))
        paths.append(path)
    stats = measure_box_stats(paths)
    assert stats.found == 3 and 0.4 < stats.box_scale < 1.2 and 0.3 < stats.centre_x < 0.7
    with pytest.raises(ValueError, match="too few"):
        measure_box_stats([tmp_path / "0.png"])


def test_ensemble_graph_averages_its_members(tmp_path):
    resnet = find_model_file(SHIPPED_RESNET)
    seed = find_model_file("emotion_mini_xception_fer2013.onnx")
    out = build_ensemble([Member(resnet, 0.7), Member(seed, 0.3)], tmp_path / "ens.onnx", temperature=0.8)
    ens = EmotionClassifier.from_model(str(out))
    assert ens.input_size == (40, 40) and ens.temperature == pytest.approx(0.8)
    rng = np.random.default_rng(0)
    chips = [rng.integers(0, 255, (40, 40, 3), dtype=np.uint8) for _ in range(4)]
    ens.temperature = 1.0
    r = EmotionClassifier.from_model("fer-resnet-fer2013").predict(chips)
    s = EmotionClassifier.from_model("mini-xception-fer2013").predict(
        [cv2.resize(c, (64, 64), interpolation=cv2.INTER_LINEAR) for c in chips])
    assert np.abs(ens.predict(chips) - (0.7 * r + 0.3 * s)).max() < 0.02  # in-graph float resize vs cv2's uint8
    meta = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    provenance = json.loads(meta["provenance"])
    assert [m["weight"] for m in provenance["ensemble"]] == pytest.approx([0.7, 0.3])
    with pytest.raises(ValueError, match="at least two"):
        build_ensemble([Member(resnet, 1.0)], tmp_path / "one.onnx")
    geo = EmotionClassifier.from_model(str(build_ensemble([Member(resnet, 0.6), Member(seed, 0.4)],
                                                          tmp_path / "geo.onnx", pooling="log")))
    def geometric(r, s):
        z = 0.6 * np.log(r) + 0.4 * np.log(s)
        p = np.exp(z - z.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)

    expected = geometric(r, s)
    assert np.abs(geo.predict(chips) - expected).max() < 0.03
    flipped = EmotionClassifier.from_model(str(build_ensemble([Member(resnet, 0.6), Member(seed, 0.4)],
                                                              tmp_path / "flip.onnx", pooling="log", flip=True)))
    mirrors = [np.ascontiguousarray(c[:, ::-1]) for c in chips]
    with_flip, plain = flipped.predict(chips), geo.predict(chips)
    assert np.abs(with_flip - 0.5 * (plain + geo.predict(mirrors))).max() < 1e-5  # the mean of the two views
    assert np.abs(with_flip - plain).max() > 1e-3  # the mirror view changed the answer
    assert np.abs(flipped.predict(mirrors) - with_flip).max() < 1e-5  # and made it mirror-invariant
    prior = (4.0, 1.0, 4.0, 7.0, 5.0, 3.0, 5.0)
    corrected = EmotionClassifier.from_model(str(build_ensemble(
        [Member(resnet, 0.6), Member(seed, 0.4)], tmp_path / "prior.onnx", pooling="log", prior=prior,
        prior_correction=0.5)))
    q = plain / np.sqrt(np.array(prior) / sum(prior))
    assert np.abs(corrected.predict(chips) - q / q.sum(1, keepdims=True)).max() < 1e-5
    meta = json.loads(ort.InferenceSession(str(tmp_path / "prior.onnx"), providers=["CPUExecutionProvider"])
                      .get_modelmeta().custom_metadata_map["provenance"])
    assert meta["prior_correction"] == 0.5 and meta["prior"] == list(prior)
    with pytest.raises(ValueError, match="prior"):
        build_ensemble([Member(resnet, 0.6), Member(seed, 0.4)], tmp_path / "bad.onnx", prior_correction=1.0)
    single = EmotionClassifier.from_model(str(build_ensemble([Member(seed, 1.0)], tmp_path / "single.onnx",
                                                             prior=prior, prior_correction=1.0)))
    assert single.input_size == (64, 64)  # one member: its own graph with the correction
    big = [cv2.resize(c, (64, 64), interpolation=cv2.INTER_LINEAR) for c in chips]
    q = EmotionClassifier.from_model("mini-xception-fer2013").predict(big) / np.array(prior)
    assert np.abs(single.predict(big) - q / q.sum(1, keepdims=True)).max() < 1e-5


def test_ensemble_cli_counts_the_prior_from_a_class_folder(tmp_path, tiny_dataset):
    from fer_ros.training.ensemble import main

    out = tmp_path / "cli.onnx"
    members = [f"{find_model_file(SHIPPED_RESNET)}:0.5", f"{find_model_file(SEED)}:0.5"]
    assert main([*members, "-o", str(out), "--pooling", "log", "--flip", "--prior-correction", "1",
                 "--prior-from", str(tiny_dataset[0])]) == 0
    provenance = json.loads(ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
                            .get_modelmeta().custom_metadata_map["provenance"])
    counts = [len(list((tiny_dataset[0] / label).iterdir())) for label in EMOTION_LABELS]
    assert provenance["prior"] == counts and provenance["flip_tta_in_graph"] and provenance["pooling"] == "log"


def test_scn_warm_start_from_onnx_on_noisy_ferplus_majority(tmp_path, tiny_dataset):
    root = write_ferplus(tmp_path / "fp")
    config = tiny_config(tmp_path / "run", tiny_dataset, mode="scn", init_from=str(find_model_file(SHIPPED_RESNET)),
                         data={"train_dir": str(root), "val_dir": str(root), "ferplus_target": "majority",
                               "input_size": 40, "label_noise": 0.34},
                         model={"name": "fer_resnet", "kwargs": {"widths": [32, 32, 64, 128, 256]}},
                         scn={"relabel_start_epoch": 0})
    metrics = train(config)
    assert "relabelled" in metrics["history"][0] and 0.0 <= metrics["best_val_acc"] <= 1.0
