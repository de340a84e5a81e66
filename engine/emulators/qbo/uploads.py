"""`POST /upload`: an attachment as QBO takes it, a multipart body with `file_metadata_NN`
(an Attachable as JSON) and `file_content_NN` (the file) parts. The emulator keeps the
metadata only: the file's name, type and size, never its bytes.

Clients written against QBO send these bodies with bare LF line ends (python-quickbooks and
qbosdk both do), so the parts are split by hand rather than by a strict RFC 7578 parser.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from typing import Any

from tpsqbo_engine.emulators.qbo import faults
from tpsqbo_engine.emulators.qbo.company import Company
from tpsqbo_engine.emulators.qbo.faults import Fault, now_text

MAX_PARTS = 20
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_NAME = re.compile(r'\bname="([^"]+)"')
_FILENAME = re.compile(r'\bfilename="([^"]*)"')
Record = dict[str, Any]


def _invalid(detail: str) -> Fault:
    return Fault("2010", "Request has invalid or unsupported property", detail)


def parts(content_type: str, body: str) -> dict[str, tuple[dict[str, str], str]]:
    """name -> (headers, content) of each part of a multipart body."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise _invalid("An upload must be multipart/form-data with a boundary")
    chunks = body.split(f"--{found.group(1)}")
    out: dict[str, tuple[dict[str, str], str]] = {}
    for chunk in chunks[1 : MAX_PARTS + 1]:
        if chunk.startswith("--"):
            break
        head, _, content = chunk.lstrip("\r\n").replace("\r\n", "\n").partition("\n\n")
        headers: dict[str, str] = {}
        for line in head.split("\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        name = _NAME.search(headers.get("content-disposition", ""))
        if name is not None:
            out[name.group(1)] = (headers, content.strip("\n"))
    return out


def _size(headers: dict[str, str], content: str) -> int:
    if headers.get("content-transfer-encoding", "").lower() == "base64":
        try:
            return len(base64.b64decode("".join(content.split()), validate=True))
        except (binascii.Error, ValueError):
            raise _invalid("The file content is not valid base64") from None
    return len(content.encode("utf-8"))


def upload(company: Company, content_type: str, body: str) -> Record:
    found = parts(content_type, body)
    responses = []
    for name, (headers, content) in sorted(found.items()):
        if not name.startswith("file_content_"):
            continue
        meta_part = found.get(name.replace("content", "metadata"))
        try:
            metadata = json.loads(meta_part[1]) if meta_part else {}
        except json.JSONDecodeError:
            raise _invalid(f"The metadata part for {name} is not JSON") from None
        if not isinstance(metadata, dict):
            raise _invalid(f"The metadata part for {name} must be an Attachable object")
        file_name = _FILENAME.search(headers.get("content-disposition", ""))
        metadata.setdefault("FileName", file_name.group(1) if file_name else name)
        metadata.setdefault("ContentType", headers.get("content-type", "application/octet-stream"))
        metadata["Size"] = _size(headers, content)
        responses.append({"Attachable": copy.deepcopy(company.create("Attachable", metadata))})
    if not responses:
        raise faults.required("file_content_01")
    return {"AttachableResponse": responses, "time": now_text()}


def download(company: Company, ident: str) -> Fault:
    """What `GET /download/<id>` answers: the attachment exists, its bytes were never kept."""
    with company.lock:
        company.get("Attachable", ident)  # 610 when there is no such attachment
    return Fault(
        "610",
        "Object Not Found",
        f"The emulator keeps attachment metadata only: Attachable {ident} has no file to download",
        status=404,
    )
