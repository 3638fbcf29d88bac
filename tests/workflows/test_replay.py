"""Recorded histories replay against today's workflow code: a change that would break running
workflows (non-determinism) fails here. Histories: `record_histories.py`."""

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.agent_jobs.workflow import AgentJobWorkflow
from workflows.embeddings.workflow import EmbedRowWorkflow
from workflows.plans.workflow import PlanWorkflow
from workflows.reminders.inputs import ReminderTimer
from workflows.reminders.workflow import ReminderWorkflow

HISTORIES = Path(__file__).parent / "histories"


@pytest.mark.parametrize(
    "name",
    [
        "reminder_moved_and_delivered",
        "reminder_cancelled",
        # From before the re-plan's redraft activity (patch `replan-through-agent`).
        "plan_missed_progress_cancelled",
        "plan_missed_redrafted_progress_cancelled",
        "agent_job_morning_agenda",
        "embed_row_changed",
    ],
)
async def test_recorded_history_replays(name: str) -> None:
    raw = (HISTORIES / f"{name}.json").read_text()
    events = json.loads(raw)["events"]
    assert len(events) > 5
    replayer = Replayer(
        workflows=[ReminderWorkflow, PlanWorkflow, AgentJobWorkflow, EmbedRowWorkflow],
        data_converter=pydantic_data_converter,
    )
    result = await replayer.replay_workflow(
        WorkflowHistory.from_json(f"replay-{name}", raw), raise_on_replay_failure=False
    )
    assert result.replay_failure is None


@workflow.defn(name="ReminderDelivery", sandboxed=False)
class ImpatientReminder:
    """A changed workflow: it skips the timer."""

    @workflow.run
    async def run(self, timer: ReminderTimer) -> None:
        return None


async def test_a_changed_workflow_fails_replay() -> None:
    """The check has teeth: a workflow that no longer waits does not replay the history."""
    raw = (HISTORIES / "reminder_moved_and_delivered.json").read_text()
    result = await Replayer(
        workflows=[ImpatientReminder], data_converter=pydantic_data_converter
    ).replay_workflow(
        WorkflowHistory.from_json("replay-changed", raw), raise_on_replay_failure=False
    )
    assert result.replay_failure is not None
