"""Reminder delivery on a real Temporal dev server, with short real timers."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus

from core.config import Settings
from core.events import EventBus
from core.security import TokenCodec
from domain.notifications.models import Notification
from domain.reminders.models import Reminder
from tests.fixtures.factories.schedule import create_reminder
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import scripted, tool_call
from tests.fixtures.temporal import running_worker
from tests.workflows.waiting import eventually
from workflows.reminders.inputs import workflow_id
from workflows.reminders.workflow import ReminderWorkflow

# Timer slack on a loaded 2-core machine: the worker, the dev server and the tests share it.
LATE = timedelta(seconds=3)


async def _notifications(session: AsyncSession, reminder_id: object) -> list[Notification]:
    session.expire_all()
    rows = await session.scalars(
        select(Notification).where(Notification.reminder_id == reminder_id)
    )
    return list(rows)


async def _reminder(session: AsyncSession, reminder_id: object) -> Reminder:
    session.expire_all()
    reminder = await session.get(Reminder, reminder_id, populate_existing=True)
    assert reminder is not None
    return reminder


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_a_reminder_fires_on_time_once_as_a_notification(
    workflow_app: FastAPI,
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    headers = auth_headers(codec, user)
    # The worker publishes on the bus every process shares (here Postgres): the API's.
    bus: EventBus = workflow_app.state.event_bus
    stream = bus.subscribe(user.id, after=await bus.last_event_id(user.id))
    async with running_worker(temporal_settings, temporal_client):
        created = await workflow_client.post(
            "/reminders", headers=headers, json={"remind_at": _at(2), "message": "Flashcards"}
        )
        assert created.status_code == 201, created.text
        reminder_id = created.json()["id"]
        remind_at = datetime.fromisoformat(created.json()["remind_at"])

        [notification] = await eventually(lambda: _notifications(live_db, reminder_id))
        assert remind_at <= notification.created_at <= remind_at + LATE
        reminder = await _reminder(live_db, reminder_id)
        assert (reminder.status, reminder.sent_at is not None) == ("sent", True)

        listed = await workflow_client.get("/notifications", headers=headers)
        [item] = listed.json()["items"]
        assert (item["kind"], item["body"], item["reminder_id"]) == (
            "reminder",
            "Flashcards",
            reminder_id,
        )
        assert item["data"] == {"reminder_id": reminder_id}
        delivered = await asyncio.wait_for(anext(stream), 10)
        assert (delivered.event.topic, delivered.event.type) == ("notifications", "notification")
        assert delivered.event.data == item
        handle = temporal_client.get_workflow_handle_for(
            ReminderWorkflow.run, workflow_id(reminder.id)
        )
        assert (await handle.result()).outcome == "delivered"
        sent = await workflow_client.get("/reminders", headers=headers, params={"status": "sent"})
        assert [r["id"] for r in sent.json()["items"]] == [reminder_id]


async def test_a_moved_reminder_fires_at_its_new_time(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    headers = auth_headers(codec, user)
    async with running_worker(temporal_settings, temporal_client):
        later = await workflow_client.post(
            "/reminders", headers=headers, json={"remind_at": _at(2), "message": "later"}
        )
        earlier = await workflow_client.post(
            "/reminders", headers=headers, json={"remind_at": _at(600), "message": "earlier"}
        )
        later_id, earlier_id = later.json()["id"], earlier.json()["id"]
        moved_later = await workflow_client.patch(
            f"/reminders/{later_id}", headers=headers, json={"remind_at": _at(6)}
        )
        assert moved_later.status_code == 200, moved_later.text
        moved_earlier = await workflow_client.patch(
            f"/reminders/{earlier_id}",
            headers=headers,
            json={"remind_at": _at(2), "message": "now earlier"},
        )
        assert moved_earlier.json()["message"] == "now earlier"
        new_time = datetime.fromisoformat(moved_later.json()["remind_at"])

        [early] = await eventually(lambda: _notifications(live_db, earlier_id))
        assert early.body == "now earlier"
        # The first one's old time has passed and it did not fire.
        await asyncio.sleep(max(0.0, (new_time - datetime.now(UTC)).total_seconds() - 1.5))
        assert await _notifications(live_db, later_id) == []
        [late] = await eventually(lambda: _notifications(live_db, later_id))
        assert new_time <= late.created_at <= new_time + LATE


async def test_a_cancelled_reminder_never_fires_and_is_kept(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    headers = auth_headers(codec, user)
    async with running_worker(temporal_settings, temporal_client):
        created = await workflow_client.post(
            "/reminders", headers=headers, json={"remind_at": _at(2), "message": "never"}
        )
        reminder_id = created.json()["id"]
        assert (
            await workflow_client.delete(f"/reminders/{reminder_id}", headers=headers)
        ).status_code == 204
        handle = temporal_client.get_workflow_handle(f"reminder-{reminder_id}")
        await eventually(lambda: _status_is(handle, WorkflowExecutionStatus.CANCELED), within=10)
        await asyncio.sleep(3)
        assert await _notifications(live_db, reminder_id) == []
        assert (await _reminder(live_db, reminder_id)).status == "cancelled"
        cancelled = await workflow_client.get(
            "/reminders", headers=headers, params={"status": "cancelled"}
        )
        assert [r["id"] for r in cancelled.json()["items"]] == [reminder_id]
        again = await workflow_client.delete(f"/reminders/{reminder_id}", headers=headers)
        assert again.status_code == 204
        moved = await workflow_client.patch(
            f"/reminders/{reminder_id}", headers=headers, json={"message": "x"}
        )
        assert (moved.status_code, moved.json()["code"]) == (409, "reminder_not_pending")


async def _status_is(handle: object, status: WorkflowExecutionStatus) -> bool:
    description = await handle.describe()  # type: ignore[attr-defined]
    return bool(description.status == status)


async def test_a_past_due_reminder_fires_at_once(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    async with running_worker(temporal_settings, temporal_client):
        created = await workflow_client.post(
            "/reminders",
            headers=auth_headers(codec, user),
            json={"remind_at": _at(-3600), "message": "overdue"},
        )
        reminder_id = created.json()["id"]
        [notification] = await eventually(lambda: _notifications(live_db, reminder_id), within=5)
        assert notification.created_at - datetime.now(UTC) < timedelta(seconds=5)


async def test_the_reconciler_starts_pending_reminders_that_have_no_workflow(
    live_db: AsyncSession, temporal_settings: Settings, temporal_client: Client
) -> None:
    user = await create_user(live_db)
    # Written without the API: as if the start after the commit had been lost.
    due = await create_reminder(live_db, user, datetime.now(UTC) - timedelta(minutes=1))
    ahead = await create_reminder(live_db, user, datetime.now(UTC) + timedelta(hours=1))
    user_id, due_id, ahead_id = user.id, due.id, ahead.id
    async with running_worker(temporal_settings, temporal_client):
        [notification] = await eventually(lambda: _notifications(live_db, due_id))
        assert notification.user_id == user_id
        handle = temporal_client.get_workflow_handle(workflow_id(ahead_id))
        assert await eventually(lambda: _status_is(handle, WorkflowExecutionStatus.RUNNING))
    assert await _notifications(live_db, ahead_id) == []


async def test_delivery_twice_writes_one_notification(live_db: AsyncSession) -> None:
    """What a retried activity does (a worker killed after the commit, before it reported)."""
    from domain.reminders.service import ReminderService

    user = await create_user(live_db)
    reminder = await create_reminder(live_db, user, datetime.now(UTC) - timedelta(seconds=1))
    reminder_id = reminder.id
    first = await ReminderService(live_db).deliver(reminder_id)
    await live_db.commit()
    second = await ReminderService(live_db).deliver(reminder_id)
    await live_db.commit()
    assert (first.outcome, second.outcome) == ("delivered", "already_done")
    count = await live_db.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.reminder_id == reminder_id)
    )
    assert count == 1


async def test_a_reminder_set_through_chat_gets_its_workflow_once_the_turn_commits(
    workflow_app: FastAPI,
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    at = _at(2)
    workflow_app.state.chat_models.with_model(
        "chat",
        scripted(
            tool_call(
                "create_reminder",
                user_request="please remind me",
                message="Drink water",
                remind_at=at,
            ),
            "Done.",
        ),
    )
    async with running_worker(temporal_settings, temporal_client):
        reply = await workflow_client.post(
            "/ai/chat", headers=auth_headers(codec, user), json={"message": "Please remind me"}
        )
        assert reply.status_code == 200, reply.text
        assert len(reply.json()["changes"]) == 1, reply.text
        [change] = reply.json()["changes"]
        [notification] = await eventually(lambda: _notifications(live_db, change["id"]))
    assert notification.body == "Drink water"
