"""Imports every feature's models so `Base.metadata` is complete (Alembic, mapper configuration)."""


def load_all_models() -> None:
    import domain.auth.models
    import domain.users.models  # noqa: F401
