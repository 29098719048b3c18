"""Benchmark: what a decompression bomb costs the node before it is rejected, with and without the guard.

A 10000x10000 RGB PNG of zeros is ~292 KB. ``compressed_to_bgr`` reads its size from the header and
rejects it (``max_image_pixels`` = 4096*4096 by default) without decoding; the unguarded path
(``cv2.imdecode`` first, size check after) is measured for comparison. Each path runs in a fresh child
process so that its peak resident memory (VmHWM) is its own.

    python -m fer_ros.bench.decode_guard [--size 10000] [--repeat 20] [--json out/decode_guard.json]
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path


def png_bomb(width: int, height: int) -> bytes:
    """A valid 8-bit RGB PNG of ``width`` x ``height`` black pixels (compresses ~1000:1)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = bytes(1 + 3 * width)  # filter byte 0 + pixels
    comp = zlib.compressobj(9)
    rows_per_chunk = max(1, (1 << 22) // len(row))
    parts = [comp.compress(row * min(rows_per_chunk, height - y)) for y in range(0, height, rows_per_chunk)]
    idat = b"".join(parts) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _measure(path: str, mode: str, repeat: int) -> dict:
    """In a fresh process: time per call (ms) and the peak RSS the calls added (MiB)."""
    from types import SimpleNamespace

    import cv2
    import numpy as np

    from fer_ros.bench.stats import proc_memory_mb, summarize
    from fer_ros.core.image_convert import ImageConversionError, compressed_to_bgr

    msg = SimpleNamespace(format="png", data=Path(path).read_bytes())
    before = proc_memory_mb()
    times, outcome = [], ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        if mode == "guarded":
            try:
                compressed_to_bgr(msg)
                outcome = "decoded"
            except ImageConversionError as exc:
                outcome = f"rejected ({exc.problem}): {exc}"
        else:  # the old order: decode, then look at the size
            image = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
            outcome = f"decoded {image.shape[1]}x{image.shape[0]}, then rejected" if image is not None else "failed"
            del image
        times.append((time.perf_counter() - t0) * 1e3)
    after = proc_memory_mb()
    return {"mode": mode, "outcome": outcome, "ms": summarize(times),
            "peak_rss_added_mb": after["peak_rss_mb"] - before["peak_rss_mb"],
            "rss_before_mb": before["rss_mb"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000, help="width and height of the PNG bomb")
    parser.add_argument("--repeat", type=int, default=20, help="calls per path (the unguarded path: 2)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", nargs=3, metavar=("PNG", "MODE", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_measure(args.child[0], args.child[1], int(args.child[2]))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bomb.png"
        path.write_bytes(png_bomb(args.size, args.size))
        result = {"png_bytes": path.stat().st_size, "size": f"{args.size}x{args.size}", "runs": []}
        for mode, repeat in (("guarded", args.repeat), ("unguarded", 2)):
            out = subprocess.run([sys.executable, "-m", "fer_ros.bench.decode_guard", "--child", str(path), mode,
                                  str(repeat)], capture_output=True, text=True, check=True)
            result["runs"].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for run in result["runs"]:
        print(f"{run['mode']:>9}: {result['size']} PNG of {result['png_bytes'] / 1024:.0f} KiB -> {run['outcome']}; "
              f"p50 {run['ms']['p50']:.3f} ms, max {run['ms']['max']:.3f} ms, peak RSS added "
              f"{run['peak_rss_added_mb']:.1f} MiB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
