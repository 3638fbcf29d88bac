"""Text out of a stored file, cut into citable chunks. CPU-bound: runs in a worker process.

Every kind goes through LangChain: PDF pages through `PyPDFLoader` (pypdf), Word files through
`Docx2txtLoader`, Markdown sections through `MarkdownHeaderTextSplitter` and HTML sections through
`HTMLHeaderTextSplitter` (BeautifulSoup) once scripts, styles and embedded objects are removed
(`BSHTMLLoader` keeps script text and loses the headings). A document becomes sections (a PDF
page, or the text under one heading path), joined by a blank line into the document's extracted
text; `RecursiveCharacterTextSplitter` cuts each section, and every chunk keeps its page or
heading path and its character span in that extracted text.

Nothing here touches the database: the result is plain data, returned to the caller's process.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pypdf
from bs4 import BeautifulSoup
from langchain_community.document_loaders import Docx2txtLoader, PyPDFLoader
from langchain_text_splitters import (
    HTMLHeaderTextSplitter,
    MarkdownHeaderTextSplitter,
    RecursiveCharacterTextSplitter,
)
from pypdf.errors import FileNotDecryptedError, PdfReadError

from core.errors import AppError
from domain.documents.sniff import ZipLimits, check_docx, decode_text

# About the local embedding model's window (256 word pieces); a little overlap keeps a sentence
# cut at a boundary findable from either side.
CHUNK_CHARS = 1000
CHUNK_OVERLAP = 120
SECTION_SEPARATOR = "\n\n"
_HEADING_TAGS = [("h1", "h1"), ("h2", "h2"), ("h3", "h3")]
_MARKDOWN_HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
# Never text: code, styling and embedded content.
_NON_TEXT_TAGS = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg"]
# Inline markup is unwrapped first: the splitter reads each element's own strings, so a bold word
# would otherwise leave its sentence.
_INLINE_TAGS = [
    "a",
    "abbr",
    "b",
    "cite",
    "code",
    "em",
    "i",
    "kbd",
    "mark",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "u",
    "var",
]


class ExtractionError(Exception):
    """The file cannot be turned into text; `reason` is shown to the student."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ExtractionLimits:
    max_pages: int
    max_chars: int
    zip: ZipLimits


@dataclass(frozen=True)
class Section:
    text: str
    page: int | None = None
    headings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChunkDraft:
    position: int
    text: str
    page: int | None
    headings: tuple[str, ...]
    char_start: int
    char_end: int


@dataclass(frozen=True)
class Extracted:
    page_count: int | None
    title: str | None
    chunks: list[ChunkDraft] = field(default_factory=list)


def extract(path: str, kind: str, limits: ExtractionLimits) -> Extracted:
    """The chunks of the file at `path`; raises ExtractionError with a reason for the student."""
    page_count: int | None = None
    title: str | None = None
    if kind == "pdf":
        sections, page_count = _pdf_sections(path, limits)
    elif kind == "docx":
        sections = _docx_sections(path, limits)
    elif kind == "html":
        sections, title = _html_sections(_read_text(path))
    elif kind == "markdown":
        sections = _markdown_sections(_read_text(path))
    elif kind == "text":
        sections = [Section(_read_text(path))]
    else:
        raise ExtractionError(f"Documents of kind {kind!r} are not read.")
    chunks = chunk_sections(sections)
    if not chunks:
        raise ExtractionError(
            "No text was found in this document (scanned pages and images are not read)."
        )
    if chunks[-1].char_end > limits.max_chars:
        raise ExtractionError(
            f"This document holds more than {limits.max_chars} characters of text; split it."
        )
    return Extracted(page_count=page_count, title=title, chunks=chunks)


def chunk_sections(sections: list[Section]) -> list[ChunkDraft]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )
    chunks: list[ChunkDraft] = []
    offset = 0
    for section in sections:
        text = _clean(section.text)
        if not text.strip():
            continue
        for piece in splitter.create_documents([text]):
            start = offset + int(piece.metadata["start_index"])
            chunks.append(
                ChunkDraft(
                    position=len(chunks),
                    text=piece.page_content,
                    page=section.page,
                    headings=section.headings,
                    char_start=start,
                    char_end=start + len(piece.page_content),
                )
            )
        offset += len(text) + len(SECTION_SEPARATOR)
    return chunks


def _pdf_sections(path: str, limits: ExtractionLimits) -> tuple[list[Section], int]:
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("This PDF is password-protected; upload it without a password.")
        page_count = len(reader.pages)
    except FileNotDecryptedError as exc:
        raise ExtractionError(
            "This PDF is password-protected; upload it without a password."
        ) from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionError(f"This PDF is damaged and cannot be read ({exc}).") from exc
    if page_count > limits.max_pages:
        raise ExtractionError(
            f"This PDF has {page_count} pages; at most {limits.max_pages} are read."
        )
    try:
        pages = PyPDFLoader(path, mode="page").load()
    except FileNotDecryptedError as exc:
        raise ExtractionError(
            "This PDF is password-protected; upload it without a password."
        ) from exc
    except Exception as exc:
        # pypdf raises many types on malformed streams; each means the same to the student.
        raise ExtractionError(f"This PDF is damaged and cannot be read ({exc}).") from exc
    sections = [
        Section(page.page_content, page=int(page.metadata.get("page", index)) + 1)
        for index, page in enumerate(pages)
    ]
    return sections, page_count


def _docx_sections(path: str, limits: ExtractionLimits) -> list[Section]:
    try:
        # Checked again here: the stored file is what is unpacked, whatever let it in.
        check_docx(Path(path).read_bytes(), limits.zip)
    except AppError as exc:
        raise ExtractionError(exc.message) from exc
    try:
        documents = Docx2txtLoader(path).load()
    except Exception as exc:
        # docx2txt raises zip, XML and key errors alike on a damaged file.
        raise ExtractionError("This Word file is damaged and cannot be read.") from exc
    return [Section(document.page_content) for document in documents]


def _html_sections(html: str) -> tuple[list[Section], str | None]:
    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup.find_all(_NON_TEXT_TAGS):
        tag.decompose()
    for tag in soup.find_all(_INLINE_TAGS):
        tag.unwrap()
    soup.smooth()
    splitter = HTMLHeaderTextSplitter(_HEADING_TAGS)
    sections = [
        Section(piece.page_content, headings=_heading_path(piece.metadata))
        for piece in splitter.split_text(str(soup))
    ]
    return _merge_heading_lines(sections), title or None


def _merge_heading_lines(sections: list[Section]) -> list[Section]:
    """The HTML splitter yields each heading as a section of its own; the heading's text joins
    the section under it, so a chunk carries its heading's words."""
    merged: list[Section] = []
    pending: Section | None = None
    for section in sections:
        if pending is not None and section.headings == pending.headings:
            section = Section(f"{pending.text}\n{section.text}", headings=section.headings)
            pending = None
        elif pending is not None:
            merged.append(pending)
            pending = None
        if section.headings and section.text.strip() == section.headings[-1]:
            pending = section
            continue
        merged.append(section)
    if pending is not None:
        merged.append(pending)
    return merged


def _markdown_sections(markdown: str) -> list[Section]:
    splitter = MarkdownHeaderTextSplitter(_MARKDOWN_HEADINGS, strip_headers=False)
    return [
        Section(piece.page_content, headings=_heading_path(piece.metadata))
        for piece in splitter.split_text(markdown)
    ]


def _heading_path(metadata: dict[str, object]) -> tuple[str, ...]:
    return tuple(str(metadata[level])[:300] for level in ("h1", "h2", "h3") if level in metadata)


def _read_text(path: str) -> str:
    try:
        return decode_text(Path(path).read_bytes())
    except UnicodeError as exc:
        raise ExtractionError("This file is not UTF-8 text.") from exc


def _clean(text: str) -> str:
    # Postgres text cannot hold NUL; PDFs sometimes carry them in their text streams.
    return text.replace("\x00", "")
