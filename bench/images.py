"""Image variants: images/s and peak memory of shared/media/images.py against sharp (libvips).

Both make the same set (WebP q80 and AVIF q55 at 2048/1024/256 px on the long edge,
oriented, plus a blurred placeholder and the dominant colour) from 12 and 24 MP
JPEG and PNG inputs, each run in a fresh process pinned to one core, in the same run.
A second table shows Pillow's AVIF speed against size, which is how the speed in
shared/media/images.py was chosen.

    python bench/images.py [--quick] [--runs N]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NODE_DIR = REPO / "bench" / "node"
sys.path.insert(0, str(REPO))

TARGETS = {"speed_vs_sharp": 1.0, "memory_vs_sharp": 0.6, "seconds_24mp_jpeg": 2.0}
SHARP_EFFORT = 1  # sharp's effort 1 is libaom speed 8: matched to ENCODERS["avif"]["speed"]

PYTHON_RUN = """
import json, sys, time
sys.path.insert(0, {repo!r})
from shared.media import images
images.ENCODERS["avif"]["speed"] = {speed}
started = time.perf_counter()
with open({path!r}, "rb") as upload:  # streamed, as image-processing reads from Storage
    result = images.process(upload, max_pixels=100_000_000)
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "bytes": sum(len(r.data) for r in result.renditions),
                  "avif_bytes": sum(len(r.data) for r in result.renditions if r.format == "avif")}}))
"""


def make_inputs(directory: Path, sizes: list[tuple[str, tuple[int, int]]]) -> list[tuple[str, Path]]:
    """Photo-like inputs: smooth gradients, structure and sensor-like noise."""
    from PIL import Image, ImageChops

    inputs = []
    for label, (width, height) in sizes:
        base = Image.effect_mandelbrot((width, height), (-2.2, -1.2, 1.0, 1.2), 60).convert("RGB")
        noise = Image.effect_noise((width, height), 24).convert("RGB")
        gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        image = ImageChops.add(ImageChops.multiply(base, gradient), noise, scale=1.3)
        for fmt in ("JPEG", "PNG"):
            path = directory / f"{label}.{fmt.lower()}"
            image.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 6}))
            inputs.append((f"{label} {fmt}", path))
    return inputs


# Runs a command and reports its peak RSS: the wrapper's only child is the measured process.
PEAK_WRAPPER = (
    "import json, resource, subprocess, sys\n"
    "out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout\n"
    "line = json.loads(out.strip().splitlines()[-1])\n"
    "line['peak_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(json.dumps(line))\n"
)


def measure(argv: list[str], runs: int, cwd: Path | None = None) -> tuple[float, float, int]:
    """Median seconds, peak MB and output bytes of ``argv``, pinned to one core, fresh each run."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    times, peaks, size = [], [], 0
    for _ in range(runs):
        process = subprocess.run([*pin, sys.executable, "-c", PEAK_WRAPPER, *argv], cwd=cwd,
                                 capture_output=True, text=True, check=True)
        result = json.loads(process.stdout.strip().splitlines()[-1])
        times.append(result["seconds"])
        peaks.append(result["peak_mb"])
        size = result["bytes"]
    return statistics.median(times), max(peaks), size


def ensure_sharp() -> None:
    if not (NODE_DIR / "node_modules" / "sharp").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 24 MP JPEG only, 1 run each")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    ensure_sharp()
    from shared.media.images import ENCODERS

    speed = ENCODERS["avif"]["speed"]
    with tempfile.TemporaryDirectory(prefix="kk-images-") as tmp:
        sizes = [("24MP", (6000, 4000))] if args.quick else [("12MP", (4000, 3000)), ("24MP", (6000, 4000))]
        inputs = make_inputs(Path(tmp), sizes)
        if args.quick:
            inputs = [item for item in inputs if item[0] == "24MP JPEG"]
        rows = []
        for label, path in inputs:
            ours = measure([sys.executable, "-c", PYTHON_RUN.format(repo=str(REPO), path=str(path), speed=speed)], runs)
            sharp = measure(["node", str(NODE_DIR / "variants.js"), str(path), str(SHARP_EFFORT)], runs, cwd=NODE_DIR)
            rows.append((label, ours, sharp))

        speeds = []
        jpeg24 = next(path for label, path in inputs if label == "24MP JPEG")
        for candidate in (6, 7, 8, 9):
            seconds, _, size = measure([sys.executable, "-c", PYTHON_RUN.format(repo=str(REPO), path=str(jpeg24),
                                                                                speed=candidate)], 1)
            speeds.append((candidate, seconds, size))

    print(f"\nimage variants, one core, median of {runs} run(s); peak = max RSS of the process\n")
    print(f"{'input':<12}{'ours s':>8}{'sharp s':>9}{'speed x':>9}{'ours MB':>9}{'sharp MB':>10}{'mem x':>7}"
          f"{'ours KB':>9}{'sharp KB':>10}")
    for label, (s1, m1, b1), (s2, m2, b2) in rows:
        print(f"{label:<12}{s1:>8.2f}{s2:>9.2f}{s2 / s1:>9.2f}{m1:>9.0f}{m2:>10.0f}{m1 / m2:>7.2f}"
              f"{b1 / 1024:>9.0f}{b2 / 1024:>10.0f}")
    print("\nPillow AVIF speed on the 24 MP JPEG (whole variant set; WebP unchanged):")
    print(f"{'speed':>6}{'seconds':>9}{'total KB':>10}")
    for candidate, seconds, size in speeds:
        print(f"{candidate:>6}{seconds:>9.2f}{size / 1024:>10.0f}{'   <- chosen' if candidate == speed else ''}")

    ours_rate = statistics.fmean(1 / r[1][0] for r in rows)
    sharp_rate = statistics.fmean(1 / r[2][0] for r in rows)
    ours_mem, sharp_mem = max(r[1][1] for r in rows), max(r[2][1] for r in rows)
    jpeg24_seconds = next(r[1][0] for r in rows if r[0] == "24MP JPEG")
    metrics = [
        {"name": "images_per_s", "value": round(ours_rate, 3), "unit": "images/s", "baseline": round(sharp_rate, 3),
         "ratio": round(ours_rate / sharp_rate, 3), "target": TARGETS["speed_vs_sharp"]},
        {"name": "peak_memory", "value": round(ours_mem), "unit": "MB", "baseline": round(sharp_mem),
         "ratio": round(ours_mem / sharp_mem, 3), "target": TARGETS["memory_vs_sharp"]},
        {"name": "seconds_24mp_jpeg", "value": round(jpeg24_seconds, 3), "unit": "s",
         "baseline": round(next(r[2][0] for r in rows if r[0] == "24MP JPEG"), 3),
         "ratio": round(jpeg24_seconds / next(r[2][0] for r in rows if r[0] == "24MP JPEG"), 3),
         "target": TARGETS["seconds_24mp_jpeg"]},
    ]
    print(json.dumps({"bench": "images", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
