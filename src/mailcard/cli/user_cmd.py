"""``mailcard user add|list``, ``mailcard token create`` and ``mailcard demo load``: who may use the API.

The first user of an installation can only be made here (the API needs a token, which needs a user),
so these commands work straight on the database, without the server. A password is never taken as a
command-line argument (it would stay in the shell history and show in ``ps``): it is typed twice at a
hidden prompt, or read from standard input with ``--password-stdin`` for scripts.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from mailcard.cli.runtime import JsonOption, console, container, emit, err_console, handled, usage_error
from mailcard.errors import InputError
from mailcard.identity import NewUser, Role
from mailcard.textio import is_unicode

if TYPE_CHECKING:
    from mailcard.bootstrap import Container
    from mailcard.identity import User


def register(app: typer.Typer) -> None:
    user = typer.Typer(
        help="Users: the managers and admins who send from customer cards.", no_args_is_help=True
    )
    token = typer.Typer(help="API tokens for integrations and scripts.", no_args_is_help=True)
    demo = typer.Typer(help="Demo data for trying mailcard on a fresh database.", no_args_is_help=True)
    app.add_typer(user, name="user")
    app.add_typer(token, name="token")
    app.add_typer(demo, name="demo")

    @user.command("add")
    def add(
        login: str = typer.Argument(..., help="What the user logs in with, e.g. olga."),
        name: str = typer.Option(..., "--name", help="Full name, shown as the sender's name."),
        email: str = typer.Option(..., "--email", help="The user's own address (confirmed before it sends)."),
        role: Role = typer.Option(Role.MANAGER, "--role", case_sensitive=False, help="admin or manager."),
        store: list[str] = typer.Option(
            [], "--store", help="Code of a store whose customers the user sees (repeat for several)."
        ),
        password_stdin: bool = typer.Option(
            False, "--password-stdin", help="Read the password from standard input (for scripts)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Create a user; the password is asked for twice, hidden (or read with --password-stdin)."""
        password = _read_password(password_stdin, as_json=as_json)
        with handled(as_json=as_json), container() as mailcard:
            store_ids = _store_ids(mailcard, store)
            created = mailcard.users.create(
                NewUser(
                    login=login, name=name, email=email, role=role, password=password, store_ids=store_ids
                )
            )
            emit(
                {"user": created.to_dict()},
                as_json=as_json,
                human=lambda: console.print(
                    f"user {created.login} (id {created.id}, {created.role.value}) created; "
                    f"{created.email} must be confirmed before it can send"
                ),
            )

    @user.command("list")
    def list_users(
        limit: int = typer.Option(200, "--limit", min=1, max=10_000), as_json: bool = JsonOption
    ) -> None:
        """Users by id, with their role and whether their own address may send."""
        with handled(as_json=as_json), container() as mailcard:
            users, total = mailcard.users.list(limit=limit)
            emit(
                {"users": [u.to_dict() for u in users], "total": total},
                as_json=as_json,
                human=lambda: console.print(_users_table(users)),
            )

    @token.command("create")
    def create_token(
        login: str = typer.Option(..., "--user", help="Login of the user the token acts as."),
        name: str = typer.Option(..., "--name", help="What the token is for, e.g. curl or the CRM."),
        as_json: bool = JsonOption,
    ) -> None:
        """Create an API token and print it once: it is stored only as a hash."""
        with handled(as_json=as_json), container() as mailcard:
            found = mailcard.users.by_login(login.strip())
            if found is None:
                raise InputError(
                    f"No user with the login {login.strip()[:120]!r}.",
                    code="user_not_found",
                    hint="See the logins with: mailcard user list",
                )
            plaintext, created = mailcard.credentials.create_token(found.id, name)

            def human() -> None:
                # The token alone on stdout, so TOKEN=$(mailcard token create ...) works.
                sys.stdout.write(plaintext + "\n")
                err_console.print(
                    f"token {created.prefix}… for {found.login} created; it is shown only now. "
                    'Use it as "Authorization: Bearer <token>".'
                )

            emit(
                {"token": plaintext, **created.to_dict(), "login": found.login}, as_json=as_json, human=human
            )

    @demo.command("load")
    def load(as_json: bool = JsonOption) -> None:
        """Load demo users, stores, customers and templates into an empty database."""
        from mailcard.demo import load_demo

        with handled(as_json=as_json), container() as mailcard:
            summary = load_demo(mailcard)

            def human() -> None:
                console.print(
                    f"demo data loaded: {len(summary.customers)} customers, {len(summary.stores)} stores, "
                    f"{len(summary.templates)} templates"
                )
                for login, password in summary.passwords.items():
                    console.print(f"  user {login}  password {password}")

            emit(summary.to_dict(), as_json=as_json, human=human)


def _read_password(from_stdin: bool, *, as_json: bool) -> str:
    if from_stdin:
        text = sys.stdin.read()
        # Only the line end a pipe or here-string adds is removed: spaces may be part of a passphrase.
        password = text[:-1] if text.endswith("\n") else text
        password = password[:-1] if password.endswith("\r") else password
        if not password:
            usage_error("No password on standard input.", as_json=as_json, hint="echo 'pass phrase' | ...")
        if not is_unicode(password):  # undecodable bytes arrive as lone surrogates
            usage_error("The password on standard input is not UTF-8 text.", as_json=as_json)
        return password
    if not sys.stdin.isatty():
        usage_error(
            "No terminal to ask for the password.",
            as_json=as_json,
            hint="Pipe it in and add --password-stdin.",
        )
    entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return entered


def _store_ids(mailcard: Container, codes: list[str]) -> tuple[int, ...]:
    if not codes:
        return ()
    found = mailcard.stores.ids_by_code(codes)
    missing = sorted({c.strip() for c in codes} - set(found))
    if missing:
        raise InputError(f"No store with the code {missing[0]!r}.", code="store_not_found")
    return tuple(found.values())


def _users_table(users: list[User]) -> Table:
    table = Table("id", "login", "name", "email", "role", "sender", "active")
    for u in users:
        sender = (
            "can send"
            if u.can_send_as_self
            else ("not allowed" if u.sender_confirmed_at else "not confirmed")
        )
        table.add_row(
            str(u.id), u.login, u.name, u.email, u.role.value, sender, "yes" if u.is_active else "no"
        )
    return table
