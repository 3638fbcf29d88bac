"""`<job>-<user_id>-<time>`: started by the user's Temporal Schedule; one activity."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.agent_jobs.activities import AgentJobActivities
    from workflows.agent_jobs.inputs import AgentJob, AgentJobResult, AgentJobRun

# Long enough for a model call (the writer's client does not retry: Temporal does).
JOB_TIMEOUT = timedelta(minutes=3)
JOB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=5,
)


@workflow.defn(name="AgentJob")
class AgentJobWorkflow:
    @workflow.run
    async def run(self, job: AgentJob) -> AgentJobResult:
        return await workflow.execute_activity_method(
            AgentJobActivities.run,
            AgentJobRun(user_id=job.user_id, kind=job.kind, run_key=workflow.info().workflow_id),
            start_to_close_timeout=JOB_TIMEOUT,
            retry_policy=JOB_RETRY,
        )
