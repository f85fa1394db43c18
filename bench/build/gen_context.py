#!/usr/bin/env python3
"""gen_context.py KIND DIR: writes a deterministic build context into DIR.

KIND:
  big     ~300 MiB: src/dNN/sNN/fNNNNN.txt, 20 x 10 x 100 = 20,000 small text
          files of 512..4095 bytes (~44 MiB), plus blobs/blobN.bin, 4 x 64 MiB of
          pseudo-random bytes. Fixed PRNG seed, every mtime pinned, so repeated
          generations are byte- and stat-identical.
  small   the files the generated 30-instruction Dockerfile COPYs.
"""
import os
import random
import sys

MTIME = 1700000000


def pin_mtimes(root):
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME), follow_symlinks=False)
    os.utime(root, (MTIME, MTIME))


def write(path, body):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(body)


def big(root):
    rng = random.Random(20240601)
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 \n"
    n = 0
    for d in range(20):
        for s in range(10):
            for _ in range(100):
                size = rng.randrange(512, 4096)
                body = bytes(alphabet[b % len(alphabet)] for b in rng.randbytes(size))
                write(os.path.join(root, "src", "d%02d" % d, "s%02d" % s, "f%05d.txt" % n), body)
                n += 1
    for i in range(4):
        write(os.path.join(root, "blobs", "blob%d.bin" % i),
              b"".join(rng.randbytes(1 << 20) for _ in range(64)))


def small(root):
    for name in ("a", "b", "c", "d"):
        write(os.path.join(root, "files", name + ".txt"), ("file %s\n" % name).encode() * 10)
    for i in range(5):
        write(os.path.join(root, "files", "conf", "c%d.conf" % i), b"key=%d\n" % i)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("big", "small"):
        sys.exit("usage: gen_context.py big|small DIR")
    kind, root = sys.argv[1], sys.argv[2]
    if os.path.exists(root) and os.listdir(root):
        sys.exit("gen_context.py: %s exists and is not empty" % root)
    os.makedirs(root, exist_ok=True)
    big(root) if kind == "big" else small(root)
    pin_mtimes(root)


if __name__ == "__main__":
    main()
