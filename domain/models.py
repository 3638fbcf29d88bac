"""Imports every feature's models so `Base.metadata` is complete (Alembic, mapper configuration)."""


def load_all_models() -> None:
    import core.events_postgres  # noqa: F401 - the event bus's tables
    import domain.agent_runs.models
    import domain.auth.models
    import domain.conversations.models
    import domain.courses.models
    import domain.documents.models
    import domain.evals.models
    import domain.goals.models
    import domain.notes.models
    import domain.notifications.models
    import domain.plans.models
    import domain.realtime.models
    import domain.recommendations.models
    import domain.reminders.models
    import domain.resources.models
    import domain.schedule.models
    import domain.summaries.models
    import domain.users.models
    import domain.voice.models  # noqa: F401
