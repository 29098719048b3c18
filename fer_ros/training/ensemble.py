"""A weighted ensemble of exported emotion models as ONE ONNX graph the core loads like any model.

    python -m fer_ros.training.ensemble A.onnx:0.6 B.onnx:0.4 -o models/ensemble.onnx [--pooling log] [--flip]
        [--temperature T]

The ensemble takes the first member's input (size, colour, normalisation); every other member gets
the same chip re-normalised to its own ``normalisation_mean``/``std`` and resized (ONNX ``Resize``,
bilinear, half-pixel centres, as ``cv2.resize`` with ``INTER_LINEAR``) to its own input size inside
the graph. The output pools the members' probabilities: ``mean`` (weighted arithmetic mean) or ``log``
(weighted geometric mean, renormalised: softmax of the weighted sum of log-probabilities, a product of
experts that lets a confident member veto). ``--flip`` adds test-time flip inside the graph: the members
run on the chip and its mirror image as one batch of 2N, and the two pooled outputs are averaged (twice
the compute). ``--prior-correction TAU --prior COUNTS`` divides the output by the training label prior
to the power TAU and renormalises (post-hoc logit adjustment, Menon et al. ICLR 2021: the members learnt
FER-2013's skewed class frequencies, while a camera's posed or balanced faces are not skewed that way;
TAU 0 = none, 1 = a uniform prior). Members must output
probabilities over the same labels in the same colour. Metadata: the first member's preprocessing keys,
``face_crop``, ``temperature`` and a JSON ``provenance`` listing each member's file, sha256, weight and
own provenance. onnx only (no torch).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_ros.core.image_input import image_files
from fer_ros.core.model_registry import metadata_numbers as _numbers
from fer_ros.core.model_registry import read_onnx_metadata, sha256_of

PREPROCESSING_KEYS = ("labels", "input_size", "colour", "normalisation_mean", "normalisation_std")


@dataclass
class Member:
    path: Path
    weight: float


def _metadata(proto) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}


POOLINGS = ("mean", "log")


def build_ensemble(members: list[Member], output: str | Path, temperature: float = 1.0, face_crop: str = "",
                   note: str = "", opset: int = 17, pooling: str = "mean", flip: bool = False,
                   prior: tuple[float, ...] = (), prior_correction: float = 0.0) -> Path:
    """Write the ensemble graph; returns its path. Weights are normalised to sum 1."""
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper, version_converter

    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    if len(members) < (1 if flip or prior_correction else 2):
        raise ValueError("an ensemble needs at least two members (one, with flip or prior correction)")
    if any(m.weight <= 0 for m in members):
        raise ValueError("member weights must be > 0")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if prior_correction and (len(prior) == 0 or min(prior) <= 0):
        raise ValueError("prior_correction needs the training label prior: one count > 0 per label")
    total = sum(m.weight for m in members)
    protos = []
    for m in members:
        proto = onnx.load(str(m.path))
        if max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) != opset:
            proto = version_converter.convert_version(proto, opset)
        protos.append(proto)
    metas = [_metadata(p) for p in protos]
    first = metas[0]
    for path, meta in zip([m.path for m in members], metas):
        if meta.get("output", "probabilities") != "probabilities":
            raise ValueError(f"{path}: members must output probabilities")
        for key in ("labels", "colour"):
            if meta.get(key) != first.get(key):
                raise ValueError(f"{path}: {key}={meta.get(key)!r} differs from the first member's {first.get(key)!r}")
    size0 = _numbers(first["input_size"])
    mean0 = np.array(_numbers(first.get("normalisation_mean", "127.5")), np.float32)
    std0 = np.array(_numbers(first.get("normalisation_std", "127.5")), np.float32)
    channels = 1 if first["colour"] == "gray" else 3
    n_labels = len(first["labels"].split(","))
    nodes, inits, outputs = [], [], []
    source = "input"
    if flip:  # one batch of 2N: the chips, then their mirror images (width reversed)
        inits += [numpy_helper.from_array(np.array(v, np.int64), name) for v, name in
                  (([-1], "flip_starts"), ([np.iinfo(np.int64).min], "flip_ends"), ([3], "flip_axes"),
                   ([-1], "flip_steps"), ([2, -1, n_labels], "flip_pairs"))]
        nodes += [helper.make_node("Slice", ["input", "flip_starts", "flip_ends", "flip_axes", "flip_steps"],
                                   ["input_mirrored"]),
                  helper.make_node("Concat", ["input", "input_mirrored"], ["input_with_mirror"], axis=0)]
        source = "input_with_mirror"
    for i, (proto, meta, member) in enumerate(zip(protos, metas, members)):
        prefix = f"m{i}_"
        proto = compose.add_prefix(proto, prefix)
        graph = proto.graph
        x = source
        mean = np.array(_numbers(meta.get("normalisation_mean", "127.5")), np.float32)
        std = np.array(_numbers(meta.get("normalisation_std", "127.5")), np.float32)
        scale, shift = std0 / std, (mean0 - mean) / std  # (x * std0 + mean0 - mean) / std
        if not (np.allclose(scale, 1) and np.allclose(shift, 0)):
            inits += [numpy_helper.from_array(np.broadcast_to(scale, (channels,)).reshape(1, -1, 1, 1).copy(),
                                              f"{prefix}renorm_scale"),
                      numpy_helper.from_array(np.broadcast_to(shift, (channels,)).reshape(1, -1, 1, 1).copy(),
                                              f"{prefix}renorm_shift")]
            nodes += [helper.make_node("Mul", [x, f"{prefix}renorm_scale"], [f"{prefix}scaled"]),
                      helper.make_node("Add", [f"{prefix}scaled", f"{prefix}renorm_shift"], [f"{prefix}renorm"])]
            x = f"{prefix}renorm"
        size = _numbers(meta["input_size"])
        if size != size0:
            scales = np.array([1.0, 1.0, size[-1] / size0[-1], size[0] / size0[0]], np.float32)
            inits.append(numpy_helper.from_array(scales, f"{prefix}resize_scales"))
            nodes.append(helper.make_node("Resize", [x, "", f"{prefix}resize_scales"], [f"{prefix}resized"],
                                          mode="linear", coordinate_transformation_mode="half_pixel"))
            x = f"{prefix}resized"
        nodes.append(helper.make_node("Identity", [x], [graph.input[0].name]))
        nodes += list(graph.node)
        inits += list(graph.initializer)
        inits.append(numpy_helper.from_array(np.array(member.weight / total, np.float32), f"{prefix}weight"))
        scores = graph.output[0].name
        if pooling == "log":
            inits.append(numpy_helper.from_array(np.array(1e-12, np.float32), f"{prefix}eps"))
            nodes += [helper.make_node("Max", [scores, f"{prefix}eps"], [f"{prefix}clipped"]),
                      helper.make_node("Log", [f"{prefix}clipped"], [f"{prefix}log"])]
            scores = f"{prefix}log"
        nodes.append(helper.make_node("Mul", [scores, f"{prefix}weight"], [f"{prefix}weighted"]))
        outputs.append(f"{prefix}weighted")
    if prior_correction and len(prior) != n_labels:
        raise ValueError(f"prior has {len(prior)} counts for {n_labels} labels")
    pooled = "pooled_views" if flip else "probabilities"
    if prior_correction:
        pooled = f"uncorrected_{pooled}"
    if pooling == "log":
        nodes += [helper.make_node("Sum", outputs, ["pooled_log"]),
                  helper.make_node("Softmax", ["pooled_log"], [pooled], axis=1)]
    else:
        nodes.append(helper.make_node("Sum", outputs, [pooled]))
    if flip:  # (2N, C) -> (2, N, C) -> the mean of the two views
        averaged = "uncorrected_probabilities" if prior_correction else "probabilities"
        nodes += [helper.make_node("Reshape", [pooled, "flip_pairs"], ["pooled_pairs"]),
                  helper.make_node("ReduceMean", ["pooled_pairs"], [averaged], axes=[0], keepdims=0)]
    if prior_correction:  # softmax(log p - tau log prior)
        log_prior = np.log(np.asarray(prior, np.float64) / np.sum(prior))
        inits += [numpy_helper.from_array((-prior_correction * log_prior).astype(np.float32).reshape(1, -1),
                                          "prior_offset"),
                  numpy_helper.from_array(np.array(1e-12, np.float32), "prior_eps")]
        nodes += [helper.make_node("Max", ["uncorrected_probabilities", "prior_eps"], ["uncorrected_clipped"]),
                  helper.make_node("Log", ["uncorrected_clipped"], ["uncorrected_log"]),
                  helper.make_node("Add", ["uncorrected_log", "prior_offset"], ["corrected_log"]),
                  helper.make_node("Softmax", ["corrected_log"], ["probabilities"], axis=1)]
    graph = helper.make_graph(
        nodes, "fer_ros_ensemble",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       ["batch", channels, int(size0[-1]), int(size0[0])])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", n_labels])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="fer_ros.training.ensemble")
    model.ir_version = protos[0].ir_version
    provenance = {"pooling": pooling, "flip_tta_in_graph": flip, "prior_correction": prior_correction,
                  "prior": list(prior) if prior_correction else [], "ensemble": [
        {"file": m.path.name, "sha256": sha256_of(m.path), "weight": m.weight / total,
         "provenance": json.loads(meta["provenance"]) if "provenance" in meta else None}
        for m, meta in zip(members, metas)]}
    if note:
        provenance["note"] = note
    meta_out = {k: first[k] for k in PREPROCESSING_KEYS if k in first}
    meta_out.update(output="probabilities", face_crop=face_crop or first.get("face_crop", "square"),
                    temperature=f"{temperature:.6g}", provenance=json.dumps(provenance, sort_keys=True))
    for key, value in meta_out.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(output))
    return output


def folder_counts(root: Path, labels: list[str]) -> tuple[float, ...]:
    """Images per label in a ``<label>/<image>`` dataset: the label prior a model trained on it learnt."""
    counts = tuple(float(len(image_files(root / label))) if (root / label).is_dir() else 0.0 for label in labels)
    if min(counts) <= 0:
        raise ValueError(f"{root}: no images for some labels ({dict(zip(labels, counts))})")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("members", nargs="+", help="FILE.onnx:WEIGHT (the first member defines the input)")
    parser.add_argument("--output", "-o", required=True)
    parser.add_argument("--temperature", type=float, default=1.0, help="calibration temperature for the metadata")
    parser.add_argument("--face-crop", default="", help="crop policy (default: the first member's)")
    parser.add_argument("--note", default="")
    parser.add_argument("--pooling", default="mean", choices=POOLINGS)
    parser.add_argument("--flip", action="store_true", help="test-time flip inside the graph (twice the compute)")
    parser.add_argument("--prior-correction", type=float, default=0.0, metavar="TAU",
                        help="divide the output by prior**TAU (0 = off, 1 = a uniform prior)")
    parser.add_argument("--prior", default="", help="training label counts, comma-separated in label order")
    parser.add_argument("--prior-from", default="", metavar="DIR",
                        help="count the training label prior from a class-folder dataset (e.g. fer2013/train)")
    args = parser.parse_args(argv)
    members = []
    for text in args.members:
        path, _, weight = text.rpartition(":")
        if not path:
            parser.error(f"member {text!r}: expected FILE.onnx:WEIGHT")
        members.append(Member(Path(path), float(weight)))
    prior = tuple(float(c) for c in args.prior.split(",") if c)
    if args.prior_from:
        prior = folder_counts(Path(args.prior_from), read_onnx_metadata(members[0].path)["labels"].split(","))
    out = build_ensemble(members, args.output, args.temperature, args.face_crop, args.note, pooling=args.pooling,
                         flip=args.flip, prior=prior, prior_correction=args.prior_correction)
    print(f"wrote {out} sha256 {sha256_of(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
