#!/usr/bin/env python3
"""Writes the small files that tests/unit/data_*.cpp read (IDX, CIFAR-10, PNG, JPEG).

Pure Python (struct, zlib, gzip) so that the PNG and IDX encoders are independent of the
libpng-based code under test; the JPEGs come from libjpeg-turbo's cjpeg, and their reference
decodes from djpeg (Debian package libjpeg-turbo-progs). The pixel formulas here are
repeated in tests/unit/data_test_util.h; change both together. The outputs are committed,
so tests never run this script.

Usage: python3 tests/data/make_data_fixtures.py   (from anywhere; writes next to itself)
"""
import gzip
import os
import struct
import subprocess
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- pixel formulas
def pattern8(c, y, x):
    return (37 * x + 11 * y + 85 * c + 7) % 256


def pattern16(c, y, x):
    return (4099 * x + 1031 * y + 21845 * c + 300) % 65536


def alpha8(y, x):
    return (13 * x + 29 * y + 50) % 256


def bit1(y, x):
    return 1 if (x * y + x) % 3 == 0 else 0


def palette_entry(k):
    return ((k * 50) % 256, (k * 90 + 10) % 256, (255 - k * 40) % 256)


def palette_index6(y, x):
    return (x + 2 * y) % 6


def palette_index4(y, x):
    return (x + y) % 4


def smooth(c, y, x):  # for JPEG: a gentle gradient that survives compression
    return 20 + 8 * x + 5 * y + 30 * c


def idx_pixel(i, r, col):
    return (i * 31 + r * 7 + col * 3) % 256


def idx_label(i):
    return (i * 3 + 1) % 10


def cifar_label(g):
    return (g * 7 + 3) % 10


def cifar_pixel(g, c, y, x):
    return (g * 13 + c * 71 + y * 5 + x * 3) % 256


# ---------------------------------------------------------------- PNG encoder
def chunk(kind, data):
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def pack_row(samples, bit_depth):
    """samples: flat list of sample values for one row."""
    if bit_depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if bit_depth == 8:
        return bytes(samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << bit_depth) | s
        bits += bit_depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp, first_filter):
    """Filters each row with type (first_filter + row) % 5 to exercise all five filters."""
    out, prev = bytearray(), bytes(len(rows[0])) if rows else b""
    for r, row in enumerate(rows):
        kind = (first_filter + r) % 5
        filtered = bytearray()
        for i, v in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            filtered.append((v - predictor) % 256)
        out.append(kind)
        out += filtered
        prev = row
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, width, height, bit_depth, color_type, pixel, extra=b"", interlace=False):
    """pixel(y, x) -> tuple of samples for that pixel."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    bpp = max(1, channels * bit_depth // 8)
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            xs, ys = range(x0, width, dx), range(y0, height, dy)
            if not xs or not ys:
                continue
            rows = [pack_row([s for x in xs for s in pixel(y, x)], bit_depth) for y in ys]
            raw += filter_rows(rows, bpp, first_filter=y0)
    else:
        rows = [pack_row([s for x in range(width) for s in pixel(y, x)], bit_depth)
                for y in range(height)]
        raw = filter_rows(rows, bpp, first_filter=0)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
    compressed = zlib.compress(raw, 9)
    half = len(compressed) // 2  # two IDAT chunks: the decoder must join them
    data += chunk(b"IDAT", compressed[:half]) + chunk(b"IDAT", compressed[half:])
    data += chunk(b"IEND", b"")
    with open(os.path.join(HERE, "png", name), "wb") as f:
        f.write(data)


def make_pngs():
    os.makedirs(os.path.join(HERE, "png"), exist_ok=True)
    w, h = 7, 5
    write_png("gray8.png", w, h, 8, 0, lambda y, x: (pattern8(0, y, x),))
    write_png("gray16.png", w, h, 16, 0, lambda y, x: (pattern16(0, y, x),))
    write_png("gray1.png", 11, 3, 1, 0, lambda y, x: (bit1(y, x),))
    write_png("gray_alpha8.png", w, h, 8, 4, lambda y, x: (pattern8(0, y, x), alpha8(y, x)))
    write_png("rgb8.png", w, h, 8, 2, lambda y, x: tuple(pattern8(c, y, x) for c in range(3)))
    write_png("rgb16.png", w, h, 16, 2, lambda y, x: tuple(pattern16(c, y, x) for c in range(3)))
    write_png("rgba8.png", w, h, 8, 6,
              lambda y, x: tuple(pattern8(c, y, x) for c in range(3)) + (alpha8(y, x),))
    write_png("rgba16.png", w, h, 16, 6,
              lambda y, x: tuple(pattern16(c, y, x) for c in range(3)) + (alpha8(y, x) * 257,))
    plte6 = chunk(b"PLTE", b"".join(bytes(palette_entry(k)) for k in range(6)))
    trns = chunk(b"tRNS", bytes([0, 128, 255]))
    write_png("palette8_trns.png", w, h, 8, 3, lambda y, x: (palette_index6(y, x),), plte6 + trns)
    plte4 = chunk(b"PLTE", b"".join(bytes(palette_entry(k)) for k in range(4)))
    write_png("palette2.png", w, h, 2, 3, lambda y, x: (palette_index4(y, x),), plte4)
    write_png("rgb8_interlaced.png", 9, 10, 8, 2,
              lambda y, x: tuple(pattern8(c, y, x) for c in range(3)), interlace=True)


# ---------------------------------------------------------------- IDX
def idx_images(first, count, rows, cols):
    header = struct.pack(">BBBBIII", 0, 0, 0x08, 3, count, rows, cols)
    body = bytes(idx_pixel(first + i, r, c) for i in range(count) for r in range(rows) for c in range(cols))
    return header + body


def idx_labels(first, count):
    return struct.pack(">BBBBI", 0, 0, 0x08, 1, count) + bytes(idx_label(first + i) for i in range(count))


def write(path, data, gz=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if gz:
        data = gzip.compress(data, mtime=0)  # mtime 0: the same bytes on every run
    with open(path, "wb") as f:
        f.write(data)


def make_idx():
    d = os.path.join(HERE, "idx")
    write(os.path.join(d, "tiny-images-idx3-ubyte"), idx_images(0, 5, 4, 3))
    write(os.path.join(d, "tiny-labels-idx1-ubyte"), idx_labels(0, 5))
    write(os.path.join(d, "tiny-images-idx3-ubyte.gz"), idx_images(0, 5, 4, 3), gz=True)
    write(os.path.join(d, "tiny-labels-idx1-ubyte.gz"), idx_labels(0, 5), gz=True)
    # An MNIST-style folder: the train split gzipped under the usual names, the test split
    # plain under the dotted names some mirrors use.
    m = os.path.join(HERE, "mnist")
    write(os.path.join(m, "train-images-idx3-ubyte.gz"), idx_images(0, 5, 4, 3), gz=True)
    write(os.path.join(m, "train-labels-idx1-ubyte.gz"), idx_labels(0, 5), gz=True)
    write(os.path.join(m, "t10k-images.idx3-ubyte"), idx_images(5, 3, 4, 3))
    write(os.path.join(m, "t10k-labels.idx1-ubyte"), idx_labels(5, 3))


# ---------------------------------------------------------------- CIFAR-10
def cifar_records(first, count):
    out = bytearray()
    for g in range(first, first + count):
        out.append(cifar_label(g))
        out += bytes(cifar_pixel(g, c, y, x) for c in range(3) for y in range(32) for x in range(32))
    return bytes(out)


def make_cifar():
    d = os.path.join(HERE, "cifar10")
    counts = [1, 1, 2, 1, 1]  # batch 3 holds two records: the loader must concatenate
    first = 0
    for b, count in enumerate(counts, start=1):
        write(os.path.join(d, "data_batch_%d.bin" % b), cifar_records(first, count))
        first += count
    write(os.path.join(d, "test_batch.bin"), cifar_records(100, 2))


# ---------------------------------------------------------------- JPEG (cjpeg)
def make_jpegs():
    d = os.path.join(HERE, "jpeg")
    os.makedirs(d, exist_ok=True)
    w, h = 16, 12
    ppm = b"P6\n%d %d\n255\n" % (w, h) + bytes(smooth(c, y, x) for y in range(h) for x in range(w) for c in range(3))
    pgm = b"P5\n%d %d\n255\n" % (w, h) + bytes(smooth(0, y, x) for y in range(h) for x in range(w))
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (("in.ppm", ppm), ("in.pgm", pgm)):
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        jobs = [
            ("rgb.jpg", ["-quality", "95"], "in.ppm"),
            ("rgb_progressive.jpg", ["-quality", "95", "-sample", "1x1", "-progressive"], "in.ppm"),
            ("gray.jpg", ["-quality", "95"], "in.pgm"),
        ]
        for out, flags, src in jobs:
            subprocess.run(["cjpeg", *flags, "-outfile", os.path.join(d, out), os.path.join(tmp, src)], check=True)
            # libjpeg's own decode (default settings, as the reader uses), for exact comparison.
            reference = os.path.join(d, out.replace(".jpg", "_djpeg.pnm"))
            subprocess.run(["djpeg", "-pnm", "-outfile", reference, os.path.join(d, out)], check=True)


if __name__ == "__main__":
    make_pngs()
    make_idx()
    make_cifar()
    make_jpegs()
