import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.courses.models import Course, CourseModule, Enrollment
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.courses import create_course, enroll
from tests.fixtures.factories.users import auth_headers, create_user


async def test_create_course_with_modules_in_requested_order(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.post(
        "/courses",
        headers=auth_headers(codec, user),
        json={
            "title": "Linear algebra",
            "description": "Vectors, matrices and eigenvalues",
            "modules": [
                {"title": "Matrices", "position": 1, "estimated_minutes": 40},
                {"title": "Vectors", "position": 0},
                {"title": "Eigenvalues"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["visibility"] == "private"
    assert body["is_owner"] is True
    assert [m["title"] for m in body["modules"]] == ["Vectors", "Matrices", "Eigenvalues"]
    assert [m["position"] for m in body["modules"]] == [0, 1, 2]
    assert body["modules_total"] == 3
    assert body["modules_completed"] == 0


async def test_private_courses_of_others_are_404_public_ones_readable(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    alice, bob = await create_user(db_session), await create_user(db_session)
    private = await create_course(db_session, alice.id)
    public = await create_course(db_session, alice.id, visibility="public", modules=2)
    headers = auth_headers(codec, bob)
    assert_error(await client.get(f"/courses/{private.id}", headers=headers), 404, "not_found")
    response = await client.get(f"/courses/{public.id}", headers=headers)
    assert response.status_code == 200
    assert response.json()["is_owner"] is False
    assert len(response.json()["modules"]) == 2
    # Readable is not editable: editing someone's public course looks like it doesn't exist.
    patch = await client.patch(f"/courses/{public.id}", headers=headers, json={"title": "Mine"})
    assert_error(patch, 404, "not_found")
    add = await client.post(f"/courses/{public.id}/modules", headers=headers, json={"title": "x"})
    assert_error(add, 404, "not_found")
    stored = await db_session.get(Course, public.id, populate_existing=True)
    assert stored is not None
    assert stored.title != "Mine"


async def test_enroll_is_idempotent(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    alice, bob = await create_user(db_session), await create_user(db_session)
    course = await create_course(db_session, alice.id, visibility="public")
    headers = auth_headers(codec, bob)
    first = await client.post(f"/courses/{course.id}/enroll", headers=headers)
    second = await client.post(f"/courses/{course.id}/enroll", headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    count = await db_session.scalar(
        select(func.count()).select_from(Enrollment).where(Enrollment.user_id == bob.id)
    )
    assert count == 1


async def test_enrolling_in_someone_elses_private_course_is_404(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    alice, bob = await create_user(db_session), await create_user(db_session)
    course = await create_course(db_session, alice.id)
    response = await client.post(f"/courses/{course.id}/enroll", headers=auth_headers(codec, bob))
    assert_error(response, 404, "not_found")


async def test_list_filters_created_enrolled_and_catalog(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    alice, bob = await create_user(db_session), await create_user(db_session)
    mine = await create_course(db_session, bob.id, title="Bob's own")
    joined = await create_course(db_session, alice.id, title="Joined", visibility="public")
    catalog = await create_course(db_session, alice.id, title="Catalog", visibility="public")
    hidden = await create_course(db_session, alice.id, title="Hidden")
    await enroll(db_session, bob.id, joined.id)
    headers = auth_headers(codec, bob)

    async def titles(**query: str) -> set[str]:
        response = await client.get("/courses", headers=headers, params=query)
        assert response.status_code == 200, response.text
        return {item["title"] for item in response.json()["items"]}

    assert await titles() == {mine.title, joined.title, catalog.title}
    assert await titles(created="true") == {mine.title}
    assert await titles(enrolled="true") == {joined.title}
    assert hidden.title not in await titles()


async def test_full_text_search_ranks_title_matches_first(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    await create_course(
        db_session, user.id, title="Cooking basics", description="Knife skills and sauces"
    )
    in_title = await create_course(
        db_session, user.id, title="Photosynthesis in plants", description="Biology unit"
    )
    in_description = await create_course(
        db_session, user.id, title="Biology 101", description="Cells, photosynthesis, genetics"
    )
    response = await client.get(
        "/courses", headers=auth_headers(codec, user), params={"q": "photosynthesis"}
    )
    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["items"]]
    assert ids == [str(in_title.id), str(in_description.id)]


async def test_search_results_paginate_without_overlap(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    for n in range(7):
        await create_course(db_session, user.id, title=f"Algebra part {n}", description="algebra")
    headers = auth_headers(codec, user)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "algebra", "limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/courses", headers=headers, params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7


async def test_modules_add_move_and_reorder(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    course = await create_course(db_session, user.id, modules=3)
    headers = auth_headers(codec, user)
    added = await client.post(
        f"/courses/{course.id}/modules", headers=headers, json={"title": "Intro", "position": 0}
    )
    assert added.status_code == 201
    detail = (await client.get(f"/courses/{course.id}", headers=headers)).json()
    assert [m["title"] for m in detail["modules"]] == ["Intro", "Module 0", "Module 1", "Module 2"]

    intro = added.json()["id"]
    moved = await client.patch(
        f"/courses/{course.id}/modules/{intro}", headers=headers, json={"position": 3}
    )
    assert moved.json()["position"] == 3
    detail = (await client.get(f"/courses/{course.id}", headers=headers)).json()
    assert [m["title"] for m in detail["modules"]] == ["Module 0", "Module 1", "Module 2", "Intro"]
    assert [m["position"] for m in detail["modules"]] == [0, 1, 2, 3]

    reversed_ids = [m["id"] for m in reversed(detail["modules"])]
    reordered = await client.put(
        f"/courses/{course.id}/modules/order", headers=headers, json={"module_ids": reversed_ids}
    )
    assert reordered.status_code == 200, reordered.text
    assert [m["id"] for m in reordered.json()["modules"]] == reversed_ids


async def test_reorder_must_name_every_module_once(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    course = await create_course(db_session, user.id, modules=3)
    modules = (
        await db_session.scalars(select(CourseModule).where(CourseModule.course_id == course.id))
    ).all()
    headers = auth_headers(codec, user)
    ids = [str(m.id) for m in modules]
    for bad in (ids[:2], [*ids[:2], ids[0]], [*ids[:2], str(uuid.uuid4())]):
        response = await client.put(
            f"/courses/{course.id}/modules/order", headers=headers, json={"module_ids": bad}
        )
        assert_error(response, 422, "invalid_module_order")
    positions = sorted(
        (
            await db_session.scalars(
                select(CourseModule.position).where(CourseModule.course_id == course.id)
            )
        ).all()
    )
    assert positions == [0, 1, 2]


async def test_module_completion_is_per_user_and_needs_enrollment(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner, learner, other = [await create_user(db_session) for _ in range(3)]
    course = await create_course(db_session, owner.id, visibility="public", modules=2)
    module = (
        await db_session.scalars(
            select(CourseModule).where(
                CourseModule.course_id == course.id, CourseModule.position == 0
            )
        )
    ).one()
    url = f"/courses/{course.id}/modules/{module.id}/complete"

    assert_error(await client.post(url, headers=auth_headers(codec, learner)), 409, "not_enrolled")
    await enroll(db_session, learner.id, course.id)
    first = await client.post(url, headers=auth_headers(codec, learner))
    again = await client.post(url, headers=auth_headers(codec, learner))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()

    learner_view = (
        await client.get(f"/courses/{course.id}", headers=auth_headers(codec, learner))
    ).json()
    other_view = (
        await client.get(f"/courses/{course.id}", headers=auth_headers(codec, other))
    ).json()
    assert learner_view["modules_completed"] == 1
    assert learner_view["modules"][0]["completed"] is True
    assert other_view["modules_completed"] == 0


async def test_bad_course_input_is_422_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    bad_bodies = [
        {"title": ""},
        {"title": "x", "visibility": "secret"},
        {"title": "x", "modules": [{"title": "m", "estimated_minutes": 0}]},
        {"title": "x", "modules": [{"title": "m", "position": -1}]},
        {"title": "x", "unexpected": True},
    ]
    for body in bad_bodies:
        assert_error(
            await client.post("/courses", headers=headers, json=body), 422, "validation_error"
        )
    for params in ({"limit": "101"}, {"limit": "0"}, {"cursor": "garbage"}):
        response = await client.get("/courses", headers=headers, params=params)
        assert response.status_code == 422
    count = await db_session.scalar(select(func.count()).select_from(Course))
    assert count == 0
