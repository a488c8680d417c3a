"""Uploads to object storage that appear whole or not at all.

An :class:`Upload` receives numbered parts of one object and makes the object
visible only in :meth:`~Upload.complete`; :meth:`~Upload.abort` leaves nothing
behind. Two kinds:

* :class:`S3Upload` (s3fs): an S3 multipart upload driven part by part, so several
  parts go up at once and in any order; ``complete`` sends ``If-None-Match: *``
  unless the target may be replaced, so an object that appeared meanwhile is not
  overwritten; ``abort`` aborts the multipart upload (no unfinished upload is left).
* :class:`FileUpload` (any other fsspec filesystem): the parts written in order to a
  file opened with ``autocommit=False`` (gcsfs: a resumable upload; adlfs: staged
  blocks), committed at the end or discarded. A filesystem that ignores
  ``autocommit`` (``memory://``) has the object removed again on abort.

Never ``with fs.open(url, "wb")``: on an exception fsspec's ``close`` commits the
partial object.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from ..storage import is_s3, split_bucket


class Upload(Protocol):
    def put(self, number: int, data: bytes) -> None: ...
    def complete(self) -> None: ...
    def abort(self) -> None: ...

    concurrent: bool  # put() may be called from several threads, parts in any order


def open_upload(fs: Any, path: str, force: bool) -> Upload:
    """An upload of the object at ``path``; ``force``: it may replace an existing one."""
    if is_s3(fs):
        return S3Upload(fs, path, force)
    return FileUpload(fs, path, force)


class S3Upload:
    """One S3 multipart upload; parts are numbered from 1, each but the last ≥ 5 MiB."""

    concurrent = True

    def __init__(self, fs: Any, path: str, force: bool) -> None:
        self.fs, self.force = fs, force
        self.bucket, self.key = split_bucket(path)
        self.etags: dict[int, str] = {}
        self.lock = threading.Lock()
        self.done = False
        r = fs.call_s3("create_multipart_upload", Bucket=self.bucket, Key=self.key)
        self.upload_id = r["UploadId"]

    def put(self, number: int, data: bytes) -> None:
        r = self.fs.call_s3(
            "upload_part",
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
        )
        with self.lock:
            self.etags[number] = r["ETag"]

    def complete(self) -> None:
        parts = [{"PartNumber": n, "ETag": e} for n, e in sorted(self.etags.items())]  # S3 wants them sorted
        extra = {} if self.force else {"IfNoneMatch": "*"}
        self.fs.call_s3(
            "complete_multipart_upload",
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": parts},
            **extra,
        )
        self.done = True

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        abort_multipart(self.fs, self.bucket, self.key, self.upload_id)


def abort_multipart(fs: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort an upload; parts still in flight may outlive one abort, so it is repeated."""
    for _ in range(2):
        try:
            fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception:  # already gone: nothing is left, which is the point
            return


def abort_pending(fs: Any, paths: list[str]) -> int:
    """Abort unfinished multipart uploads to ``paths`` (left by a killed process); S3 only."""
    if not is_s3(fs):
        return 0
    n = 0
    for bucket in sorted({split_bucket(p)[0] for p in paths}):
        keys = {split_bucket(p)[1] for p in paths if split_bucket(p)[0] == bucket}
        try:
            ups = fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])
        except Exception:
            continue
        for u in ups:
            if u["Key"] in keys:
                abort_multipart(fs, bucket, u["Key"], u["UploadId"])
                n += 1
    return n


class FileUpload:
    """Parts written in order to an fsspec file opened with ``autocommit=False``."""

    concurrent = False

    def __init__(self, fs: Any, path: str, force: bool) -> None:
        self.fs, self.path = fs, path
        self.existed = fs.exists(path)
        self.f = fs.open(path, "wb" if force else "xb", autocommit=False)
        self.next = 1
        self.done = False

    def put(self, number: int, data: bytes) -> None:
        assert number == self.next, (number, self.next)
        self.f.write(data)
        self.next += 1

    def complete(self) -> None:
        self.f.close()
        self.f.commit()
        self.done = True

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        from fsspec.spec import AbstractBufferedFile

        try:
            inner = getattr(self.f, "f", None)  # the local implementation: close its temp file first
            if inner is not None and not inner.closed:
                inner.close()
            self.f.discard()
        except Exception:
            pass
        finally:
            if isinstance(self.f, AbstractBufferedFile):
                self.f.closed = True  # a later close() or __del__ must never commit it
        if not self.existed:  # stores that ignore autocommit made it visible at once
            try:
                if self.fs.exists(self.path):
                    self.fs.rm_file(self.path)
            except Exception:
                pass
