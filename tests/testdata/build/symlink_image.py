#!/usr/bin/env python3
"""Writes an OCI image archive: a base rootfs tar plus one layer of
symlinks that point out of the root, as a hostile base image would.

Usage: symlink_image.py OUT.tar NAME BASE_ROOTFS.tar SENTINEL_DIR

The second layer holds:
  tmp/x -> /etc            (absolute: the host's /etc if followed on the host)
  work  -> SENTINEL_DIR    (a host directory the test watches)
  up    -> ../../../../../../../.. + SENTINEL_DIR
The image is tagged NAME (annotation org.opencontainers.image.ref.name).
"""
import hashlib
import io
import json
import sys
import tarfile

TAR = "application/vnd.oci.image.layer.v1.tar"


def blob(files, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    files["blobs/sha256/" + digest[7:]] = data
    return digest


def symlink_layer(sentinel):
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
    for name, target in [("tmp/x", "/etc"), ("work", sentinel),
                         ("up", "../../../../../../../.." + sentinel)]:
        info = tarfile.TarInfo(name)
        info.type = tarfile.SYMTYPE
        info.linkname = target
        info.mode = 0o777
        tf.addfile(info)
    tf.close()
    return buf.getvalue()


def main():
    out, name, base_tar, sentinel = sys.argv[1:5]
    files = {}
    layers = [open(base_tar, "rb").read(), symlink_layer(sentinel)]
    descs = [{"mediaType": TAR, "digest": blob(files, l), "size": len(l)} for l in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]},
        "history": [{"created_by": "base"}, {"created_by": "symlinks"}],
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(files, config), "size": len(config)},
        "layers": descs,
    }).encode()
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": blob(files, manifest), "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": name}}],
    }).encode()
    files["index.json"] = index
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    with tarfile.open(out, "w") as tf:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
