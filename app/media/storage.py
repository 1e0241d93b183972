"""Where upload bytes live, behind one small interface: save(key, data), read(key), delete(key).

The default is a local folder (UPLOAD_DIR). Several web machines share it as a common mount (e.g. NFS); an
S3-compatible object store fits the same three methods (see docs/wechat.md).
"""
import os
import tempfile
from pathlib import Path

from flask import current_app


class LocalStorage:
    def __init__(self, root):
        self.root = Path(root)

    def _path(self, key):
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key outside the upload folder: {key!r}")
        return path

    def save(self, key, data):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader on another machine never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, key):
        return self._path(key).read_bytes()

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)


def get_storage():
    return LocalStorage(current_app.config["UPLOAD_DIR"])
