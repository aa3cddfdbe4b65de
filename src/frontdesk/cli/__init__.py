"""The ``frontdesk`` command line."""

from __future__ import annotations

import typer

from frontdesk.cli import admin, channels, handoff, jobs, llm, rights, security, webhooks
from frontdesk.cli.chat import chat
from frontdesk.cli.intent import intent_app
from frontdesk.cli.secrets import secret_app
from frontdesk.cli.serve import migrate, serve, worker

app = typer.Typer(
    name="frontdesk",
    help="Front Desk: a multi-tenant, omnichannel AI front desk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(serve)
app.command()(worker)
app.command()(migrate)
app.command()(chat)
app.command("reply")(handoff.reply)
admin.tenant_app.command("delete")(rights.tenant_delete)
admin.tenant_app.command("llm")(llm.tenant_llm)
admin.tenant_app.command("llm-key")(llm.tenant_llm_key)
admin.conversation_app.command("take")(handoff.conversation_take)
admin.conversation_app.command("release")(handoff.conversation_release)
app.add_typer(admin.tenant_app, name="tenant")
app.add_typer(admin.key_app, name="key")
app.add_typer(admin.pack_app, name="pack")
app.add_typer(admin.conversation_app, name="conversation")
app.add_typer(channels.channel_app, name="channel")
app.add_typer(security.token_app, name="token")
app.add_typer(secret_app, name="secret")
app.add_typer(security.signing_app, name="signing-key")
app.command()(security.audit)
app.add_typer(rights.contact_app, name="contact")
app.add_typer(rights.retention_app, name="retention")
app.add_typer(intent_app, name="intent")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(webhooks.webhook_app, name="webhook")


def main() -> None:
    app()
