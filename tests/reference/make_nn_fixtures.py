#!/usr/bin/python3
"""Writes tests/reference/nn_reference.safetensors: PyTorch's results for the spatial and
normalisation ops (conv2d, conv_transpose2d, max/avg/adaptive pooling, nearest and bilinear
upsampling, batch/group/layer norm), read by tests/unit/nn_reference.cpp.

Needs Debian's python3-torch and python3-numpy (`apt-get install python3-torch python3-numpy`;
run with /usr/bin/python3). CI never runs this: the fixture file is committed.

For each case <c> the file holds, as safetensors tensors named "<c>/<what>":
  <c>/in<i>            input i (float64), drawn from a fixed-seed generator
  <c>/grad_out         the incoming gradient of the output (float64)
  <c>/out.f64          the output computed in float64, and <c>/out.f32 in float32
  <c>/grad<i>.f64      d(sum(out * grad_out))/d(input i), float64 and float32 ("grad<i>.f32")
  <c>/extra.<name>.f64 other results (max-pooling indices as I64, updated running statistics)
Float32 results are computed from the float64 inputs rounded to float32. The metadata map
"__metadata__" has one entry per case: its name -> a description of its configuration, so the
C++ test can check that it knows exactly the cases in the file.

Every case's configuration is written twice, here and in nn_reference.cpp: keep them in sync.
Asymmetric padding, which PyTorch's conv2d lacks, is F.pad followed by an unpadded conv2d.
"""
import json
import pathlib
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

OUTPUT = pathlib.Path(__file__).resolve().parent / "nn_reference.safetensors"
MAX_BYTES = 1 << 20


def conv2d_asym(x, w, b, stride, pad, dilation, groups):
    top, bottom, left, right = pad
    return F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride=stride,
                    dilation=dilation, groups=groups)


# name -> (description, input specs, function). An input spec is (shape, kind, differentiable):
# kind "normal" or "positive" (uniform in [0.5, 2], for variances).
CASES = {
    "conv2d_3x3_pad1_bias": (
        "conv2d padding 1 with bias",
        [((2, 3, 6, 5), "normal", True), ((4, 3, 3, 3), "normal", True), ((4,), "normal", True)],
        lambda x, w, b: F.conv2d(x, w, b, padding=1)),
    "conv2d_stride_asym_pad_dilation_groups": (
        "conv2d stride (2,1) padding (top 1, bottom 2, left 0, right 1) dilation (2,1) groups 2",
        [((2, 4, 9, 8), "normal", True), ((6, 2, 3, 2), "normal", True)],
        lambda x, w: conv2d_asym(x, w, None, (2, 1), (1, 2, 0, 1), (2, 1), 2)),
    "conv2d_1x7": (
        "conv2d 1x7 kernel padding (0,3) with bias",
        [((1, 3, 7, 9), "normal", True), ((2, 3, 1, 7), "normal", True), ((2,), "normal", True)],
        lambda x, w, b: F.conv2d(x, w, b, padding=(0, 3))),
    "conv2d_7x1": (
        "conv2d 7x1 kernel padding (3,0)",
        [((1, 3, 9, 7), "normal", True), ((2, 3, 7, 1), "normal", True)],
        lambda x, w: F.conv2d(x, w, padding=(3, 0))),
    "conv2d_pointwise": (
        "conv2d 1x1 with bias",
        [((2, 5, 4, 3), "normal", True), ((3, 5, 1, 1), "normal", True), ((3,), "normal", True)],
        lambda x, w, b: F.conv2d(x, w, b)),
    "conv2d_depthwise_stride2": (
        "conv2d 3x3 stride 2 padding 1 groups 4 (depthwise)",
        [((2, 4, 7, 7), "normal", True), ((4, 1, 3, 3), "normal", True)],
        lambda x, w: F.conv2d(x, w, stride=2, padding=1, groups=4)),
    "conv2d_5x5_one_channel": (
        "conv2d 5x5 padding 2 with bias, one input channel",
        [((2, 1, 8, 8), "normal", True), ((3, 1, 5, 5), "normal", True), ((3,), "normal", True)],
        lambda x, w, b: F.conv2d(x, w, b, padding=2)),
    "conv_transpose2d_s2_p1_op1_bias": (
        "conv_transpose2d stride 2 padding 1 output_padding 1 with bias",
        [((2, 4, 4, 3), "normal", True), ((4, 3, 3, 3), "normal", True), ((3,), "normal", True)],
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)),
    "conv_transpose2d_groups_dilation": (
        "conv_transpose2d stride (1,2) padding (0,1) dilation (1,2) groups 2",
        [((1, 4, 3, 4), "normal", True), ((4, 2, 2, 3), "normal", True)],
        lambda x, w: F.conv_transpose2d(x, w, stride=(1, 2), padding=(0, 1), dilation=(1, 2),
                                        groups=2)),
    "max_pool2d_2x2": (
        "max_pool2d kernel 2",
        [((2, 3, 6, 6), "normal", True)],
        lambda x: F.max_pool2d(x, 2, return_indices=True)),
    "max_pool2d_3x3_s2_p1_ceil": (
        "max_pool2d kernel 3 stride 2 padding 1 ceil_mode",
        [((1, 2, 7, 8), "normal", True)],
        lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)),
    "max_pool2d_3x3_s1_p1": (
        "max_pool2d kernel 3 stride 1 padding 1",
        [((1, 2, 5, 5), "normal", True)],
        lambda x: F.max_pool2d(x, 3, 1, 1, return_indices=True)),
    "max_pool2d_dilation": (
        "max_pool2d kernel (2,3) stride (1,2) dilation 2",
        [((1, 2, 8, 7), "normal", True)],
        lambda x: F.max_pool2d(x, (2, 3), (1, 2), 0, dilation=2, return_indices=True)),
    "avg_pool2d_2x2": (
        "avg_pool2d kernel 2",
        [((2, 3, 6, 6), "normal", True)],
        lambda x: F.avg_pool2d(x, 2)),
    "avg_pool2d_3x3_s1_p1_exclude_pad": (
        "avg_pool2d kernel 3 stride 1 padding 1 count_include_pad false",
        [((1, 3, 5, 6), "normal", True)],
        lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)),
    "avg_pool2d_3x3_s2_p1_ceil_include_pad": (
        "avg_pool2d kernel 3 stride 2 padding 1 ceil_mode count_include_pad true",
        [((1, 2, 7, 6), "normal", True)],
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)),
    "avg_pool2d_3x3_s2_p1_ceil_exclude_pad": (
        "avg_pool2d kernel 3 stride 2 padding 1 ceil_mode count_include_pad false",
        [((1, 2, 8, 7), "normal", True)],
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    "adaptive_avg_pool2d_7x5_to_3x2": (
        "adaptive_avg_pool2d 7x5 -> 3x2",
        [((2, 2, 7, 5), "normal", True)],
        lambda x: F.adaptive_avg_pool2d(x, (3, 2))),
    "adaptive_avg_pool2d_global": (
        "adaptive_avg_pool2d -> 1x1",
        [((2, 3, 5, 4), "normal", True)],
        lambda x: F.adaptive_avg_pool2d(x, 1)),
    "upsample_nearest2d_x2": (
        "nearest upsampling by 2",
        [((2, 2, 3, 4), "normal", True)],
        lambda x: F.interpolate(x, scale_factor=2, mode="nearest")),
    "upsample_nearest2d_2x3": (
        "nearest upsampling by (2, 3)",
        [((1, 2, 3, 2), "normal", True)],
        lambda x: F.interpolate(x, size=(6, 6), mode="nearest")),
    "upsample_bilinear2d_up_half_pixel": (
        "bilinear 5x4 -> 9x7 align_corners false",
        [((1, 2, 5, 4), "normal", True)],
        lambda x: F.interpolate(x, size=(9, 7), mode="bilinear", align_corners=False)),
    "upsample_bilinear2d_up_align_corners": (
        "bilinear 5x4 -> 8x11 align_corners true",
        [((1, 2, 5, 4), "normal", True)],
        lambda x: F.interpolate(x, size=(8, 11), mode="bilinear", align_corners=True)),
    "upsample_bilinear2d_down_half_pixel": (
        "bilinear 9x9 -> 4x4 align_corners false",
        [((1, 2, 9, 9), "normal", True)],
        lambda x: F.interpolate(x, size=(4, 4), mode="bilinear", align_corners=False)),
    "upsample_bilinear2d_12_to_37": (
        "bilinear 12x12 -> 37x37 align_corners false (FID-style resize)",
        [((1, 1, 12, 12), "normal", True)],
        lambda x: F.interpolate(x, size=(37, 37), mode="bilinear", align_corners=False)),
    "batch_norm_train": (
        "batch_norm training, affine, running stats, momentum 0.1, eps 1e-5",
        [((4, 3, 3, 3), "normal", True), ((3,), "normal", True), ((3,), "normal", True),
         ((3,), "normal", False), ((3,), "positive", False)],
        "batch_norm_train"),
    "batch_norm_eval": (
        "batch_norm evaluation, affine, eps 1e-3",
        [((2, 3, 3, 2), "normal", True), ((3,), "normal", True), ((3,), "normal", True),
         ((3,), "normal", False), ((3,), "positive", False)],
        lambda x, w, b, rm, rv: F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-3)),
    "batch_norm_train_1d": (
        "batch_norm training on [N, C], no affine, no running stats",
        [((6, 4), "normal", True)],
        lambda x: F.batch_norm(x, None, None, training=True)),
    "group_norm": (
        "group_norm 3 groups, affine, eps 1e-5",
        [((2, 6, 3, 3), "normal", True), ((6,), "normal", True), ((6,), "normal", True)],
        lambda x, w, b: F.group_norm(x, 3, w, b)),
    "layer_norm": (
        "layer_norm over the last two axes (4, 5), affine, eps 1e-5",
        [((3, 4, 5), "normal", True), ((4, 5), "normal", True), ((4, 5), "normal", True)],
        lambda x, w, b: F.layer_norm(x, (4, 5), w, b)),
}


def run_batch_norm_train(inputs, extras):
    x, w, b, rm, rv = inputs
    rm, rv = rm.clone(), rv.clone()
    out = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
    extras["running_mean"] = rm
    extras["running_var"] = rv
    return out


def evaluate(name, spec, inputs64, grad_out64, dtype):
    """Output, input gradients and extra results of one case in `dtype`."""
    _, input_specs, fn = spec
    inputs = []
    for value, (_, _, differentiable) in zip(inputs64, input_specs):
        t = torch.from_numpy(value).to(dtype)
        inputs.append(t.requires_grad_(differentiable))
    extras = {}
    if fn == "batch_norm_train":
        out = run_batch_norm_train(inputs, extras)
    else:
        out = fn(*inputs)
    if isinstance(out, tuple):  # max pooling: (values, indices)
        out, extras["indices"] = out
    grad_out = torch.from_numpy(grad_out64(out.shape)).to(dtype)
    out.backward(grad_out)
    grads = [t.grad if t.requires_grad else None for t in inputs]
    return out.detach(), grads, extras, grad_out


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(20240611)
    tensors = {}
    metadata = {}
    for name, spec in CASES.items():
        description, input_specs, _ = spec
        metadata[name] = description
        inputs = []
        for shape, kind, _ in input_specs:
            if kind == "positive":
                inputs.append(rng.uniform(0.5, 2.0, size=shape))
            else:
                inputs.append(rng.standard_normal(size=shape))
        grad_cache = {}

        def grad_out64(shape):
            if "g" not in grad_cache:
                grad_cache["g"] = rng.standard_normal(size=tuple(shape))
            return grad_cache["g"]

        for i, value in enumerate(inputs):
            tensors[f"{name}/in{i}"] = value
        for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
            out, grads, extras, _ = evaluate(name, spec, inputs, grad_out64, dtype)
            tensors[f"{name}/out.{suffix}"] = out.numpy()
            for i, g in enumerate(grads):
                if g is not None:
                    tensors[f"{name}/grad{i}.{suffix}"] = g.numpy()
            for key, value in extras.items():
                tensors[f"{name}/extra.{key}.{suffix}"] = value.detach().numpy()
        tensors[f"{name}/grad_out"] = grad_cache["g"]

    write_safetensors(OUTPUT, tensors, metadata)
    size = OUTPUT.stat().st_size
    print(f"wrote {OUTPUT}: {len(CASES)} cases, {len(tensors)} tensors, {size} bytes")
    return 0 if size < MAX_BYTES else 1


DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}


def write_safetensors(path, tensors, metadata):
    """The safetensors layout (see engine/safetensors.h), written directly so that no
    package beyond numpy is needed: 8-byte header length, JSON header, aligned data."""
    header = {"__metadata__": metadata}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
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
