"""Benchmark report: headline numbers, environment, the markdown tables and the PNG plot."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path

import numpy as np

COMPARISON_COUNTS = ("1", "4", "8")  # frames of these face counts make the side-by-side comparison set


def environment() -> dict:
    """Machine, versions and date of this run."""
    import cv2
    import onnxruntime

    import fer_ros

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except (OSError, IndexError, ValueError):
        pass
    env = {
        "date_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu or platform.processor()}, {os.cpu_count()} CPUs visible, "
                   f"{mem_gb:.0f} GiB RAM" if mem_gb else f"{cpu}, {os.cpu_count()} CPUs",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__, "opencv": cv2.__version__, "onnxruntime": onnxruntime.__version__,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
        "fer_ros": fer_ros.__version__,
        "loadavg_start": list(os.getloadavg()),
    }
    try:
        import importlib.metadata as md

        env["rclpy"] = md.version("ros-rclpy")
    except Exception:  # noqa: BLE001 - optional
        env["rclpy"] = None
    return env


def comparison(ours: dict, other: dict, n_frames: int | None = None) -> dict:
    """Mean per-frame time and recall of two stage results on the same frames (counts 1, 4, 8)."""
    ms_a, ms_b, m_a, m_b = [], [], np.zeros(3), np.zeros(3)
    for count in COMPARISON_COUNTS:
        a, b = ours["by_faces"].get(count), other["by_faces"].get(count)
        if not a or not b:
            continue
        k = min(len(a["per_frame"]["median_ms"]), len(b["per_frame"]["median_ms"]), n_frames or 10**9)
        ms_a += a["per_frame"]["median_ms"][:k]
        ms_b += b["per_frame"]["median_ms"][:k]
        m_a += np.sum(a["per_frame"]["matches"][:k], axis=0)
        m_b += np.sum(b["per_frame"]["matches"][:k], axis=0)
    if not ms_a:
        return {}
    return {"frames": len(ms_a), "ours_ms_mean": float(np.mean(ms_a)), "other_ms_mean": float(np.mean(ms_b)),
            "speedup": float(np.mean(ms_b) / np.mean(ms_a)),
            "recall_ours": float(m_a[0] / m_a[2]), "recall_other": float(m_b[0] / m_b[2]),
            "false_pos_ours": int(m_a[1]), "false_pos_other": int(m_b[1]), "faces_true": int(m_a[2])}


def fer_as_stage_result(fer: dict, frames_by_count: dict[str, list]) -> dict:
    """Turn the fer worker's per-frame output into the shape of a stage result (for ``comparison``)."""
    from fer_ros.bench.frames import count_matches

    times = np.asarray(fer["times_ms"]).reshape(fer["repeats"], -1)
    median = np.median(times, axis=0)
    out, i = {"by_faces": {}}, 0
    for count, frames in frames_by_count.items():
        meds, matches = [], []
        for f in frames:
            tp, fp = count_matches(f.boxes, [tuple(b) for b in fer["boxes"][i]])
            meds.append(float(median[i]))
            matches.append([tp, fp, len(f.boxes)])
            i += 1
        out["by_faces"][count] = {"per_frame": {"median_ms": meds, "matches": matches}}
    return out


def _f(v, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _gender_text(gender_every: int) -> str:
    return "every frame" if gender_every <= 1 else f"per track (every {gender_every})"


def markdown(result: dict) -> str:
    """The measured part of BENCHMARKS.md."""
    env, s = result["environment"], result["summary"]
    lines = [f"Measured {env['date_utc']} on {env['machine']} ({env['platform']}); Python {env['python']}, "
             f"numpy {env['numpy']}, OpenCV {env['opencv']}, onnxruntime {env['onnxruntime']}, "
             f"rclpy {env.get('rclpy') or 'n/a'}, fer_ros {env['fer_ros']}. Mode: {result['mode']}. "
             f"Execution providers: {', '.join(result.get('providers', ['cpu']))}. "
             f"Load average at start {', '.join(f'{x:.1f}' for x in env['loadavg_start'])}"
             f"{', at end ' + ', '.join(f'{x:.1f}' for x in env['loadavg_end']) if 'loadavg_end' in env else ''}"
             " (the 2 cores are shared with other jobs: read p50 rather than p95).", "",
             "### Headline", "", "| metric | measured | goal |", "|---|---|---|"]
    goals = {"fps_4faces_1core": ">= 100", "speedup_vs_arriaga": ">= 5 at recall >= Arriaga's",
             "speedup_vs_fer": ">= 20 at recall >= fer's", "node_overhead_ms": "<= 0.5",
             "recall_ours": ">= recall_arriaga", "recall_arriaga": "", "recall_fer": "",
             "e2e_latency_ms_p50": "", "e2e_fps_closed_loop": "", "stream_answered_fps": "",
             "node_peak_rss_mb_after_warmup": "", "node_peak_rss_mb_after_stream": "flat",
             "node_rss_slope_mb_per_min": "~0"}
    for key, goal in goals.items():
        v = s.get(key)
        text = _f(v, 3 if "recall" in key or "overhead" in key else 1) if isinstance(v, float | None) else v
        lines.append(f"| `{key}` | {text} | {goal} |")
    best = s.get("best_speedup_vs_arriaga_at_recall_parity")
    if best:
        lines += ["", f"Best speedup over Arriaga at equal or better recall, per frame: **{best['speedup']:.2f}x** "
                  f"(`{best['config']}`, recall {best['recall']:.3f})."]
    lever = s.get("best_stream_lever")
    if lever:
        lines += ["", f"Fastest stream configuration with per-frame recall >= 0.9: **{lever['fps_mean']:.1f} fps** "
                  f"mean (detector {lever['config'].get('detector', 'default')}, settings "
                  f"{lever['detector_attrs'] or 'as shipped'}, full detection every {lever['every']} frames, gender "
                  f"{_gender_text(lever.get('gender_every', 1))}; recall {lever['recall']:.3f})."]
    if s.get("fer_error"):
        lines += ["", f"`fer` baseline: {s['fer_error']}"]
    lines += ["", "### Per stage, 640x480 (p50 / p95 ms; `frame` = pipeline + tracking)", ""]
    stages = ("decode", "convert", "detect", "align", "gender", "emotion", "tracking", "drawing", "frame")
    lines += ["| config | threads | faces | " + " | ".join(stages) + " | fps (p50) | recall |",
              "|---|---|---|" + "---|" * len(stages) + "---|---|"]
    for job in result["stages"]:
        if "error" in job:
            lines.append(f"| {job['name']} | {job['job']['threads']} | – | error: {job['error']} |")
            continue
        for count, r in job["by_faces"].items():
            cells = []
            for st in stages:
                x = r["stages"].get(st)
                cells.append(f"{_f(x['p50'], 2)} / {_f(x['p95'], 2)}" if x else "–")
            lines.append(f"| {job['name']} | {job['job']['threads']} | {count} | " + " | ".join(cells)
                         + f" | {_f(r['fps_p50'])} | {_f(r['recall'], 3) if r['recall'] is not None else '–'} |")
    cmp_rows = result.get("comparison", {})
    if cmp_rows:
        lines += ["", "### Side by side (same frames: 1, 4 and 8 faces; one core, one thread; mean ms per frame)", "",
                  "| vs | frames | fer_ros ms | other ms | speedup | recall fer_ros | recall other | "
                  "false pos fer_ros | false pos other |", "|---|---|---|---|---|---|---|---|---|"]
        for name, c in cmp_rows.items():
            if c:
                lines.append(f"| {name} | {c['frames']} | {_f(c['ours_ms_mean'])} | {_f(c['other_ms_mean'])} | "
                             f"{_f(c['speedup'], 2)}x | {_f(c['recall_ours'], 3)} | {_f(c['recall_other'], 3)} | "
                             f"{c['false_pos_ours']} | {c['false_pos_other']} |")
    levers = result.get("stream_levers") or []
    if levers:
        lines += ["", "### Lever: full detection every k-th frame, tracked faces re-found locally in between "
                  f"({levers[0].get('sequences', 1)} moving-face stream(s) of {levers[0].get('frames')} frames, "
                  "4 faces each, half of them entering later; one core, one thread)", "",
                  "| detector | settings | k | gender | frame ms p50 / p95 | mean fps | recall per frame | false pos | "
                  "new-face delay (frames) |", "|---|---|---|---|---|---|---|---|---|"]
        for r in levers:
            name = r["config"].get("detector", "default")
            name += f" | {r.get('detector_attrs') or 'as shipped'}"
            if "error" in r:
                lines.append(f"| {name} | {r['every']} | | error: {r['error']} | | | | |")
                continue
            fm = r["frame_ms"]
            per_track = _gender_text(r.get("gender_every", 1))
            lines.append(f"| {name} | {r['every']} | {per_track} | {_f(fm['p50'], 2)} / {_f(fm['p95'], 2)} | "
                         f"{_f(r['fps_mean'])} | "
                         f"{_f(r['recall'], 3)} | {r['false_positives']} | {r['new_face_delay_frames']} |")
    for key, who in (("comparison_other_configs", "Arriaga"), ("comparison_other_configs_vs_fer", "fer")):
        others = result.get(key) or {}
        if not others:
            continue
        lines += ["", f"Other fer_ros configurations against {who} on the same frames (1 core, 1 thread):", "",
                  f"| fer_ros config | fer_ros ms | {who} ms | speedup | recall fer_ros | recall {who} |",
                  "|---|---|---|---|---|---|"]
        for name, c in others.items():
            if c:
                lines.append(f"| {name} | {_f(c['ours_ms_mean'])} | {_f(c['other_ms_mean'])} | "
                             f"{_f(c['speedup'], 2)}x | {_f(c['recall_ours'], 3)} | {_f(c['recall_other'], 3)} |")
    e2e = result.get("e2e", {})
    if e2e and "error" not in e2e:
        node = e2e.get("node", {})
        cl, st = e2e.get("closed_loop", {}), e2e.get("stream", {})
        lines += ["", f"### End to end through ROS ({e2e.get('faces_per_frame')} faces, node pinned to one core, "
                  f"params {e2e.get('params')})", "", "| quantity | p50 ms | p95 ms |", "|---|---|---|"]
        rows = [("publish -> receive latency, closed loop", cl.get("latency_ms")),
                (f"publish -> receive latency, {st.get('rate_hz')} fps stream", st.get("latency_ms"))]
        rows += [(f"node: {k}", node.get(k)) for k in ("convert", "pipeline", "tracking", "build_msg", "publish",
                                                        "overhead", "other", "step")]
        for label, x in rows:
            if x:
                lines.append(f"| {label} | {_f(x['p50'], 3)} | {_f(x['p95'], 3)} |")
        lines += ["", f"Closed loop: {_f(cl.get('fps'))} frames/s answered. Stream: {st.get('published')} frames "
                  f"published in {_f(st.get('seconds'))} s, {st.get('answered')} answered "
                  f"({_f(st.get('answered_fps'))} fps; the rest were replaced by newer frames, keep-latest). "
                  f"Node RSS after warm-up {_f(e2e.get('memory_after_warmup', {}).get('rss_mb'))} MiB, "
                  f"during the stream first {_f(st.get('rss_mb_first'))} / last {_f(st.get('rss_mb_last'))} / "
                  f"max {_f(st.get('rss_mb_max'))} MiB, peak (VmHWM) "
                  f"{_f(e2e.get('memory_after_stream', {}).get('peak_rss_mb'))} MiB, slope over the second half "
                  f"{_f(st.get('rss_slope_mb_per_min_second_half'), 2)} MiB/min."]
    elif e2e:
        lines += ["", f"End to end through ROS: not measured ({e2e['error']})."]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    """Three panels: per-stage p50 of each configuration (4 faces), side-by-side ms/frame, node RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    ax = axes[0]
    stages = ("convert", "detect", "align", "gender", "emotion", "tracking")
    jobs = [j for j in result["stages"] if "error" not in j and "4" in j["by_faces"]]
    bottom = np.zeros(len(jobs))
    for st in stages:
        vals = np.array([(j["by_faces"]["4"]["stages"].get(st) or {}).get("p50") or 0.0 for j in jobs])
        ax.bar(range(len(jobs)), vals, bottom=bottom, label=st)
        bottom += vals
    ax.set_xticks(range(len(jobs)), [f"{j['name']}\n{j['job']['threads']}t" for j in jobs], fontsize=7)
    ax.set_ylabel("ms per 640x480 frame (p50), 4 faces")
    ax.axhline(10.0, color="k", ls="--", lw=0.8, label="100 fps")
    ax.legend(fontsize=7)
    ax.set_title("per-stage time")
    ax = axes[1]
    names, ms, rec = [], [], []
    for name, c in result.get("comparison", {}).items():
        if c:
            if not names:
                names.append("fer_ros default")
                ms.append(c["ours_ms_mean"])
                rec.append(c["recall_ours"])
            names.append(name)
            ms.append(c["other_ms_mean"])
            rec.append(c["recall_other"])
    ax.bar(names, ms, color=["tab:green"] + ["tab:gray"] * (len(names) - 1))
    for i, (m, r) in enumerate(zip(ms, rec, strict=True)):
        ax.text(i, m, f"{m:.0f} ms\nrecall {r:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("mean ms per frame (same frames, 1 core)")
    ax.set_title("side by side")
    ax = axes[2]
    samples = result.get("e2e", {}).get("stream", {}).get("rss_samples") or []
    if samples:
        t, r = zip(*samples, strict=True)
        ax.plot(np.asarray(t) / 60.0, r)
    ax.set_xlabel("minutes of the 30 fps stream")
    ax.set_ylabel("node RSS (MiB)")
    ax.set_title("node memory")
    fig.suptitle(f"fer_ros benchmark, {result['environment']['date_utc']}, {result['mode']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def update_markdown_file(path: Path, table: str) -> None:
    """Replace the text between the bench markers of ``path`` (appending them when absent)."""
    begin, end = "<!-- fer-ros-bench:begin (generated) -->", "<!-- fer-ros-bench:end -->"
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    block = f"{begin}\n{table}{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
