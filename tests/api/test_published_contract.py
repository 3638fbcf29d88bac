"""The committed OpenAPI document and TypeScript client match the code: `make client` was run.

The frontend builds against the committed files, so a route changed without them is caught here
(CI runs the test suite), and an operation id renamed (a breaking change for the client) shows
up in review as a diff of both.
"""

import filecmp
import re
import shutil
import subprocess
from pathlib import Path

from fastapi import FastAPI

from api.openapi import openapi_document

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "openapi.json"
CLIENT = ROOT / "clients" / "typescript"
STALE = "stale: run `make client` and commit openapi/ and clients/typescript/"
OPERATION_ID = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def test_the_committed_openapi_document_is_current(app: FastAPI) -> None:
    assert SPEC.read_text(encoding="utf-8") == openapi_document(app), STALE


def test_operation_ids_are_clean_unique_method_names(app: FastAPI) -> None:
    ids = [
        operation["operationId"]
        for path in app.openapi()["paths"].values()
        for operation in path.values()
    ]
    assert all(OPERATION_ID.match(operation_id) for operation_id in ids), ids
    assert len(ids) == len(set(ids))
    assert {"authRegister", "authLogin", "usersGetUser", "aiChat"} <= set(ids)


def _differences(left: Path, right: Path) -> list[str]:
    comparison = filecmp.dircmp(left, right)
    found = [str(left / name) for name in comparison.left_only + comparison.right_only]
    found += [
        str(left / name)
        for name in comparison.common_files
        if (left / name).read_bytes() != (right / name).read_bytes()
    ]
    for name in comparison.common_dirs:
        found += _differences(left / name, right / name)
    return found


def test_the_committed_typescript_client_is_generated_from_the_current_spec(
    app: FastAPI, tmp_path: Path
) -> None:
    npm = shutil.which("npm")
    assert npm is not None, "Node.js and npm are needed to check the TypeScript client"
    # The same layout as the repository, so the generator's relative input path holds.
    (tmp_path / "openapi").mkdir()
    (tmp_path / "openapi" / "openapi.json").write_text(openapi_document(app), encoding="utf-8")
    work = tmp_path / "clients" / "typescript"
    shutil.copytree(CLIENT, work, ignore=shutil.ignore_patterns("node_modules", "generated"))

    def npm_run(*args: str) -> None:
        result = subprocess.run(  # noqa: S603
            [npm, *args], cwd=work, capture_output=True, text=True, timeout=600, check=False
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    npm_run("ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
    npm_run("run", "--silent", "generate")
    assert _differences(work / "src" / "generated", CLIENT / "src" / "generated") == [], STALE
    # The package, its README's example included, type-checks under --strict.
    npm_run("run", "--silent", "typecheck")
