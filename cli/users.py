"""`studypilot users promote|demote EMAIL`: an operator gives roles, never the API."""

import asyncio
from typing import Annotated

import typer

from cli.database import application_database
from core.config import get_settings
from core.db import create_engine, create_sessionmaker, unit_of_work
from core.errors import NotFoundError
from domain.users.service import UserService

app = typer.Typer(help="User accounts.", no_args_is_help=True)


async def set_role(database_url: str, email: str, role: str) -> None:
    settings = get_settings().model_copy(update={"database_url": database_url})
    engine = create_engine(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            await UserService(session).set_role(email, role)
    finally:
        await engine.dispose()


def _apply(email: str, role: str) -> None:
    with application_database(get_settings()) as url:
        try:
            asyncio.run(set_role(url, email, role))
        except NotFoundError as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"{email} is now {'an' if role == 'admin' else 'a'} {role}.")


@app.command()
def promote(email: Annotated[str, typer.Argument()]) -> None:
    """Make the account an admin (reads eval results in the admin API)."""
    _apply(email, "admin")


@app.command()
def demote(email: Annotated[str, typer.Argument()]) -> None:
    """Make the account a student again."""
    _apply(email, "student")
