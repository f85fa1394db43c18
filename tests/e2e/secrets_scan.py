#!/usr/bin/env python3
"""secrets_scan.py SECRETS_FILE PATH...: looks for secrets anywhere under PATHs.

SECRETS_FILE holds one secret per line (the values; each at least 6 bytes).
Every regular file under each PATH (symlinks are not followed; their targets
and every file name are scanned too) is searched, and so is every file
nested in it: gzip and zstd streams (found by their magic bytes) are
decompressed and tar archives are opened, recursively, so layer blobs inside
an OCI archive are read in full.

Encodings searched: raw, lowercase and uppercase hex, and base64 and
base64url for each of the 3 alignments (the secret preceded by 0, 1 or 2
bytes in its 3-byte group), keeping only the characters that do not depend
on the neighbouring bytes.

Prints one line per hit ("HIT path: encoding") and, last, the number of
files read ("scanned N files"). Exits 1 if anything was found, 0 otherwise.
"""
import base64
import gzip
import io
import os
import subprocess
import sys
import tarfile
import zlib

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def base64_cores(value, alphabet):
    """The alignment-independent base64 substrings of `value`."""
    cores = []
    for k, drop in ((0, 0), (1, 2), (2, 3)):
        n = k + len(value)
        enc = base64.b64encode(b"\0" * k + value)[: 4 * (n // 3)]
        if alphabet == "url":
            enc = enc.replace(b"+", b"-").replace(b"/", b"_")
        core = enc[drop:]
        if len(core) >= 8:
            cores.append(core)
    return cores


def patterns_for(value):
    pats = [("raw", value), ("hex", value.hex().encode()), ("HEX", value.hex().upper().encode())]
    for i, core in enumerate(base64_cores(value, "std")):
        pats.append((f"base64[{i}]", core))
    for i, core in enumerate(base64_cores(value, "url")):
        pats.append((f"base64url[{i}]", core))
    return pats


class Scanner:
    def __init__(self, secrets):
        self.patterns = []
        for n, s in enumerate(secrets):
            for enc, p in patterns_for(s):
                self.patterns.append((f"secret#{n} {enc}", p))
        self.hits = []
        self.files = 0

    def search(self, data, where):
        for name, p in self.patterns:
            if p in data:
                self.hits.append(f"HIT {where}: {name}")

    def scan_bytes(self, data, where, depth=0):
        self.files += 1
        self.search(data, where)
        if depth > 4:
            return
        if data.startswith(GZIP_MAGIC):
            try:
                plain = gzip.decompress(data)
            except (OSError, EOFError, zlib.error):
                # A truncated stream: take what decompresses.
                plain = zlib.decompressobj(31).decompress(data)
            self.scan_bytes(plain, where + "!gunzip", depth + 1)
        elif data.startswith(ZSTD_MAGIC):
            r = subprocess.run(["zstd", "-dcq"], input=data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            self.scan_bytes(r.stdout, where + "!unzstd", depth + 1)
        elif len(data) >= 512 and data[257:262] == b"ustar":
            try:
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
                    for m in tf:
                        self.search((m.name + "\0" + m.linkname).encode("utf-8", "surrogateescape"),
                                    f"{where}!{m.name} (name)")
                        for k, v in m.pax_headers.items():
                            self.search((k + "=" + v).encode("utf-8", "surrogateescape"), f"{where}!{m.name} (pax)")
                        if m.isfile():
                            f = tf.extractfile(m)
                            if f is not None:
                                self.scan_bytes(f.read(), f"{where}!{m.name}", depth + 1)
            except tarfile.TarError as e:
                self.hits.append(f"HIT {where}: unreadable tar: {e}")

    def scan_path(self, root):
        if os.path.islink(root) or not os.path.isdir(root):
            self.scan_entry(root)
            return
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            self.search(dirpath.encode("utf-8", "surrogateescape"), dirpath + " (name)")
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                self.scan_entry(os.path.join(dirpath, name))

    def scan_entry(self, path):
        self.search(path.encode("utf-8", "surrogateescape"), path + " (name)")
        if os.path.islink(path):
            self.search(os.readlink(path).encode("utf-8", "surrogateescape"), path + " (link)")
            return
        try:
            for attr in os.listxattr(path, follow_symlinks=False):
                self.search(attr.encode() + b"=" + os.getxattr(path, attr, follow_symlinks=False), path + " (xattr)")
        except OSError:
            pass
        if not os.path.isfile(path):
            return
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            self.hits.append(f"HIT {path}: unreadable: {e}")
            return
        self.scan_bytes(data, path)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        secrets = [line for line in f.read().split(b"\n") if line]
    if not secrets or any(len(s) < 6 for s in secrets):
        print("secrets_scan: need secrets of at least 6 bytes", file=sys.stderr)
        return 2
    sc = Scanner(secrets)
    for p in sys.argv[2:]:
        if os.path.lexists(p):
            sc.scan_path(p)
    for h in sc.hits:
        print(h)
    print(f"scanned {sc.files} files")
    return 1 if sc.hits else 0


if __name__ == "__main__":
    sys.exit(main())
