"""The `labelloop` command: set up, import, serve, export and inspect projects."""

from __future__ import annotations

import typer

from labelloop.cli import (
    accounts,
    autolabel,
    common,
    dashboard,
    guidelines,
    imported_issues,
    imports,
    models,
    projects,
    quality,
    serving,
    simulation,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
users_app = typer.Typer(no_args_is_help=True, help="Manage user accounts.")
tokens_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API tokens.")
projects_app = typer.Typer(
    no_args_is_help=True, help="Create and list projects, give members roles, change live settings."
)
gold_app = typer.Typer(no_args_is_help=True, help="Mark items with known answers (gold).")
model_app = typer.Typer(
    no_args_is_help=True, help="A project's trained model as a file, and labels from it."
)
alerts_app = typer.Typer(
    no_args_is_help=True,
    help="A project's alerts: list them, acknowledge one, take that back.",
)
guidelines_app = typer.Typer(
    no_args_is_help=True,
    help="Show, list, diff and publish a project's guideline versions and pin examples.",
)
imports_app = typer.Typer(
    no_args_is_help=True, help="A project's imports: list them, undo one nobody worked on."
)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(projects_app, name="projects")
app.add_typer(gold_app, name="gold")
app.add_typer(model_app, name="model")
app.add_typer(guidelines_app, name="guidelines")
autolabel_app = typer.Typer(
    no_args_is_help=True,
    help="Accept the model's labels for the items it is sure of; list, check and undo the runs.",
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.call_on_close(common.close_opened)


# Registered here rather than by decorators in each module: `labelloop --help` lists commands in
# registration order, and that order interleaves the modules.
app.command()(accounts.init)
app.command("import")(projects.import_)
app.add_typer(imports_app, name="imports")
app.command()(projects.export)
app.command()(projects.status)
app.command()(serving.serve)
app.command()(simulation.simulate)
app.command()(serving.worker)
app.command()(quality.quality)
app.command()(quality.items)
app.command()(quality.search)
app.command("second-look")(imported_issues.second_look)
app.command()(projects.gain)
app.command()(dashboard.dashboard)
app.command()(dashboard.coverage)
app.add_typer(autolabel_app, name="autolabel")
app.add_typer(alerts_app, name="alerts")
app.command()(projects.audit)
app.command()(serving.demo)
imports_app.command("list")(imports.imports_list)
imports_app.command("undo")(imports.imports_undo)
alerts_app.command("list")(dashboard.alerts_list)
alerts_app.command("ack")(dashboard.alerts_ack)
alerts_app.command("unack")(dashboard.alerts_unack)
users_app.command("add")(accounts.users_add)
users_app.command("list")(accounts.users_list)
users_app.command("deactivate")(accounts.users_deactivate)
users_app.command("activate")(accounts.users_activate)
users_app.command("password")(accounts.users_password)
users_app.command("admin")(accounts.users_admin)
tokens_app.command("create")(accounts.tokens_create)
tokens_app.command("list")(accounts.tokens_list)
tokens_app.command("revoke")(accounts.tokens_revoke)
projects_app.command("create")(projects.projects_create)
projects_app.command("list")(projects.projects_list)
projects_app.command("member")(projects.projects_member)
projects_app.command("set")(projects.projects_set)
projects_app.command("add-label")(projects.projects_add_label)
gold_app.command("set")(quality.gold_set)
gold_app.command("list")(quality.gold_list)
gold_app.command("remove")(quality.gold_remove)
model_app.command("export")(models.model_export)
model_app.command("predict")(models.model_predict)
guidelines_app.command("show")(guidelines.guidelines_show)
guidelines_app.command("history")(guidelines.guidelines_history)
guidelines_app.command("set")(guidelines.guidelines_set)
guidelines_app.command("diff")(guidelines.guidelines_diff)
guidelines_app.command("examples")(guidelines.guidelines_examples)
guidelines_app.command("pin")(guidelines.guidelines_pin)
guidelines_app.command("unpin")(guidelines.guidelines_unpin)
autolabel_app.command("apply")(autolabel.autolabel_apply)
autolabel_app.command("runs")(autolabel.autolabel_runs)
autolabel_app.command("check")(autolabel.autolabel_check)
autolabel_app.command("undo")(autolabel.autolabel_undo)


def main() -> None:
    app()
