#!/usr/bin/env python3
"""Writes an OCI image archive (oci-archive) whose single layer is hostile.

Usage: hostile_archive.py KIND OUT.tar NAME SENTINEL_DIR

KIND picks the layer:
  dotdot        a file named ../../<sentinel>/dotdot
  absolute      a file named <sentinel>/absolute (absolute path)
  symlink       a symlink "esc" -> <sentinel>, then a file "esc/through"
  hardlink      a hard link "passwd" -> /etc/passwd
  hardlink_up   a hard link "x" -> ../../<sentinel>/victim
  whiteout      a whiteout ".wh.../../<sentinel>/victim" and "../.wh.victim"
  hugesize      a header claiming a 8 GiB file with no data behind it
  truncated     a valid layer cut in the middle of a file's data
  good          a harmless layer (bin/hello)
The image is tagged NAME (annotation org.opencontainers.image.ref.name).
"""
import gzip
import hashlib
import io
import json
import sys
import tarfile


def member(name, data=b"", **kw):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    for k, v in kw.items():
        setattr(info, k, v)
    return info, (io.BytesIO(data) if data else None)


def layer(kind, sentinel):
    rel = sentinel.lstrip("/")
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
    def add(name, data=b"", **kw):
        info, f = member(name, data, **kw)
        tf.addfile(info, f)
    if kind == "dotdot":
        add("../../../../../../../../.." + sentinel + "/dotdot", b"pwned\n")
    elif kind == "absolute":
        add(sentinel + "/absolute", b"pwned\n")
    elif kind == "symlink":
        add("esc", type=tarfile.SYMTYPE, linkname=sentinel)
        add("esc/through", b"pwned\n")
    elif kind == "symlink_rel":
        add("esc", type=tarfile.SYMTYPE, linkname="../../../../../../../../.." + sentinel)
        add("esc/through", b"pwned\n")
    elif kind == "hardlink":
        add("passwd", type=tarfile.LNKTYPE, linkname="/etc/passwd")
    elif kind == "hardlink_up":
        add("x", type=tarfile.LNKTYPE, linkname="../../../../../../../../.." + sentinel + "/victim")
    elif kind == "whiteout":
        add("../../../../../../../../.." + sentinel + "/.wh.victim")
    elif kind == "good":
        add("bin", type=tarfile.DIRTYPE, mode=0o755)
        add("bin/hello", b"hello\n")
    elif kind in ("hugesize", "truncated"):
        pass
    else:
        raise SystemExit("unknown kind " + kind)
    tf.close()
    data = buf.getvalue()
    if kind == "hugesize":
        # A ustar header that claims 8 GiB (octal in the size field) with
        # only the end-of-archive blocks behind it.
        info, _ = member("huge")
        info.size = 8 << 30
        data = info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024
    elif kind == "truncated":
        info, _ = member("big", b"")
        info.size = 1 << 20
        data = info.tobuf(format=tarfile.USTAR_FORMAT) + b"A" * 5000
    return data


def blob(blobs, data):
    d = hashlib.sha256(data).hexdigest()
    blobs[d] = data
    return "sha256:" + d


def main():
    kind, out, name, sentinel = sys.argv[1:5]
    raw = layer(kind, sentinel)
    gz = gzip.compress(raw, mtime=0)
    blobs = {}
    layer_digest = blob(blobs, gz)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created_by": "hostile " + kind}],
    }, sort_keys=True).encode()
    config_digest = blob(blobs, config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": len(gz)}],
    }, sort_keys=True).encode()
    manifest_digest = blob(blobs, manifest)
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": name,
                                       "io.containerd.image.name": "docker.io/library/" + name}}],
    }).encode()
    with tarfile.open(out, "w") as tf:
        def put(path, data):
            info, f = member(path, data)
            tf.addfile(info, f)
        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", index)
        for d, data in sorted(blobs.items()):
            put("blobs/sha256/" + d, data)


if __name__ == "__main__":
    main()
