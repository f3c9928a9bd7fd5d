#!/usr/bin/env python3
"""Writes tests/reference/python_written.safetensors with Hugging Face's `safetensors` package.

The C++ test (tests/unit/safetensors.cpp) reads this file and checks every value exactly, which
proves kite reads what the reference implementation writes. The values are chosen to exercise
the edges of each dtype; keep them in sync with the test. See tests/reference/README.md.
"""
import pathlib
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

OUTPUT = pathlib.Path(__file__).resolve().parent / "python_written.safetensors"


def tensors():
    return {
        "f32": np.array([[1.5, -2.25, 3.0e38], [0.1, 1.0e-30, -0.0]], dtype=np.float32),
        "f64": np.array([np.pi, -1.0e300, np.finfo(np.float64).smallest_subnormal], dtype=np.float64),
        "i64": np.array([[-(2**63), 2**63 - 1], [0, -1]], dtype=np.int64),
        "u8": np.array([[0, 51, 102], [153, 204, 255]], dtype=np.uint8),
        "scalar": np.array(7.25, dtype=np.float32),  # 0-d
        "empty": np.zeros((0, 3), dtype=np.float64),
    }


METADATA = {"format": "np", "step": "42", "note": "written by make_safetensors_fixture.py"}


def main():
    data = tensors()
    save_file(data, str(OUTPUT), metadata=METADATA)
    # Read back with the same package so a broken write is caught here, not in C++.
    loaded = load_file(str(OUTPUT))
    for name, array in data.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape, name
        assert np.array_equal(loaded[name], array), name
    size = OUTPUT.stat().st_size
    print(f"wrote {OUTPUT} ({size} bytes)")
    return 0 if size < 2048 else 1


if __name__ == "__main__":
    sys.exit(main())
