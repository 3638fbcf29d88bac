import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.users import auth_headers, create_user


async def test_unknown_route_is_404_in_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/no/such/thing"), 404, "not_found")


async def test_wrong_method_is_405_in_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.delete("/health"), 405, "method_not_allowed")


async def test_an_unhandled_error_is_500_without_a_traceback(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def explode() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_api_route("/api/v1/explode", explode)
    response = await client.get("/explode")
    body = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert body.get("details") is None
    assert response.headers["X-Request-ID"]


async def test_openapi_documents_the_error_shape_on_every_operation(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("http://test/openapi.json")).json()
    assert "ErrorBody" in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            for code, response in responses.items():
                if code.startswith(("4", "5")) and path != "/api/v1/health":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (
                        method,
                        path,
                        code,
                    )
            if operation.get("requestBody") or operation.get("parameters"):
                assert "422" in responses, (method, path)


async def test_a_body_that_is_not_text_is_422_invalid_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login", content=b"\xff\xfe\x00garbage", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 422, "invalid_json")


async def test_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.request("PUT", "/users/00000000-0000-0000-0000-000000000000")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "PATCH"}


async def test_nul_characters_are_422_in_bodies_and_queries(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    body = await client.post("/courses", headers=headers, json={"title": "a\u0000b"})
    assert_error(body, 422, "validation_error")
    nested = await client.post("/notes", headers=headers, json={"title": "n", "tags": ["x\u0000"]})
    assert_error(nested, 422, "validation_error")
    query = await client.get("/notes", headers=headers, params={"q": "a\x00b"})
    assert_error(query, 422, "validation_error")
    assert query.json()["details"][0]["loc"] == ["query", "q"]
