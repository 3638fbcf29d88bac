"""Load a prompt by name and version.

A prompt is a Markdown file `prompts/<name>/v<N>.md` opening with a header::

    ---
    version: 2
    description: what the prompt is for
    ---

Old versions stay next to new ones, so an eval can run any of them and every agent run records
the one it used (`Prompt.ref`, e.g. ``chat/system@v2``). Placeholders are `$name`
(`string.Template`), so JSON braces in a prompt need no escaping.

An eval runs a candidate prompt through the same code paths by pinning it: inside
`pinned_prompts(...)`, `load_prompt(name)` without a version answers the pinned prompt, which may
be a version in the tree or a file under review (`load_prompt_file`).
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).parent
_FILE_NAME = re.compile(r"^v(\d+)\.md$")
_HEADER = re.compile(r"\A---\n(?P<fields>.*?)\n---\n", re.DOTALL)


class PromptNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    description: str
    text: str
    # Set for a prompt read from a file outside the tree, e.g. "file:candidate.md".
    origin: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.origin or f'v{self.version}'}"

    def render(self, **values: object) -> str:
        """Fill every `$placeholder`; a missing value raises KeyError rather than leaking `$x`."""
        return Template(self.text).substitute({k: str(v) for k, v in values.items()})


def available_versions(name: str) -> list[int]:
    folder = PROMPTS_DIR / name
    if not folder.is_dir():
        return []
    return sorted(
        int(match.group(1))
        for path in folder.iterdir()
        if (match := _FILE_NAME.match(path.name)) is not None
    )


_pinned: ContextVar[Mapping[str, Prompt] | None] = ContextVar("pinned_prompts", default=None)


@contextmanager
def pinned_prompts(prompts: Iterable[Prompt]) -> Iterator[None]:
    """Within the block (and the tasks it starts), these prompts stand for their names."""
    token = _pinned.set({**(_pinned.get() or {}), **{prompt.name: prompt for prompt in prompts}})
    try:
        yield
    finally:
        _pinned.reset(token)


def load_prompt(name: str, version: int | None = None) -> Prompt:
    """The prompt `name` at `version`; without one, the pinned prompt or the newest version."""
    if version is None and (pinned := (_pinned.get() or {}).get(name)) is not None:
        return pinned
    return _load_prompt(name, version)


def load_prompt_file(name: str, path: Path) -> Prompt:
    """A prompt for `name` read from any file with the usual header (a candidate under review)."""
    content = path.read_text("utf-8")
    header = _HEADER.match(content)
    version = _fields(header["fields"]).get("version", "") if header else ""
    if not version.isdigit():
        raise ValueError(f"{path}: the '---' header must give a numeric version")
    return _parse(name, int(version), content, origin=f"file:{path.name}")


@cache
def _load_prompt(name: str, version: int | None) -> Prompt:
    versions = available_versions(name)
    if not versions:
        raise PromptNotFoundError(f"no prompt named {name!r}")
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise PromptNotFoundError(f"prompt {name!r} has no version {chosen} (has {versions})")
    return _parse(name, chosen, (PROMPTS_DIR / name / f"v{chosen}.md").read_text("utf-8"))


def _fields(header: str) -> dict[str, str]:
    return {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in header.splitlines())
    }


def _parse(name: str, version: int, content: str, origin: str = "") -> Prompt:
    header = _HEADER.match(content)
    if header is None:
        raise ValueError(f"prompt {name}@v{version} lacks its '---' header")
    fields = _fields(header["fields"])
    if fields.get("version") != str(version):
        raise ValueError(f"prompt {name}@v{version}: header says version {fields.get('version')!r}")
    return Prompt(
        name=name,
        version=version,
        description=fields.get("description", ""),
        text=content[header.end() :].strip() + "\n",
        origin=origin,
    )
