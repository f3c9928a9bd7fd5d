#!/usr/bin/python3
"""Times the layers of apps/bench_conv in PyTorch and prints kite's time over PyTorch's.

Optional, never needed by CI: uses Debian's python3-torch (run with /usr/bin/python3).
The layer list comes from bench_conv itself (its --json output), so both sides time exactly
the same shapes. Layers are run alternately (kite one layer, then PyTorch the same layer), so
that a machine whose load changes during the run treats both alike.

Usage:
  apps/bench/compare_pytorch.py --bench build/apps/bench_conv [--threads 2] [--repeats 7]
                                [--batch 64] [--stat median|best] [--clock wall|cpu] [--only TEXT]
                                [--device cpu|cuda]

With --device cuda both sides run on the GPU and are timed with CUDA events (kite's on its
stream, PyTorch's on its current stream); PyTorch's TF32 is switched off for convolutions and
matrix products, since kite's float32 is full float32 unless asked otherwise. Any python3 with
a CUDA build of torch will do (the GPU machine's own, not Debian's).

On a machine shared with other work, wall times measure the scheduler as much as the code;
--clock cpu compares process CPU time instead (exact for one thread; with several threads it
also counts time spent spinning at barriers).

A ratio below 1 means kite is faster. The "AE conv stack" row compares count x time summed
over the autoencoder's conv layers (forward alone and forward + backward).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F


def op_of(layer):
    kind = layer["kind"]
    if kind == "conv2d":
        return lambda x, w, b: F.conv2d(x, w, b, stride=layer["stride"], padding=layer["padding"])
    if kind == "batch_norm":
        return lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)
    if kind == "group_norm":
        return lambda x, w, b: F.group_norm(x, layer["kernel"], w, b)
    if kind == "layer_norm":
        return lambda x, w, b: F.layer_norm(x, (x.shape[-1],), w, b)
    if kind == "avg_pool2d":
        return lambda x, w, b: F.avg_pool2d(x, layer["kernel"], layer["stride"], layer["padding"])
    if kind == "max_pool2d":
        return lambda x, w, b: F.max_pool2d(x, layer["kernel"], layer["stride"], layer["padding"])
    if kind == "upsample_nearest2d":
        return lambda x, w, b: F.interpolate(x, scale_factor=layer["kernel"], mode="nearest")
    raise ValueError(f"unknown layer kind {kind}")


CLOCK = time.perf_counter  # or time.process_time with --clock cpu
DEVICE = "cpu"


def time_ms(fn, repeats, best):
    fn()
    ms = []
    for _ in range(repeats):
        if DEVICE == "cpu":
            start = CLOCK()
            fn()
            ms.append((CLOCK() - start) * 1e3)
        else:
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            ms.append(start.elapsed_time(stop))
    return min(ms) if best else statistics.median(ms)


def time_torch(layer, repeats, best):
    torch.manual_seed(1)

    def randn(*shape):
        return torch.randn(*shape).to(DEVICE)

    x = randn(*layer["input"])
    n, c = layer["input"][0], layer["input"][1]
    w = b = None
    if layer["kind"] == "conv2d":
        k = layer["kernel"]
        w = randn(layer["out_channels"], c, k, k)
        if layer["bias"]:
            b = randn(layer["out_channels"])
    elif layer["kind"] in ("batch_norm", "group_norm", "layer_norm"):
        d = layer["input"][-1] if layer["kind"] == "layer_norm" else c
        w, b = randn(d), randn(d)
    op = op_of(layer)
    with torch.no_grad():
        forward = time_ms(lambda: op(x, w, b), repeats, best)
        grad_out = randn(*op(x, w, b).shape)
    xg = x.clone().requires_grad_(layer["input_grad"])
    wg = w.clone().requires_grad_(True) if w is not None else None
    bg = b.clone().requires_grad_(True) if b is not None else None
    params = [p for p in (xg, wg, bg) if p is not None and p.requires_grad]

    def train():
        y = op(xg, wg, bg)
        torch.autograd.grad(y, params, grad_out)

    return forward, time_ms(train, repeats, best)


def run_kite(args, only):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [args.bench, "--json", f.name, "--repeats", str(args.repeats), "--batch",
               str(args.batch), "--stat", args.stat, "--threads", str(args.threads),
               "--clock", args.clock, "--device", args.device]
        if only:
            cmd += ["--only", only]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return json.load(open(f.name))["layers"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, help="path of the bench_conv binary")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--stat", choices=["median", "best"], default="median")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time, or process CPU time of all threads (for busy machines)")
    parser.add_argument("--only", default="", help="only layers whose name contains this text")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda / cuda:N (both sides)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global CLOCK, DEVICE
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    DEVICE = args.device
    if DEVICE != "cpu":
        if not torch.cuda.is_available():
            sys.exit(f"compare_pytorch.py: --device {DEVICE}, but this torch sees no GPU")
        if args.clock != "wall":
            sys.exit("compare_pytorch.py: --clock cpu times the host; on a GPU use --clock wall")
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        device = torch.device(DEVICE)
        torch.cuda.set_device(device.index if device.index is not None else 0)
        where = (f"{torch.cuda.get_device_name()}, cuDNN {torch.backends.cudnn.version()}, "
                 f"TF32 off, CUDA events")
    else:
        where = (f"mkldnn {torch.backends.mkldnn.is_available()}, {args.threads} threads, "
                 f"{args.clock} time")

    print(f"PyTorch {torch.__version__} on {DEVICE} ({where}), {args.stat} of {args.repeats} "
          f"calls, load average {os.getloadavg()[0]:.1f}\n")
    print("| layer | kite fwd ms | torch fwd ms | fwd ratio | kite fwd+bwd ms | "
          "torch fwd+bwd ms | fwd+bwd ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    stack = {"kite_f": 0.0, "torch_f": 0.0, "kite_t": 0.0, "torch_t": 0.0}
    worst = 0.0
    names = [layer["name"] for layer in run_kite_list(args) if args.only in layer["name"]]
    for name in names:
        (kite,) = [l for l in run_kite(args, name) if l["name"] == name]
        torch_f, torch_t = time_torch(kite, args.repeats, args.stat == "best")
        rf, rt = kite["forward_ms"] / torch_f, kite["train_ms"] / torch_t
        print(f"| {name} | {kite['forward_ms']:.2f} | {torch_f:.2f} | {rf:.2f} | "
              f"{kite['train_ms']:.2f} | {torch_t:.2f} | {rt:.2f} |", flush=True)
        if kite["kind"] == "conv2d" and kite["count"] > 0:
            stack["kite_f"] += kite["count"] * kite["forward_ms"]
            stack["torch_f"] += kite["count"] * torch_f
            stack["kite_t"] += kite["count"] * kite["train_ms"]
            stack["torch_t"] += kite["count"] * torch_t
            worst = max(worst, rt)
    if stack["torch_t"] > 0:
        print(f"| **AE conv stack** | {stack['kite_f']:.2f} | {stack['torch_f']:.2f} | "
              f"{stack['kite_f'] / stack['torch_f']:.2f} | {stack['kite_t']:.2f} | "
              f"{stack['torch_t']:.2f} | {stack['kite_t'] / stack['torch_t']:.2f} |")
        print(f"\nworst AE conv layer, fwd+bwd ratio: {worst:.2f}")
    return 0


def run_kite_list(args):
    """The layers bench_conv knows (its --list mode times nothing)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([args.bench, "--list", "--json", f.name, "--batch", str(args.batch)],
                       check=True, stdout=subprocess.DEVNULL)
        return json.load(open(f.name))["layers"]


if __name__ == "__main__":
    sys.exit(main())
