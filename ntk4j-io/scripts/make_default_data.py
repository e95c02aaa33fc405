#!/usr/bin/env python3
"""Extracts ntk4j's embedded default data set from the Debian package dataset-fashion-mnist.

Writes the first 2,000 training and the first 1,000 test images and labels of Fashion-MNIST, in the
original IDX format, gzip-compressed with a zero timestamp so that the output is byte-for-byte
reproducible, to ntk4j-io/src/main/resources/org/ntk4j/io/default/. Standard library only.

    apt-get install dataset-fashion-mnist
    python3 ntk4j-io/scripts/make_default_data.py

DefaultDataTest checks that the embedded files hold exactly these prefixes of the Debian files.
Fashion-MNIST is (c) Zalando SE, MIT licence (https://github.com/zalandoresearch/fashion-mnist).
"""
import gzip
import os
import struct
import sys

SRC = "/usr/share/datasets/fashion-mnist"
DST = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "..", "src", "main", "resources", "org", "ntk4j", "io", "default")
SPLITS = {"train": 2000, "t10k": 1000}


def prefix(src_name, dst_name, n):
    with gzip.open(os.path.join(SRC, src_name), "rb") as f:
        magic = f.read(4)
        assert magic[:2] == b"\0\0" and magic[2] == 0x08, (src_name, magic)
        rank = magic[3]
        dims = list(struct.unpack(">" + "I" * rank, f.read(4 * rank)))
        assert dims[0] >= n, (src_name, dims)
        per_example = 1
        for d in dims[1:]:
            per_example *= d
        data = f.read(n * per_example)
        assert len(data) == n * per_example, src_name
    dims[0] = n
    out = magic + struct.pack(">" + "I" * rank, *dims) + data
    with open(os.path.join(DST, dst_name), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as g:
            g.write(out)


def main():
    if not os.path.isdir(SRC):
        sys.exit(SRC + " not found: apt-get install dataset-fashion-mnist")
    os.makedirs(DST, exist_ok=True)
    for split, n in SPLITS.items():
        for kind in ("images-idx3", "labels-idx1"):
            name = "%s-%s-ubyte.gz" % (split, kind)
            prefix(name, name, n)
            print("wrote", os.path.normpath(os.path.join(DST, name)))


if __name__ == "__main__":
    main()
