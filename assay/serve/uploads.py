"""Request bodies onto disk, within the size limit, and nothing else done with their bytes.

An upload is only ever written to a temporary file and read by assay's table reader (CSV/TSV
through pyarrow or pandas' C parser, Parquet through pyarrow): no pickle, no eval, whatever the
bytes or the file name claim to be. A name with another extension is refused before reading.

The size limit is enforced twice: BodyLimit (an ASGI middleware) refuses a declared
Content-Length over the limit before reading anything, and counts the bytes of a body sent
without one (chunked), stopping at the limit with the same 413.
"""

from __future__ import annotations

import json
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.errors import AssayError
from assay.serve.state import MB, Limits

# what an upload may be, by its file name's ending or by its Content-Type
SUFFIXES = {".csv": ".csv", ".txt": ".csv", ".tsv": ".tsv", ".tab": ".tsv", ".parquet": ".parquet", ".pq": ".parquet"}
MEDIA_TYPES = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "text/plain": ".csv",
    "text/tab-separated-values": ".tsv",
    "application/vnd.apache.parquet": ".parquet",
    "application/x-parquet": ".parquet",
}
FILE_TYPES = (
    "a CSV or TSV file (text/csv, text/tab-separated-values), a Parquet file, or multipart/form-data with a 'file' part"
)


class TooLarge(HTTPException):
    def __init__(self, limit: int, what: str = "request body"):
        super().__init__(
            413,
            f"{what} is larger than this server accepts ({limit / MB:g} MB): split the data, send it to "
            "/v1/models/NAME/predict/stream (larger limit), or start the server with a larger --max-body-mb",
        )


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def limit_for(path: str, limits: Limits) -> int:
    return limits.max_body_bytes if path.rstrip("/").endswith("/predict/stream") else limits.max_request_bytes


async def spool(request: Request, folder: Path) -> Path:
    """The uploaded table as a file in `folder`, named for its format; raises 415 for anything else."""
    kind = media_type(request)
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=16)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(422, "a multipart upload needs the table in a part named 'file'")
            suffix = _suffix_of(upload.filename or "upload.csv")
            dest = folder / f"upload{suffix}"
            with dest.open("wb") as out:
                shutil.copyfileobj(upload.file, out, 1 << 20)
            return dest
        finally:
            await form.close()
    suffix = MEDIA_TYPES.get(kind)
    if suffix is None:
        raise HTTPException(415, f"cannot read a body of type {kind or '(none)'!r}: send {FILE_TYPES}")
    dest = folder / f"upload{suffix}"
    with dest.open("wb") as out:
        async for part in request.stream():
            out.write(part)
    return dest


@contextmanager
def paths_hidden(folder: Path):
    """A reader's error names the file it read: here a temporary path on the server, which is
    nobody's business and no help to the client. It becomes "the uploaded file"."""
    try:
        yield
    except AssayError as exc:
        text = str(exc)
        if str(folder) not in text:
            raise
        raise type(exc)(re.sub(re.escape(str(folder)) + r"/[\w.-]+", "the uploaded file", text)) from None


def _suffix_of(filename: str) -> str:
    name = Path(filename).name.lower()
    for ending, suffix in SUFFIXES.items():
        if name.endswith(ending):
            return suffix
    if "." not in name:
        return ".csv"
    raise HTTPException(
        415,
        f"cannot read {Path(filename).name!r}: only .csv, .tsv and .parquet files are accepted (nothing is unpickled)",
    )


class BodyLimit:
    """Pure ASGI middleware: 413 for a body over the limit of its route (see Limits)."""

    def __init__(self, app: ASGIApp, limits: Limits):
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"], self.limits)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, TooLarge(limit).detail)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(limit)
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers + [(b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
