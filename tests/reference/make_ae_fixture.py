#!/usr/bin/python3
"""Writes tests/reference/ae_reference.safetensors: PyTorch's results for small versions of the
stage-1 autoencoder (models/ae/), read by tests/unit/autoencoder.cpp.

The PyTorch model below is written from the architecture described in models/ae/autoencoder.h
and shared/REFERENCES.md (the authors' Soft-IntroVAE-style encoder/decoder), with the same
parameter names as kite's, so that kite can load the very same weights and must then produce
the same reconstructions, gradients and BatchNorm running statistics.

Needs Debian's python3-torch and python3-numpy (run with /usr/bin/python3). CI never runs this:
the fixture file is committed.

For each case <c> the file holds (all float64):
  <c>/param/<name>       the model's initial parameters and buffers (PyTorch's default init,
                         fixed seed; num_batches_tracked as I64)
  <c>/input              images [N, C, S, S], uniform in [0, 1]
  <c>/train/output       the reconstruction in training mode (batch statistics)
  <c>/train/loss         mean squared error of that reconstruction against the input (0-d)
  <c>/train/grad/<name>  d loss / d parameter
  <c>/train/buffer/<name> every buffer after that one training forward
  <c>/eval/output        the reconstruction in evaluation mode afterwards (running statistics)
  <c>/eval/codes         the encoder's output in evaluation mode
The metadata holds each case's configuration as JSON (image_size, image_channels, channels,
latent_dim), which the C++ test reads to build the same model.
"""
import json
import pathlib
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUTPUT = pathlib.Path(__file__).resolve().parent / "ae_reference.safetensors"
MAX_BYTES = 1 << 20

CASES = {
    "ae28": {"image_size": 28, "image_channels": 1, "channels": [8, 16], "latent_dim": 4, "batch": 4},
    "ae32rgb": {"image_size": 32, "image_channels": 3, "channels": [4, 8, 8], "latent_dim": 6, "batch": 2},
}


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        if cin != cout:
            self.conv_expand = nn.Conv2d(cin, cout, 1, bias=False)
        else:
            self.conv_expand = None
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        skip = x if self.conv_expand is None else self.conv_expand(x)
        h = F.leaky_relu(self.bn1(self.conv1(x)), 0.2)
        h = self.bn2(self.conv2(h))
        return F.leaky_relu(h + skip, 0.2)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        widths = cfg["channels"]
        self.conv_in = nn.Conv2d(cfg["image_channels"], widths[0], 5, padding=2, bias=False)
        self.bn_in = nn.BatchNorm2d(widths[0])
        width = widths[0]
        self.blocks = []
        for k in range(1, len(widths) + 1):
            nxt = widths[k] if k < len(widths) else width
            block = ResidualBlock(width, nxt)
            self.add_module(f"res{k - 1}", block)
            self.blocks.append(block)
            width = nxt
        bottom = cfg["image_size"] >> len(widths)
        self.fc = nn.Linear(width * bottom * bottom, cfg["latent_dim"])

    def forward(self, x):
        h = F.avg_pool2d(F.leaky_relu(self.bn_in(self.conv_in(x)), 0.2), 2)
        for k, block in enumerate(self.blocks):
            h = block(h)
            if k + 1 < len(self.blocks):
                h = F.avg_pool2d(h, 2)
        return self.fc(h.flatten(1))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        widths = cfg["channels"]
        self.bottom = cfg["image_size"] >> len(widths)
        self.top_width = widths[-1]
        self.fc = nn.Linear(cfg["latent_dim"], widths[-1] * self.bottom * self.bottom)
        width = widths[-1]
        self.blocks = []
        for k in range(len(widths) + 1):
            nxt = widths[len(widths) - 1 - k] if k < len(widths) else width
            block = ResidualBlock(width, nxt)
            self.add_module(f"res{k}", block)
            self.blocks.append(block)
            width = nxt
        self.conv_out = nn.Conv2d(width, cfg["image_channels"], 5, padding=2, bias=True)

    def forward(self, z):
        h = F.relu(self.fc(z)).view(z.shape[0], self.top_width, self.bottom, self.bottom)
        for k, block in enumerate(self.blocks):
            h = block(h)
            if k + 1 < len(self.blocks):
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.conv_out(h)


class Autoencoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def as_numpy(t):
    return t.detach().cpu().numpy().copy()


def main():
    tensors = {}
    metadata = {}
    for case_index, (name, cfg) in enumerate(CASES.items()):
        torch.manual_seed(1234 + case_index)
        model = Autoencoder(cfg).double()
        for key, value in model.state_dict().items():
            tensors[f"{name}/param/{key}"] = as_numpy(value)
        x = torch.rand(cfg["batch"], cfg["image_channels"], cfg["image_size"], cfg["image_size"],
                       dtype=torch.float64)
        tensors[f"{name}/input"] = as_numpy(x)

        model.train()
        out = model(x)
        loss = F.mse_loss(out, x)
        loss.backward()
        tensors[f"{name}/train/output"] = as_numpy(out)
        tensors[f"{name}/train/loss"] = as_numpy(loss)
        for key, p in model.named_parameters():
            tensors[f"{name}/train/grad/{key}"] = as_numpy(p.grad)
        for key, b in model.named_buffers():
            tensors[f"{name}/train/buffer/{key}"] = as_numpy(b)

        model.eval()
        with torch.no_grad():
            tensors[f"{name}/eval/output"] = as_numpy(model(x))
            tensors[f"{name}/eval/codes"] = as_numpy(model.encoder(x))
        metadata[name] = json.dumps({k: v for k, v in cfg.items() if k != "batch"})

    write_safetensors(OUTPUT, tensors, metadata)
    size = OUTPUT.stat().st_size
    print(f"wrote {OUTPUT}: {len(CASES)} cases, {len(tensors)} tensors, {size} bytes (torch {torch.__version__})")
    return 0 if size < MAX_BYTES else 1


DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}


def write_safetensors(path, tensors, metadata):
    """The safetensors layout (see engine/safetensors.h): 8-byte header length, JSON header
    padded to 8 bytes, then the data in name order."""
    header = {"__metadata__": metadata}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        array = np.array(tensors[name], order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)


if __name__ == "__main__":
    sys.exit(main())
