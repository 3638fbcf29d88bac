"""What the health endpoint says about Temporal: is the frontend up, and when did each worker
last poll the task queue (the server's own record of a worker's heartbeat)."""

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

RPC_TIMEOUT = timedelta(seconds=2)


class WorkerPoll(BaseModel):
    identity: str
    last_poll_at: datetime


async def temporal_is_healthy(client: Client) -> bool:
    return await client.service_client.check_health(timeout=RPC_TIMEOUT)


async def worker_polls(client: Client, task_queue: str) -> list[WorkerPoll]:
    """Workers polling `task_queue` for workflow tasks, most recent first; a worker that stopped
    drops out of this list within minutes (the server's poller expiry)."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=RPC_TIMEOUT,
    )
    polls = [
        WorkerPoll(
            identity=poller.identity,
            last_poll_at=poller.last_access_time.ToDatetime().replace(tzinfo=UTC),
        )
        for poller in response.pollers
    ]
    return sorted(polls, key=lambda poll: poll.last_poll_at, reverse=True)
