"""Memory and start-up of training on an image folder (``data=imagefolder``).

Generates a folder of 64x64 RGB images (PNG and JPEG, two class subfolders), then:

1. Start-up: the time to load the training split the first time (listing, decoding with
   Pillow, writing the uint8 cache under ``$GP_HOME``) and again from the cache, each in a
   fresh process (imports not counted).
2. Memory: peak resident memory (``ru_maxrss``) of a fresh process that runs gp's worker
   loop (``gp.train.loop.run``, the code each Ray Train worker runs) for a few steps of
   DCGAN on the folder, with the images held as uint8 (gp) and, for comparison, as float32
   (the same images divided by 255 when loaded); a run on a small folder of 512 images is the
   baseline of everything but the dataset (Python, torch, the model, the steps).

    python benchmarks/image_memory.py                        # 20,000 images
    python benchmarks/image_memory.py --images 2000 --steps 5  # a quick check

Prints a table and writes ``results/image_memory.json`` (and ``$OUT/image_memory.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import harness  # noqa: E402

CHILD = r"""
import json, resource, sys, time
args = json.loads(sys.argv[1])
import torch
from gp.config import DataConfig, check_data_options
from gp.plugins import load_registry
from gp.data.spec import load
registry = load_registry()
data = {"name": "imagefolder", "root": args["root"], "size": args["size"]}
if args["what"] == "load":
    cfg = check_data_options(DataConfig(**data), registry)
    t0 = time.perf_counter()
    n = len(load(registry, cfg, "train"))
    print(json.dumps({"seconds": time.perf_counter() - t0, "n": n}))
    sys.exit()
from gp.train import loop
from gp.train.session import LocalSession
if args["what"] == "float32":  # the same images, held as float32 from the start
    loader, *rest = registry.datasets["imagefolder"]
    registry.datasets["imagefolder"] = (lambda cfg, split: loader(cfg, split).as_float(), *rest)
loop.load_registry = lambda: registry
job = {"plugin": "dcgan", "model": args["model"], "data": data,
       "trainer": {"epochs": 1, "batch_size": args["batch"], "steps_per_epoch": args["steps"], "samples": 16}}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
summary = loop.run({"job": job}, LocalSession())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mb": peak / 1024, "after_imports_mb": before / 1024, "steps": summary["step"]}))
"""


def make_folder(root: pathlib.Path, n: int, side: int, seed: int = 0) -> None:
    """``n`` images of ``side`` x ``side`` RGB under ``root/a`` and ``root/b``, smooth
    gradients plus noise, alternately PNG and JPEG."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, side)[None, :, None] * np.linspace(0, 1, side)[:, None, None]  # (S, S, 1)
    for i in range(n):
        colour = rng.uniform(0, 255, 3)
        a = np.clip(ramp * colour + rng.normal(0, 12, (side, side, 3)), 0, 255).astype(np.uint8)
        path = root / "ab"[i % 2] / f"{i:06d}.{('png', 'jpg')[i % 2]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(path)


def child(what: str, root: pathlib.Path, home: pathlib.Path, args) -> dict:
    payload = {"what": what, "root": str(root), "size": args.size, "batch": args.batch, "steps": args.steps,
               "model": {"g_width": args.width, "d_width": args.width}}
    env = {**os.environ, "GP_HOME": str(home), "OMP_NUM_THREADS": str(os.cpu_count())}
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(payload)], capture_output=True, text=True,
                          env=env, cwd=harness.ROOT)
    if proc.returncode:
        raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=20_000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=32, help="dcgan's g_width and d_width")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="gp-image-memory-") as tmp:
        tmp = pathlib.Path(tmp)
        big, small, home = tmp / "big", tmp / "small", tmp / "gp-home"
        make_folder(big, args.images, args.size)
        make_folder(small, 512, args.size, seed=1)
        first, again = child("load", big, home, args), child("load", big, home, args)
        child("load", small, home, args)
        runs = {what: child(what, root, home, args) for what, root in
                [("baseline", small), ("uint8", big), ("float32", big)]}
    report(args, first, again, runs)


def report(args, first: dict, again: dict, runs: dict) -> None:
    n = first["n"]
    uint8_mb = n * 3 * args.size * args.size / 2**20
    base = runs["baseline"]["peak_mb"]
    print(f"start-up, {args.images:,} files of {args.size}x{args.size} RGB: first load {first['seconds']:.2f} s "
          f"({args.images / first['seconds']:.0f} files/s), from the cache {again['seconds']:.2f} s")
    rows = [["baseline (512 images)", f"{base:.0f}", "-", "-"]]
    for what in ("uint8", "float32"):
        peak = runs[what]["peak_mb"]
        rows.append([f"{n:,} images held as {what}", f"{peak:.0f}", f"{peak - base:.0f}",
                     f"{(peak - base) / uint8_mb:.2f}"])
    print(f"dataset: {n:,} training images, {uint8_mb:.0f} MB as uint8, {4 * uint8_mb:.0f} MB as float32; "
          f"dcgan width {args.width}, batch {args.batch}, {args.steps} steps")
    print(harness.table(["run", "peak RSS MB", "over baseline MB", "over baseline / uint8 size"], rows))
    harness.save("image_memory", {"args": vars(args), "first_load": first, "cached_load": again, "runs": runs,
                                  "train_images": n, "uint8_mb": uint8_mb})


if __name__ == "__main__":
    main()
