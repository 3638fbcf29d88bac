"""What a file is, from its bytes: the client's file name and Content-Type are only hints.

PDF and Word files carry signatures; HTML, Markdown and plain text are all UTF-8 text, told
apart by a markup sniff (HTML) and then by the file name (Markdown vs text, which are read the
same way and differ only in how headings are found). Anything else is refused.
"""

import io
import zipfile
from dataclasses import dataclass

from core.errors import AppError

# The types a document can be, by kind.
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
    "markdown": "text/markdown",
    "text": "text/plain",
}
_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")
_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"


class UnsupportedDocumentTypeError(AppError):
    status_code = 415
    code = "unsupported_media_type"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"{detail} Upload a PDF, a Word (.docx) file, an HTML page, Markdown or plain text.",
            {"accepted": sorted(CONTENT_TYPES.values())},
        )


class ArchiveTooLargeError(AppError):
    """A Word file is a zip: one that would unpack to far more than it weighs is refused before
    anything reads it."""

    status_code = 413
    code = "archive_too_large"


@dataclass(frozen=True)
class ZipLimits:
    max_unzipped_bytes: int
    max_entries: int


def sniff(data: bytes, filename: str, zip_limits: ZipLimits) -> str:
    """The document kind of these bytes; raises 415 for anything unsupported and 413 for a
    Word file past `zip_limits`."""
    head = data[:1024]
    # PDF readers accept the header anywhere in the first kilobyte (some writers put bytes first).
    if _PDF_MAGIC in head:
        return "pdf"
    if head.startswith(_ZIP_MAGIC):
        check_docx(data, zip_limits)
        return "docx"
    text = _as_text(data)
    if text is None:
        raise UnsupportedDocumentTypeError("This file is neither a document nor UTF-8 text.")
    if any(marker in head.lower() for marker in _HTML_MARKERS):
        return "html"
    if filename.lower().endswith(_MARKDOWN_SUFFIXES):
        return "markdown"
    return "text"


def check_docx(data: bytes, limits: ZipLimits) -> None:
    """A zip holding a Word document, within the limits, judged from its central directory
    (sizes there bound what reading can produce: zipfile stops at the declared size)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise UnsupportedDocumentTypeError("This zip archive is damaged.") from exc
    if "word/document.xml" not in names:
        raise UnsupportedDocumentTypeError("This zip archive is not a Word document.")
    if len(entries) > limits.max_entries:
        raise ArchiveTooLargeError(
            f"The Word file holds {len(entries)} entries; at most {limits.max_entries} are read.",
            {"max_entries": limits.max_entries},
        )
    unzipped = sum(entry.file_size for entry in entries)
    if unzipped > limits.max_unzipped_bytes:
        raise ArchiveTooLargeError(
            "The Word file would unpack to more than "
            f"{limits.max_unzipped_bytes} bytes; it is refused.",
            {"max_unzipped_bytes": limits.max_unzipped_bytes},
        )


def decode_text(data: bytes) -> str:
    """UTF-8 (a byte order mark allowed) without NULs, which Postgres text cannot hold."""
    text = _as_text(data)
    if text is None:
        raise UnicodeError("not UTF-8 text")
    return text


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    return text
