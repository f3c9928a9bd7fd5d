#!/usr/bin/python3
"""Stage-1 and stage-2 training steps in PyTorch next to kite's bench_models.

Builds the same two models as apps/bench_models.cpp in PyTorch (Debian's python3-torch; this
script is optional and never needed by the build or the tests):

  stage 1: the authors' 28x28 autoencoder (conv5x5 64 + BN + LeakyReLU + avgpool, residual
           blocks 64->128 and 128->128, linear to 32; the decoder mirrors it with nearest
           upsampling), batch 64, MSE, Adam;
  stage 2: an i-ResNet of 10 blocks (ActNorm, then x + g(x) with g = ELU, SNLinear(32, 128),
           ELU, SNLinear(128, 128), ELU, SNLinear(128, 32), spectral norm W / max(1, sigma/0.9)
           with one power iteration per step), batch 256, exact log-determinant from the
           analytic Jacobian of each block (torch.linalg.slogdet), Adam, clipping.

It runs bench_models with the same thread count and prints both and the ratio kite/PyTorch.
With --device cuda both run on the GPU (each step ends with a synchronize, as in
bench_models) and PyTorch's TF32 is off, as kite's is by default; use a python3 whose torch
has CUDA.

  apps/bench/compare_models.py --bench build/apps/bench_models --threads 2 [--device cuda]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import resource

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.expand = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else None

    def forward(self, x):
        y = F.leaky_relu(self.bn1(self.conv1(x)), 0.2)
        y = self.bn2(self.conv2(y))
        skip = self.expand(x) if self.expand is not None else x
        return F.leaky_relu(y + skip, 0.2)


def autoencoder():
    encoder = nn.Sequential(
        nn.Conv2d(1, 64, 5, padding=2, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        nn.AvgPool2d(2), ResidualBlock(64, 128), nn.AvgPool2d(2), ResidualBlock(128, 128),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 32))
    decoder = nn.Sequential(
        nn.Linear(32, 128 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
        ResidualBlock(128, 128), nn.Upsample(scale_factor=2), ResidualBlock(128, 64),
        nn.Upsample(scale_factor=2), ResidualBlock(64, 64), nn.Conv2d(64, 1, 5, padding=2))
    return nn.Sequential(encoder, decoder)


class SNLinear(nn.Module):
    """W / max(1, sigma / c), sigma from one power iteration per training forward."""

    def __init__(self, fan_in, fan_out, coeff):
        super().__init__()
        self.linear = nn.Linear(fan_in, fan_out)
        self.coeff = coeff
        self.register_buffer("u", F.normalize(torch.randn(fan_out), dim=0))

    def weight(self):
        w = self.linear.weight
        with torch.no_grad():
            v = F.normalize(w.t() @ self.u, dim=0)
            self.u.copy_(F.normalize(w @ v, dim=0))
        sigma = self.u @ w @ v
        return w / torch.clamp(sigma / self.coeff, min=1.0)


class Block(nn.Module):
    def __init__(self, dim, hidden, coeff):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.layers = nn.ModuleList([SNLinear(dim, hidden, coeff), SNLinear(hidden, hidden, coeff),
                                     SNLinear(hidden, dim, coeff)])

    def forward(self, x):
        # ActNorm, then x + g(x) with the Jacobian I + W3 D2 W2 D1 W1 D0 per sample.
        x = (x - self.loc) * torch.exp(self.log_scale)
        logdet = self.log_scale.sum().expand(x.shape[0])
        h, jac = x, None
        for layer in self.layers:
            w = layer.weight()
            a = F.elu(h)
            d = torch.where(h > 0, torch.ones_like(h), a + 1.0)  # ELU derivative
            step = w.unsqueeze(0) * d.unsqueeze(1)  # W diag(d) per sample: [B, out, in]
            jac = step if jac is None else torch.bmm(step, jac)
            h = F.linear(a, w, layer.linear.bias)
        eye = torch.eye(x.shape[1], device=x.device).expand_as(jac)
        logdet = logdet + torch.linalg.slogdet(eye + jac)[1]
        return x + h, logdet


class Flow(nn.Module):
    def __init__(self, dim=32, hidden=128, blocks=10, coeff=0.9):
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim, hidden, coeff) for _ in range(blocks)])

    def nll_per_dim(self, x):
        total = torch.zeros(x.shape[0], device=x.device)
        for block in self.blocks:
            x, logdet = block(x)
            total = total + logdet
        log_pz = -0.5 * (x ** 2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)
        return -(log_pz + total).mean() / x.shape[1]


def synchronize(device):
    if device != "cpu":
        torch.cuda.synchronize(device)


def time_steps(step, warmup, steps, device):
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(steps):
        synchronize(device)
        c0, t0 = time.process_time(), time.perf_counter()
        step()
        synchronize(device)
        wall.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.process_time() - c0))
    wall_sorted = sorted(wall)
    return {"median_ms": wall_sorted[len(wall) // 2], "best_ms": wall_sorted[0],
            "median_cpu_ms": sorted(cpu)[len(cpu) // 2],
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def torch_stage(stage, args):
    torch.manual_seed(0)
    if args.device != "cpu":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    if stage == "ae":
        model = autoencoder().to(args.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
        x = torch.rand(args.ae_batch, 1, 28, 28).to(args.device)

        def step():
            optimizer.zero_grad()
            F.mse_loss(model(x), x).backward()
            optimizer.step()
    else:
        model = Flow().to(args.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        x = torch.randn(args.flow_batch, 32).to(args.device)

        def step():
            optimizer.zero_grad()
            model.nll_per_dim(x).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
    return time_steps(step, args.warmup, args.steps, args.device)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", help="path of kite's bench_models binary (omit: PyTorch only)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--ae-batch", type=int, default=64)
    parser.add_argument("--flow-batch", type=int, default=256)
    parser.add_argument("--only", choices=["ae", "flow"])
    parser.add_argument("--device", default="cpu", help="cpu, or cuda / cuda:N (both sides)")
    parser.add_argument("--torch-stage", choices=["ae", "flow"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.torch_stage:  # a child process, so each stage's peak memory is its own
        print(json.dumps(torch_stage(args.torch_stage, args)))
        return
    stages = [args.only] if args.only else ["ae", "flow"]
    torch_results = {}
    for stage in stages:
        child = subprocess.run([sys.executable, __file__, "--torch-stage", stage,
                                "--threads", str(args.threads), "--warmup", str(args.warmup),
                                "--steps", str(args.steps), "--ae-batch", str(args.ae_batch),
                                "--flow-batch", str(args.flow_batch), "--device", args.device],
                               check=True, capture_output=True, text=True)
        torch_results[stage] = json.loads(child.stdout.strip().splitlines()[-1])
    kite_results = {}
    if args.bench:
        for stage in stages:  # separate processes here too: peak RSS per stage
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                subprocess.run([args.bench, "--threads", str(args.threads), "--only", stage,
                                "--warmup", str(args.warmup), "--steps", str(args.steps),
                                "--ae-batch", str(args.ae_batch),
                                "--flow-batch", str(args.flow_batch), "--json", out.name,
                                "--device", args.device],
                               check=True, capture_output=True)
                kite_results[stage] = json.load(open(out.name))[stage]
    print(f"{args.device}, threads {args.threads}, {args.steps} timed steps after {args.warmup} "
          "warm-up")
    print(f"{'stage':6} {'':8} {'median ms':>10} {'best ms':>9} {'CPU ms':>9} {'peak RSS MiB':>13}")
    for stage in stages:
        rows = [("pytorch", torch_results[stage])]
        if stage in kite_results:
            rows.append(("kite", kite_results[stage]))
        for name, r in rows:
            print(f"{stage:6} {name:8} {r['median_ms']:10.1f} {r['best_ms']:9.1f} "
                  f"{r['median_cpu_ms']:9.1f} {r['peak_rss_mib']:13.0f}")
        if stage in kite_results:
            k, t = kite_results[stage], torch_results[stage]
            print(f"{stage:6} {'ratio':8} {k['median_ms'] / t['median_ms']:10.2f} "
                  f"{k['best_ms'] / t['best_ms']:9.2f} {k['median_cpu_ms'] / t['median_cpu_ms']:9.2f}"
                  f" {k['peak_rss_mib'] / t['peak_rss_mib']:13.2f}   (kite / PyTorch)")


if __name__ == "__main__":
    main()
