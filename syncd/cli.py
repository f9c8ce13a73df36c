"""The command line: the only module that prints, picks exit codes and sets up logging.

Exit codes: 0 ok; 1 a run failed; 2 bad config, bad mapping or bad usage; 3 another syncd
process holds the state store.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from syncd import __version__, helptext, i18n
from syncd.errors import ConfigError, LockedError, SyncdError
from syncd.i18n import N_, _

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from syncd import commands

# Start-up: `syncd --version`, `syncd health` from a monitor and every `run --once` from a timer
# pay for what this module imports. Only click and syncd.errors are imported here; the commands
# (SQLAlchemy, pydantic, the drivers), rich and loguru are imported by the verbs that use them.

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 3


class _LazyConsole:
    """A rich Console made on first use, so that importing this module does not import rich."""

    def __init__(self, **options: Any):
        self._options = options
        self._console: Console | None = None

    def real(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


#: The width of output that goes to a file, a pipe or a journal rather than a terminal: nothing is
#: cut or wrapped to fit a screen that is not there.
UNBOUNDED = 100_000
out = _LazyConsole(highlight=False, width=None if sys.stdout.isatty() else UNBOUNDED)
err = _LazyConsole(stderr=True, highlight=False, soft_wrap=True)


#: A heading's rule line where there is no screen to span: as wide as a terminal's.
RULE_WIDTH = 80


def _rule(title: str, **options: Any) -> None:
    """A heading with a rule line, as wide as the terminal, or ``RULE_WIDTH`` in a file or a pipe."""
    from rich.rule import Rule

    out.print(Rule(title, **options), width=None if sys.stdout.isatty() else RULE_WIDTH)


def _secrets(project: commands.Project) -> list[str]:
    found = []
    for db in (project.config.source, project.config.target):
        try:
            url = db.sqlalchemy_url()
        except OSError:
            continue
        if url.password:
            found.append(str(url.password))
    state_url = project.config.state_url()
    if state_url.password:
        found.append(str(state_url.password))
    if project.config.alerts.enabled:       # smtplib, ssl, urllib only where alerts are configured
        from syncd import alerts

        for channel in alerts.channels(project.config.alerts):
            found.extend(channel.secrets())
    return found


#: allocations between the cyclic collector's passes over its youngest generation (Python's: 700)
GC_YOUNGEST = 10_000


def _load(ctx: click.Context, only: Sequence[str] = ()) -> commands.Project:
    # Set-up (SQLAlchemy, pydantic, the config and mappings) makes some 60 000 objects the cyclic
    # collector tracks and frees almost none: its passes over them find nothing and took about
    # 80 ms of the 0.6 s of CPU of `syncd status`. The collector is off while the project loads
    # and on again, whatever happens, before the command's own work; a command that loads no project
    # (demo, init, ddl, scaffold) runs with it on from the start. What was made until then
    # (modules, classes, the project) is frozen: the collector's passes no longer walk it (the
    # first pass after set-up walked all of it: a quarter of the CPU of `syncd status`). Frozen
    # objects are still freed when nothing refers to them; only a cycle among them would stay. This
    # runs once per process: a daemon's reload (daemon.py) loads its project again without it, so
    # no reloaded copy is frozen. The imports are set-up too (most of it): a verb imports
    # syncd.commands only after calling this, which has imported it with the collector off.
    gc.disable()
    try:
        from syncd import commands, engines, logs

        if ctx.obj["lang"] is None:
            # `lang:` in the config, read before the rest so that its own problems are in that language
            i18n.use(i18n.choose(commands.config_language(ctx.obj["config"])))
        project = commands.open_project(ctx.obj["config"], only=only)
        if ctx.obj["lang"] is None:
            i18n.use(i18n.choose(project.config.lang))
        engines.prepare_drivers(project.config)
        log = project.config.log
        logs.setup(level=ctx.obj["level"] or log.level, log_dir=log.dir if ctx.obj["file_log"] else None,
                   secrets=_secrets(project), rotation=log.rotation, retention=log.retention)
    finally:
        gc.freeze()
        # A copy makes tuples and lists by the batch, freed by reference counting (no cycle holds a
        # batch: tests/test_sync.py): the youngest generation's passes every 700 allocations found
        # them still in use and moved them on, for the older generations' passes to walk again.
        # Every 10 000 the passes are fewer and each finds more already gone (a 200 000-row SQLite
        # copy: 3 % less CPU; docs/performance.md). Cycles are still collected.
        gc.set_threshold(GC_YOUNGEST, *gc.get_threshold()[1:])
        gc.enable()
    return project


def _marked(style: str, text: str) -> str:
    """``text`` in rich's markup for ``style`` (the text itself, translated, holds none)."""
    escaped = text.replace("[", "\\[")
    return f"[{style}]{escaped}[/{style}]"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _written(counts: Mapping[str, Any]) -> str:
    """Rows written (inserted + updated), with the three counts where the run record has them
    (runs recorded before syncd told them apart have only the total)."""
    written = counts.get("rows_written")
    if written is None:
        return ""
    inserted, updated, unchanged = counts.get("inserted"), counts.get("updated"), counts.get("unchanged")
    if inserted is None or updated is None or unchanged is None:
        return str(written)
    return _("{written} ({inserted} inserted, {updated} updated, {unchanged} unchanged)").format(
        written=written, inserted=inserted, updated=updated, unchanged=unchanged)


#: Columns never wrapped or cut, however narrow the terminal: the others give way.
_WHOLE = ("mapping", "run_id")

#: The column headings of the tables, for the catalog (shown through _(); csv and json keep the keys).
HEADINGS = (
    N_("mapping"), N_("status"), N_("read"), N_("would write"), N_("written"), N_("rejected"), N_("resolved"),
    N_("retries"), N_("seconds"), N_("watermark"), N_("source"), N_("target"), N_("key"), N_("cursor"),
    N_("columns"), N_("depends on"), N_("last status"), N_("last ended"), N_("rows read"), N_("rows written"),
    N_("rows rejected"), N_("pending rejects"), N_("next run"), N_("lag"), N_("episode"), N_("column name"),
    N_("reason"), N_("attempts"), N_("first seen"), N_("last seen"), N_("resolved at"), N_("dropped by"),
    N_("column"), N_("value"), N_("run id"), N_("started at"), N_("rejects resolved"), N_("seq"), N_("time"),
    N_("action"), N_("by"), N_("user"), N_("kind"), N_("outcome"), N_("what"), N_("missing"), N_("different"),
    N_("waiting"), N_("dropped"), N_("extra"), N_("stale"), N_("equal"), N_("buckets"), N_("re-sent"),
    N_("marked deleted"), N_("deleted"), N_("backdated"), N_("expected"), N_("actual"), N_("would"), N_("why"),
    N_("from"), N_("source value"), N_("mapped"), N_("in the target now"), N_("opened run"), N_("resolved run"),
    N_("drop reason"), N_("row hash"), N_("by run"),
)
#: Columns whose values are words syncd chose (a status, a verdict, a kind of difference): shown translated.
WORD_COLUMNS = {"status", "last_status", "equal", "would", "kind", "action", ""}
WORDS = (N_("ok"), N_("failed"), N_("stopped"), N_("running"), N_("deferred"), N_("dry-run"), N_("pending"),
         N_("resolved"), N_("gone"), N_("dropped"), N_("yes"), N_("NO"), N_("insert"), N_("update"), N_("unchanged"),
         N_("reject"), N_("changes"), N_("rewind"), N_("set"), N_("reset"))


def _cell(column: str, value: Any) -> str:
    """A table cell: syncd's own words and kept reasons in the current language, the rest as it is."""
    if isinstance(value, str) and column in WORD_COLUMNS:
        return _(value)
    if isinstance(value, str) and column in ("reason", "why", "error"):
        return i18n.translate_stored(value)
    return _fmt(value)


def _table(rows: list[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> Table:
    from rich.cells import cell_len
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    cells = [[_cell(c, row.get(c)) for c in columns] for row in rows]
    for i, col in enumerate(columns):
        heading = _(col.replace("_", " ")) if col else ""
        if col in _WHOLE:
            widest = max([cell_len(heading), *(cell_len(r[i]) for r in cells)])
            table.add_column(heading, no_wrap=True, min_width=widest)
        else:
            table.add_column(heading, overflow="fold")
    for cell in cells:
        table.add_row(*cell)
    return table


def _progress_wanted() -> bool:
    """Progress bars on a terminal only: not when output is piped or journald reads it."""
    return sys.stdout.isatty() and sys.stderr.isatty() and not os.environ.get("JOURNAL_STREAM")


def _progress_bars(names: Sequence[str]) -> Any:
    """A rich Progress on stderr with one bar per mapping, and the Observer that feeds it: rows
    read, rows/s and the ETA from a count of each window (counted only because a bar shows it)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from syncd.sync import Observer

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(_("{speed:,.0f} rows/s").format(speed=speed) if speed else "", style="progress.data.speed")

    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                    TimeRemainingColumn(), console=err.real(), redirect_stderr=True, redirect_stdout=False)
    from rich.cells import cell_len

    # names padded by the columns they take on a screen: a Chinese character takes two
    width = max((cell_len(n) for n in names), default=0)

    class Bars(Observer):
        def __init__(self) -> None:
            self.tasks: dict[str, TaskID] = {}

        def _task(self, mapping: str) -> TaskID:
            if mapping not in self.tasks:
                padding = " " * (width - cell_len(mapping))
                self.tasks[mapping] = bars.add_task(mapping + padding, total=None)
            return self.tasks[mapping]

        def reading(self, mapping: str, count: Callable[[], int | None]) -> None:
            task = self._task(mapping)
            rows = count()
            if rows is not None:
                bars.update(task, total=bars.tasks[task].completed + rows)

        def rows_read(self, mapping: str, rows: int) -> None:
            task = self._task(mapping)
            bars.advance(task, rows)
            shown = bars.tasks[task]
            if shown.total is not None and shown.completed > shown.total:
                # rows past the counted full copy (its incremental window, the NULL-cursor rows)
                bars.update(task, total=shown.completed)

        def activity(self, mapping: str, doing: str | None) -> None:
            if doing is None and mapping in self.tasks:
                task = self.tasks[mapping]
                bars.update(task, total=bars.tasks[task].completed)
                bars.stop_task(task)

    return bars, Bars()


def _print_version(ctx: click.Context, wanted: bool) -> None:
    """``--version``, in the current language (click's own option words it when syncd is imported)."""
    if not wanted or ctx.resilient_parsing:
        return
    click.echo(_("%(prog)s, version %(version)s") % {"prog": "syncd", "version": __version__})
    ctx.exit()


class _Group(helptext.ColumnsHelp, click.Group):
    """Turns syncd's own errors into a message and an exit code; nothing else prints tracebacks.
    Its commands and groups lay their help out in terminal columns (syncd.helptext)."""

    command_class = helptext.Command
    group_class = type      # a group made by group() is a _Group too

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            heading = _("configuration problems:") if len(exc.problems) > 1 else _("configuration problem:")
            err.print(f"[red]{heading}[/red]")
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False)
            ctx.exit(EXIT_CONFIG)
        except LockedError as exc:
            err.print(f"[red]{i18n.translate_stored(str(exc))}[/red]", markup=True)
            ctx.exit(EXIT_LOCKED)
        except SyncdError as exc:
            err.print(_marked("red", _("error:")) + " ", end="")
            err.print(i18n.translate_stored(str(exc)), markup=False)
            ctx.exit(EXIT_FAILED)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug or an error nobody classified: say so, keep the details in the log
            from loguru import logger

            from syncd import logs

            logs.hide_values()
            logger.opt(exception=exc).error(_("unexpected error"))
            err.print(_marked("red", _("unexpected error:")) + f" {type(exc).__name__}: ", end="")
            err.print(str(exc).splitlines()[0] if str(exc) else "", markup=False)
            err.print(_("the full traceback is in the log (run with -v to see it on stderr); please report it"))
            ctx.exit(EXIT_FAILED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config", type=click.Path(dir_okay=False), default=None,
              help=N_("Config file (default: $SYNCD_CONFIG, ./config.yaml, /etc/syncd/config.yaml)."))
@click.option("-v", "--verbose", is_flag=True, help=N_("Log at DEBUG level (SQL included, never parameters)."))
@click.option("-q", "--quiet", is_flag=True, help=N_("Log warnings and errors only."))
@click.option("--lang", type=click.Choice(i18n.LANGUAGES), default=None,
              help=N_("Language of messages: zh (Simplified Chinese) or en (default: lang: in the config, "
                      "else LC_ALL, LC_MESSAGES, LANG)."))
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=lambda ctx, param, value:
              _print_version(ctx, value), help=N_("Show the version and exit."))
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool, quiet: bool, lang: str | None) -> None:
    """syncd: keep the province's intermediate tables equal to the county's dual-prevention data.

    Reads the county database, maps rows with the YAML files in the mappings directory and
    upserts them into the intermediate database incrementally, tracking a watermark per mapping.
    """
    ctx.ensure_object(dict)
    ctx.obj.update(config=config, level="DEBUG" if verbose else "WARNING" if quiet else None, file_log=True,
                   lang=lang or _command_line_language["lang"])


@cli.command()
@click.option("--once", is_flag=True, help=N_("Run the mappings once and exit (without it: run as a daemon)."))
@click.option("-m", "--mapping", "names", multiple=True, metavar="NAME", help=N_("Only this mapping (repeatable)."))
@click.option("--full", is_flag=True, help=N_("Re-read everything instead of since the watermark."))
@click.option("--dry-run", is_flag=True, help=N_("Read, map and validate; write nothing; show what would be written."))
@click.option("--wait", "wait", type=float, is_flag=False, flag_value=-1.0, default=None, metavar="[SECONDS]",
              help=N_("If another syncd holds the state store, wait for it (at most SECONDS) instead of exiting 3."))
@click.pass_context
def run(ctx: click.Context, once: bool, names: tuple[str, ...], full: bool, dry_run: bool,
        wait: float | None) -> None:
    """Sync the mappings: once (--once) or on their schedules as a daemon."""
    project = _load(ctx, names)
    from loguru import logger

    from syncd import commands, lock

    for warning in [*commands.secret_warnings(project.config), *commands.state_warnings(project.config)]:
        logger.warning(warning)
    waiting: bool | float = False if wait is None else True if wait < 0 else wait
    if not once:
        from syncd import daemon

        ctx.exit(daemon.serve(ctx.obj["config"], project, names=names, wait=waiting))
    # A dry run writes neither target nor state, so it may run beside the daemon.
    bars, observer = _progress_bars([m.name for m in project.mappings]) if _progress_wanted() else (None, None)
    with nullcontext() if dry_run else lock.acquire(lock.lock_path(project.config), waiting, purpose="run --once"):
        with bars if bars is not None else nullcontext():
            report = commands.run_once(project, names=names, full=full, dry_run=dry_run, observer=observer)
        if not dry_run:
            commands.check_alerts(project)
    _print_report(report, dry_run=dry_run)
    ctx.exit(EXIT_FAILED if report.failed else EXIT_OK)


def _print_report(report: commands.RunReport, *, dry_run: bool) -> None:
    from syncd.watermark import describe_value

    rows = []
    for r in report.results:
        rows.append({"mapping": r.mapping, "status": r.status, "read": r.counts.rows_read,
                     ("would write" if dry_run else "written"): _written(r.counts.__dict__),
                     "rejected": r.counts.rows_rejected, "resolved": r.counts.rejects_resolved,
                     "retries": r.counts.retries, "seconds": f"{r.seconds:.2f}",
                     "watermark": describe_value(r.watermark_after.cursor) if r.watermark_after else None})
    columns = ["mapping", "status", "read", "would write" if dry_run else "written", "rejected", "resolved",
               "retries", "seconds", "watermark"]
    # the watermark column shows the cursor; `syncd status` shows it with its key
    title = _("run {run_id} (dry run: nothing written)") if dry_run else _("run {run_id}")
    out.print(_table(rows, columns, title=title.format(run_id=report.run_id)))
    for r in report.results:
        for warning in r.warnings:
            out.print(_marked("yellow", _("warning")) + f" {r.mapping}: ", end="")
            out.print(i18n.translate_stored(warning), markup=False)
        if r.error:
            out.print(_marked("red", _("failed")) + f" {r.mapping}: ", end="")
            out.print(i18n.translate_stored(r.error), markup=False)
        if dry_run:
            if r.sample:
                out.print(_table(r.sample, list(r.sample[0]), title=_("{mapping}: first "
                                                                      "rows it would write").format(mapping=r.mapping)))
            for reject in r.rejects[:20]:
                out.print(_("  would reject {mapping} key {key}: {reason}").format(
                    mapping=r.mapping, key=reject.key, reason=i18n.translate_stored(reject.reason)), markup=False)


@cli.command()
@click.option("--connect", "connect_databases", is_flag=True,
              help=N_("Also connect and check that tables and columns exist."))
@click.pass_context
def check(ctx: click.Context, connect_databases: bool) -> None:
    """Check the config and every mapping (statically; --connect also checks the databases)."""
    project = _load(ctx)
    from syncd import commands

    warnings: list[str] = []
    rows = commands.check(project, connect_databases=connect_databases, warnings=warnings)
    notes = commands.source_notes(project) if connect_databases else []
    if connect_databases:
        for facts in commands.server_facts(project):
            warnings += _print_facts(facts)
        _rule(_("mappings"), style="dim")
    how = _("checked against the databases") if connect_databases else \
        _("checked without connecting (--connect also checks the databases)")
    out.print(_table(rows, ["mapping", "source", "target", "key", "cursor", "columns", "depends_on"],
                     title=_("{path}: {count} mapping(s), dependency order; {how}").format(
                         path=project.config.path, count=len(rows), how=how)))
    for warning in [*commands.secret_warnings(project.config), *commands.state_warnings(project.config), *warnings]:
        out.print(_marked("yellow", _("warning")) + " ", end="")
        out.print(i18n.translate_stored(warning), markup=False)
    for note in notes:
        out.print(_marked("cyan", _("note")) + " ", end="")
        out.print(i18n.translate_stored(note), markup=False)
    out.print(_marked("green", _("ok")) + (_(": config, mappings and databases") if connect_databases else
                                            _(": config and mappings (not connected)")))


#: A clock further than this from this machine's is worth a warning.
CLOCK_TOLERANCE_SECONDS = 5.0


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 1:
        return _("{milliseconds:.0f} ms").format(milliseconds=seconds * 1000)
    if seconds < 120:
        return _("{seconds:.1f} s").format(seconds=seconds)
    minutes, rest = divmod(round(seconds), 60)
    return (_("{minutes} min {seconds} s").format(minutes=minutes, seconds=rest) if minutes < 120 else
            _("{hours} h {minutes} min").format(hours=minutes // 60, minutes=minutes % 60))


def _print_facts(facts: commands.ServerFacts) -> list[str]:
    """One database's section of check --connect; returns its warnings."""
    _rule(f"{facts.role}: {facts.where}", style="cyan", align="left")
    not_told = _("(not told)")
    if facts.problem is not None:
        out.print("  [yellow]" + _("not asked") + "[/yellow]  ", end="")
        out.print(facts.problem, markup=False)
        return []
    lines = [(_("server"), facts.version or not_told)]
    warnings = []
    if facts.clock is not None and facts.offset is not None:
        seconds = facts.offset.total_seconds()
        side = _("ahead of") if seconds > 0 else _("behind")
        trip = _("asked in {span}").format(span=_span(facts.round_trip.total_seconds())) \
            if facts.round_trip is not None else ""
        apart = (_("{span} {side} this machine's").format(span=_span(seconds), side=side) if abs(seconds) >= 0.001
                 else _("the same as this machine's"))
        lines.append((_("clock"), _("{clock} UTC, {apart} ({trip})").format(
            clock=f"{facts.clock:%Y-%m-%d %H:%M:%S}", apart=apart, trip=trip)))
        if abs(seconds) > CLOCK_TOLERANCE_SECONDS:
            warnings.append(_("the {role} database's clock is {span} {side} this machine's: windows follow the "
                              "source's clock, but lag, health and the times in status and history follow this "
                              "machine's; synchronise both with the same time server (chrony, NTP)").format(
                role=facts.role, span=_span(seconds), side=side))
    else:
        lines.append((_("clock"), not_told))
    lines.append((_("time zone"), facts.time_zone or not_told))
    lines.append((_("charset"), facts.charset or not_told))
    for label, value in lines:
        out.print(f"  {label:<10} ", end="")
        out.print(value, markup=False)
    return warnings


@cli.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Per mapping: watermark, last run with its counts, pending rejects, next run, lag."""
    project = _load(ctx)
    from syncd import commands

    problems: list[str] = []
    rows = commands.status(project, source_problems=problems)
    for row in rows:
        row["written"] = _written(row)
    out.print(_table(rows, ["mapping", "watermark", "last_status", "last_ended", "rows_read", "written",
                            "rows_rejected", "pending_rejects", "next_run", "lag"]))
    for problem in problems:
        out.print(_marked("yellow", _("lag unknown")) + " ", end="")
        out.print(i18n.translate_stored(problem), markup=False)
    for row in rows:
        if row["doing"]:
            out.print(_marked("cyan", _("running")) + " ", end="")
            out.print(_("{mapping} since {running_since}: ").format(
                mapping=row["mapping"], running_since=_fmt(row["running_since"])), end="", markup=False)
            out.print(_("{doing} since {doing_since}").format(
                doing=i18n.translate_stored(row["doing"]), doing_since=_fmt(row["doing_since"])), markup=False)
        if row["warning"]:
            out.print(_marked("yellow", _("warning")) + f" {row['mapping']}: ", end="")
            out.print(i18n.translate_stored(row["warning"]), markup=False)
        if row["error"]:
            out.print(_marked("red", _("last run failed")) + f" {row['mapping']}: ", end="")
            out.print(i18n.translate_stored(row["error"]), markup=False)


@cli.command()
@click.pass_context
def health(ctx: click.Context) -> None:
    """Exit 0 if every mapping is fresh, else 1 with the reason on one line (for monitoring)."""
    ctx.obj["file_log"] = False
    project = _load(ctx)
    from syncd import commands

    ok, reason = commands.health(project)
    click.echo(reason)
    ctx.exit(EXIT_OK if ok else EXIT_FAILED)


@cli.group(invoke_without_command=True)
@click.pass_context
def rejects(ctx: click.Context) -> None:
    """Rows that could not be written: list (the default), show, drop."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(rejects_list)


@rejects.command("list")
@click.option("-m", "--mapping", "name", default=None, metavar="NAME", help=N_("Only this mapping."))
@click.option("--all", "show_all", is_flag=True,
              help=N_("Every episode: also resolved, gone and dropped ones, and the earlier episodes of a key."))
@click.option("--limit", default=200, show_default=True, help=N_("At most this many."))
@click.pass_context
def rejects_list(ctx: click.Context, name: str | None = None, show_all: bool = False, limit: int = 200) -> None:
    """List rejects with their reason (pending ones unless --all)."""
    project = _load(ctx)
    from syncd import commands

    rows = commands.rejects(project, mapping=name, status_=None if show_all else "pending", limit=limit)
    columns = ["mapping", "key", "status", "column_name", "reason", "attempts", "first_seen"]
    if show_all:
        columns[2:2] = ["episode"]
        columns += ["resolved_at", "dropped_by"]
    out.print(_table(rows, columns))


@rejects.command("show")
@click.option("-m", "--mapping", "name", required=True, metavar="NAME", help=N_("The mapping."))
@click.argument("key")
@click.pass_context
def rejects_show(ctx: click.Context, name: str, key: str) -> None:
    """Everything about one key's rejects, episode by episode: reason, attempts, who resolved or
    dropped it and why, and the source row as it was read."""
    project = _load(ctx)
    from syncd import commands

    found = commands.rejects(project, mapping=name, status_=None, key=key)
    if not found:
        err.print(_("no reject with key {key!r} in mapping {name!r} (see: "
                    "syncd rejects list -m {name})").format(key=key, name=name), markup=False)
        ctx.exit(EXIT_FAILED)
    out.print(_("mapping {name}, key {key}: {count} "
                "episode(s)").format(name=name, key=key, count=len(found)), markup=False)
    shown_row = None
    for row in found:
        out.print("")
        for label in ("episode", "status", "column_name", "reason", "attempts", "first_seen", "last_seen",
                      "opened_run", "run_id", "resolved_at", "resolved_run", "dropped_by", "drop_reason", "row_hash"):
            if row.get(label) is None and label in ("resolved_run", "dropped_by", "drop_reason", "opened_run"):
                continue
            out.print(f"{_(label.replace('_', ' ')):>13}: ", end="")
            out.print(_fmt(row.get(label)), markup=False)
        if row["row_hash"] != shown_row:
            out.print(_table([{"column": c, "value": v} for c, v in row["row"].items()], ["column", "value"],
                             title=_("the source row (episode {episode})").format(episode=row['episode'])))
            shown_row = row["row_hash"]


@rejects.command("drop")
@click.option("-m", "--mapping", "name", required=True, metavar="NAME", help=N_("The mapping."))
@click.option("--reason", required=True, help=N_("Why these rows will never be sent (kept in the audit trail)."))
@click.option("--by", "--operator", "who", default=None, metavar="NAME",
              help=N_("Who decides (kept in the audit trail; default: the OS user)."))
@click.argument("keys", nargs=-1, required=True)
@click.pass_context
def rejects_drop(ctx: click.Context, name: str, reason: str, who: str | None, keys: tuple[str, ...]) -> None:
    """Stop retrying pending rejects; they stay in the audit trail as dropped, with who and why, and
    stay dropped while their source row is unchanged."""
    project = _load(ctx)
    from syncd import commands

    unknown = commands.drop_rejects(project, mapping=name, keys=keys, reason=reason, by=who)
    out.print(_("dropped {count} reject(s) of mapping {name}").format(count=len(keys) - len(unknown), name=name))
    for key in unknown:
        err.print(_("no pending reject with key {key!r} in mapping {name!r}").format(key=key, name=name), markup=False)
    ctx.exit(EXIT_FAILED if unknown else EXIT_OK)


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """A --from/--to day (YYYY-MM-DD); a bad one is a usage error (exit 2) naming the format."""
    if value is None:
        return None
    from syncd.audit import parse_day

    try:
        return parse_day(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _write_out(text: str, output: str | None, *, bom: bool = False) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        Path(output).write_text(text, encoding="utf-8-sig" if bom else "utf-8")
    except OSError as exc:
        raise click.ClickException(_("cannot write {output}: {error}; check that its folder exists and may be "
                                     "written").format(
            output=output, error=exc.strerror or exc)) from None
    err.print(_("written to {output}").format(output=output), markup=False)


def _csv(rows: list[dict[str, Any]], fields: Sequence[str]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@cli.command()
@click.option("-m", "--mapping", "name", default=None, metavar="NAME", help=N_("Only this mapping."))
@click.option("--from", "since", default=None, metavar="DATE", callback=_day,
              help=N_("Runs started on this day (YYYY-MM-DD, defaults.timezone) or later."))
@click.option("--to", "until", default=None, metavar="DATE", callback=_day,
              help=N_("Runs started on this day (YYYY-MM-DD) or earlier."))
@click.option("--status", "status_", type=click.Choice(["ok", "failed", "stopped", "running"]), default=None,
              help=N_("Only runs that ended so."))
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help=N_("csv and json: every run, nothing cut, times in defaults.timezone."))
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help=N_("Write csv or json to this file (csv with a BOM, for Excel) instead of stdout."))
@click.option("--limit", default=None, type=int,
              help=N_("At most this many runs, newest first (default: 30 for the table without --from/--to, else "
                      "all)."))
@click.pass_context
def history(ctx: click.Context, name: str | None, since: Any, until: Any, status_: str | None, fmt: str,
            output: str | None, limit: int | None) -> None:
    """The run history: what each run read, wrote and rejected, and its watermark."""
    import json

    project = _load(ctx)
    from syncd import commands
    from syncd.watermark import Watermark, describe_value

    if limit is None and fmt == "table" and since is None and until is None:
        limit = 30
    filters = {"mapping": name, "limit": limit, "since": since, "until": until, "status_": status_}
    if fmt != "table":
        records = commands.history_records(project, **filters)
        if fmt == "json":
            _write_out(json.dumps(records, ensure_ascii=False, indent=2) + "\n", output)
        else:
            _write_out(_csv(records, commands.HISTORY_FIELDS), output, bom=True)
        return
    rows = commands.history(project, **filters)
    for row in rows:
        after = Watermark.from_json(row["watermark_after"])
        row["watermark"] = describe_value(after.cursor) if after else None
        row["written"] = _written(row)
    out.print(_table(rows, ["run_id", "mapping", "status", "started_at", "rows_read",
                            "written", "rows_rejected", "rejects_resolved", "retries", "watermark"]))
    for row in rows:
        if row["error"]:
            out.print(f"[red]{row['run_id']} {row['mapping']}[/red]: ", end="")
            out.print(i18n.translate_stored(row["error"]), markup=False)


def _waiting(wait: float | None) -> bool | float:
    return False if wait is None else True if wait < 0 else wait


_WAIT = click.option("--wait", "wait", type=float, is_flag=False, flag_value=-1.0, default=None, metavar="[SECONDS]",
                     help=N_("If another syncd holds the state store, wait for it (at most SECONDS) instead of "
                             "exiting 3."))


@cli.group("watermark")
def watermark_group() -> None:
    """A mapping's watermark: show it, or change it by hand (journaled, refused while syncd runs)."""


@watermark_group.command("show")
@click.option("-m", "--mapping", "name", required=True, metavar="NAME", help=N_("The mapping."))
@click.pass_context
def watermark_show(ctx: click.Context, name: str) -> None:
    """The watermark, when and by which run it was written, and every change made by hand."""
    project = _load(ctx)
    from syncd import commands

    shown = commands.watermark_show(project, mapping=name)
    described = shown["describe"] or _("none (the next run copies everything)")
    for label, value in (("mapping", name), ("watermark", described), ("written", shown["updated_at"]),
                         ("by run", shown["run_id"])):
        out.print(f"{_(label):>10}: ", end="")
        out.print(_fmt(value), markup=False)
    changes = []
    for change in shown["changes"]:
        detail = change.get("detail") or {}
        changes.append({"seq": change.get("seq"), "time": change.get("time"), "user": change.get("user"),
                        "action": detail.get("action", change.get("kind")), "by": detail.get("by"),
                        "reason": detail.get("reason")})
    if changes:
        out.print(_table(changes, ["seq", "time", "action", "by", "user", "reason"], title=_("changed by hand")))


def _print_change(name: str, before: Any, after: Any) -> None:
    out.print(_("mapping {name}: watermark {before} -> {after}; the next run reads from there (recorded in the "
                "audit journal)")
              .format(
                  name=name, before=before.describe() if before else _("none"), after=after.describe()), markup=False)


@watermark_group.command("rewind")
@click.option("-m", "--mapping", "name", required=True, metavar="NAME", help=N_("The mapping."))
@click.option("--by", "amount", required=True, metavar="DURATION",
              help=N_("How far back: 2h, 30m, 1d (a number for a numeric cursor)."))
@click.option("--reason", required=True, help=N_("Why (kept in the audit journal)."))
@click.option("--operator", "who", default=None, metavar="NAME", help=N_("Who decides (default: the OS user)."))
@_WAIT
@click.pass_context
def watermark_rewind(ctx: click.Context, name: str, amount: str, reason: str, who: str | None,
                     wait: float | None) -> None:
    """Move the watermark back, so that the next run reads those rows again."""
    project = _load(ctx)
    from syncd import commands

    before, after = commands.rewind_watermark(project, mapping=name, by=amount, reason=reason, who=who,
                                              wait=_waiting(wait))
    _print_change(name, before, after)


@watermark_group.command("set")
@click.option("-m", "--mapping", "name", required=True, metavar="NAME", help=N_("The mapping."))
@click.option("--cursor", required=True, metavar="VALUE",
              help=N_("The new cursor value, written like the cursor's values (2026-11-01 00:00:00, 1042)."))
@click.option("--reason", required=True, help=N_("Why (kept in the audit journal)."))
@click.option("--by", "--operator", "who", default=None, metavar="NAME", help=N_("Who decides (default: the OS user)."))
@_WAIT
@click.pass_context
def watermark_set(ctx: click.Context, name: str, cursor: str, reason: str, who: str | None,
                  wait: float | None) -> None:
    """Set the watermark, so that the next run reads the rows after VALUE."""
    project = _load(ctx)
    from syncd import commands

    before, after = commands.set_watermark(project, mapping=name, cursor=cursor, reason=reason, who=who,
                                           wait=_waiting(wait))
    _print_change(name, before, after)


@cli.group("audit")
def audit_group() -> None:
    """The audit journal: verify it, print its head, list its records."""


def _head(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from syncd.audit import parse_head

    try:
        return parse_head(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@audit_group.command("verify")
@click.option("--from", "since", default=None, metavar="DATE", callback=_day,
              help=N_("Check the records from this day on (YYYY-MM-DD), and their link to the one before."))
@click.option("--head", default=None, metavar="SEQ:HASH", callback=_head,
              help=N_("A head kept from `syncd audit head`: the journal must still hold it."))
@click.pass_context
def audit_verify(ctx: click.Context, since: Any, head: Any) -> None:
    """Check both copies of the journal (the state store's table and the JSON lines) and that
    they agree. Exit 0 intact; 1 naming the first bad record."""
    project = _load(ctx)
    from syncd import commands

    check = commands.audit_verify(project, since=since, head=head)
    verdict = check.verdict
    for note in check.notes:
        out.print(_("note: {note}").format(note=note), markup=False)
    if verdict.intact:
        span = (f"records {verdict.first_seq}..{verdict.last_seq}" if verdict.checked else "no records")
        sealed = "HMAC-SHA256 (audit.key_file)" if verdict.keyed else "SHA-256"
        out.print(_("ok: the audit journal is intact: {span} ({checked} checked, {sealed}) in {store} and "
                    "{directory} agree")
                  .format(
                      span=span, checked=verdict.checked, sealed=sealed, store=check.store,
                      directory=check.directory), markup=False)
        if verdict.last_seq is not None:
            out.print(_("head: "
                        "{last_seq}:{last_hash}")
                      .format(last_seq=verdict.last_seq, last_hash=verdict.last_hash), markup=False)
        if head is not None:
            out.print(_("the head you kept ({value}) is still in the chain").format(value=head[0]), markup=False)
        ctx.exit(EXIT_OK)
    findings = verdict.findings
    total = len(findings) + check.more
    out.print(_marked("red", _("the audit journal is NOT intact")) + ": ", end="")
    out.print(_("{total} problem(s) in {store} and {directory}").format(
        total=total, store=check.store, directory=check.directory), markup=False)
    out.print(_("first bad record: {finding}").format(finding=findings[0]), markup=False)
    for finding in findings[1:20]:
        out.print(f"  {finding}", markup=False)
    if total > 20:
        out.print(_("  … and {value} more").format(value=total - 20), markup=False)
    ctx.exit(EXIT_FAILED)


@audit_group.command("head")
@click.pass_context
def audit_head(ctx: click.Context) -> None:
    """The newest record's SEQ:HASH, for an auditor to keep (then: syncd audit verify --head SEQ:HASH)."""
    project = _load(ctx)
    from syncd import commands

    found = commands.audit_head(project)
    if found is None:
        err.print(_("the audit journal is empty: nothing has been journaled yet"), markup=False)
        ctx.exit(EXIT_FAILED)
    out.print(_("{seq}:{hash}").format(seq=found['seq'], hash=found['hash']), markup=False)
    out.print(f"  {found['time']} {found['kind']}{' ' + found['mapping'] if found['mapping'] else ''}", markup=False)


#: the kinds of journal record (syncd.audit.KINDS; not imported here: syncd.audit is no light import
#: for --help, and tests/test_audit.py holds the two lists equal)
_AUDIT_KINDS = ("run.start", "run.end", "checkpoint", "reject.new", "reject.resolved", "reject.gone", "reject.dropped",
                "watermark.set", "watermark.reset", "file.changed", "audit.pruned", "state.rebuilt")


@audit_group.command("list")
@click.option("--from", "since", default=None, metavar="DATE", callback=_day, help=N_("From this day (YYYY-MM-DD)."))
@click.option("--to", "until", default=None, metavar="DATE", callback=_day, help=N_("To this day (YYYY-MM-DD)."))
@click.option("-m", "--mapping", "name", default=None, metavar="NAME", help=N_("Only this mapping."))
@click.option("--kind", "kinds", multiple=True, metavar="KIND", type=click.Choice(_AUDIT_KINDS),
              help=N_("Only this kind (repeatable): run.start, run.end, checkpoint, reject.new, reject.resolved, "
                      "reject.gone, reject.dropped, watermark.set, watermark.reset, file.changed, audit.pruned, "
                      "state.rebuilt."))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--limit", default=None, type=int, help=N_("At most this many records, oldest first."))
@click.pass_context
def audit_list(ctx: click.Context, since: Any, until: Any, name: str | None, kinds: tuple[str, ...], fmt: str,
               limit: int | None) -> None:
    """Records of the journal (from the state store), oldest first."""
    import json

    project = _load(ctx)
    from syncd import commands

    records = commands.audit_list(project, since=since, until=until, mapping=name, kinds=kinds, limit=limit)
    if fmt == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    rows = [{**r, "what": _what(r)} for r in records]
    out.print(_table(rows, ["seq", "time", "kind", "mapping", "run_id", "outcome", "user", "what"]))


def _what(record: dict[str, Any]) -> str:
    """One line saying what a journal record is about."""
    if "problem" in record:
        return _("unreadable: {problem}").format(problem=i18n.translate_stored(record["problem"]))
    detail = record.get("detail") or {}
    counts = record.get("counts") or {}
    kind = record.get("kind")
    reason = i18n.translate_stored(str(detail.get("reason")))
    if kind in ("reject.new", "reject.resolved", "reject.gone", "reject.dropped"):
        extra = _(" by {by}: {reason}").format(by=detail.get("by"), reason=reason) if kind == "reject.dropped" else (
            f": {reason}" if kind == "reject.new" else "")
        return _("key {key} (episode {episode})").format(key=detail.get("key"), episode=detail.get("episode")) + extra
    if kind in ("watermark.set", "watermark.reset"):
        return _("{action} by {by}: {reason}").format(action=_(detail.get("action", "reset")), by=detail.get("by"),
                                                     reason=reason)
    if kind == "file.changed":
        return f"{detail.get('change')} {detail.get('path')} ({detail.get('trigger')})"
    if kind == "checkpoint":
        return ", ".join(f"{_(k.replace('_', ' '))} {v}" for k, v in counts.items())
    if kind == "run.end":
        error = record.get("error")
        return _("read {read}, written {written}, rejected {rejected}").format(
            read=counts.get("rows_read"), written=_written(counts), rejected=counts.get("rows_rejected")) + (
            f"; {i18n.translate_stored(error)}" if error else "")
    if kind == "audit.pruned":
        return _("{records} record(s) before {before} (through {through_seq})").format(
            records=detail.get("records"), before=detail.get("before"), through_seq=detail.get("through_seq"))
    if kind == "state.rebuilt":
        return _("old store kept as {moved_to}").format(moved_to=detail.get("moved_to"))
    return json_text(detail) if detail else ""


def json_text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@cli.group("alerts")
def alerts_group() -> None:
    """The alert messages (alerts: in the config)."""


@alerts_group.command("test")
@click.pass_context
def alerts_test(ctx: click.Context) -> None:
    """Send a test message by every configured channel (smtp, webhook)."""
    project = _load(ctx)
    from syncd import commands

    failed = False
    for where, problem in commands.send_test_alert(project):
        if problem is None:
            out.print(_marked("green", _("sent")) + " ", end="")
            out.print(where, markup=False)
        else:
            failed = True
            out.print(_marked("red", _("not sent")) + " ", end="")
            out.print(f"{where}: {i18n.translate_stored(problem)}", markup=False)
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


@cli.group("state")
def state_group() -> None:
    """The state store itself: check it, rebuild it when it is damaged."""


@state_group.command("check")
@click.pass_context
def state_check(ctx: click.Context) -> None:
    """Exit 0 if the state store is sound, 1 naming what is wrong. Reads only."""
    project = _load(ctx)
    from syncd import commands

    result = commands.state_check(project)
    for note in result.notes:
        out.print(f"  {note}", markup=False)
    if result.healthy:
        out.print(_("ok: state store {where} is sound").format(where=result.where), markup=False)
        ctx.exit(EXIT_OK)
    out.print("[red]" + _("state store {where} is damaged").format(where=result.where) + "[/red]:")
    for problem in result.problems:
        out.print(f"  {problem}", markup=False)
    out.print(_("keep a copy of it; then: syncd state rebuild (moves it aside and carries over what can be read)"),
              markup=False)
    ctx.exit(EXIT_FAILED)


@state_group.command("rebuild")
@_WAIT
@click.pass_context
def state_rebuild(ctx: click.Context, wait: float | None) -> None:
    """Move the state store aside (kept), make a new one, carry over what can still be read."""
    project = _load(ctx)
    from syncd import commands

    done = commands.state_rebuild(project, wait=_waiting(wait))
    out.print(_("state store {store} rebuilt; "
                "the old file is kept as {moved_to}")
              .format(store=done['store'], moved_to=done['moved_to']), markup=False)
    carried = done["carried"]
    out.print(_("carried over: {watermarks} watermark(s), {runs} run record(s), {rejects} reject episode(s), "
                "{journal} journal record(s)")
              .format(
                  watermarks=carried['watermarks'], runs=carried['runs'], rejects=carried['rejects'],
                  journal=carried['journal']), markup=False)
    if carried["rejects_from_journal"]:
        out.print(_("{rejects_from_journal} reject episode(s) rebuilt from the audit journal (without their source "
                    "rows: a pending "
                    "one's row is read again when it is retried)")
                  .format(rejects_from_journal=carried['rejects_from_journal']), markup=False)
    for problem in done["problems"]:
        out.print(_("  could not read: {problem}").format(problem=problem), markup=False)
    if done["full_copy_next"]:
        out.print(_("no watermark (the next run copies them "
                    "in full): {full_copy_next}").format(full_copy_next=', '.join(done['full_copy_next'])),
                  markup=False)


@cli.command()
@click.option("-m", "--mapping", "names", multiple=True, metavar="NAME", help=N_("Only this mapping (repeatable)."))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help=N_("Write every difference to this CSV file (UTF-8 with BOM, opens in Excel)."))
@click.option("--limit", default=20, show_default=True, help=N_("Differences to show per mapping."))
@click.option("--repair", is_flag=True,
              help=N_("Compare by buckets hashed inside the target (cheap over a thin link), re-send the rows that "
                      "are missing or different, and treat rows only in the target as the mapping's on_source_delete "
                      "says. Refused while a syncd daemon runs: set reconcile.repair in the config instead."))
@click.option("--wait", "wait", type=float, is_flag=False, flag_value=-1.0, default=None, metavar="[SECONDS]",
              help=N_("With --repair: if another syncd holds the state store, wait for it (at most SECONDS)."))
@click.pass_context
def reconcile(ctx: click.Context, names: tuple[str, ...], csv_path: str | None, limit: int, repair: bool = False,
              wait: float | None = None) -> None:
    """Compare source and target row by row; name every missing or different row. Exit 1 if any.
    With --repair: compare by buckets and repair; exit 1 if a mapping failed or a repair was deferred."""
    import pandas as pd

    project = _load(ctx)
    from syncd import commands

    if repair:
        _print_repairs(commands.repair(project, names=names, wait=_waiting(wait)), csv_path, limit)
        return
    results = commands.reconcile(project, names=names)
    kinds = ["missing", "different", "waiting", "rejected", "dropped", "extra", "stale"]
    summary = [{"mapping": r.mapping, "source": r.source_rows, "target": r.target_rows,
                **{k: r.count(k) for k in kinds}, "equal": "yes" if r.equal else "NO"} for r in results]
    out.print(_table(summary, ["mapping", "source", "target", *kinds, "equal"], title=_("reconciliation")))
    for r in results:
        shown = r.differences[r.differences["kind"].isin(["missing", "different"])].head(limit)
        if len(shown):
            out.print(_table(shown.to_dict("records"), ["kind", "key", "column", "expected", "actual", "reason"],
                             title=_("{mapping}: first differences").format(mapping=r.mapping)))
    if csv_path:
        frames = [r.differences for r in results if len(r.differences)]
        table = pd.concat(frames) if frames else pd.DataFrame(columns=results[0].differences.columns if results else [])
        table.to_csv(csv_path, index=False, encoding="utf-8-sig")
        out.print(_("differences written to {csv_path}").format(csv_path=csv_path))
    ctx.exit(EXIT_OK if all(r.equal for r in results) else EXIT_FAILED)



def _print_repairs(results: list[Any], csv_path: str | None, limit: int) -> None:
    """The table of ``reconcile --repair``, its first differences, and the exit code."""
    import csv as csv_module
    import dataclasses

    from syncd.repair import KINDS, MAX_FINDINGS

    shown_kinds = [k for k in KINDS if any(r.count(k) for r in results)]
    summary = [{"mapping": r.mapping, "status": r.status, "source": r.source_rows, "target": r.target_rows,
                "buckets": f"{r.differing}/{r.buckets}", **{k: r.count(k) for k in shown_kinds},
                "re-sent": r.resent, "marked deleted": r.marked, "deleted": r.deleted} for r in results]
    out.print(_table(summary, ["mapping", "status", "source", "target", "buckets", *shown_kinds, "re-sent",
                               "marked deleted", "deleted"], title=_("reconcile --repair")))
    for r in results:
        if r.error:
            err.print(f"[red]{r.mapping}[/red]: ", end="")
            err.print(i18n.translate_stored(r.error), markup=False)
        for warning in r.warnings:
            err.print(f"[yellow]{r.mapping}[/yellow]: ", end="")
            err.print(i18n.translate_stored(warning), markup=False)
        rows = [dataclasses.asdict(f) for f in r.findings if f.kind not in ("rejected", "dropped")][:limit]
        if rows:
            out.print(_table(rows, ["kind", "key", "column", "expected", "actual", "reason"],
                             title=_("{mapping}: first differences").format(mapping=r.mapping)))
    if csv_path:
        with open(csv_path, "w", encoding="utf-8-sig", newline="") as stream:
            writer = csv_module.writer(stream)
            writer.writerow(["mapping", "kind", "key", "column", "expected", "actual", "reason"])
            for r in results:
                for f in r.findings:
                    writer.writerow([r.mapping, f.kind, f.key, f.column, f.expected, f.actual, f.reason])
        out.print(_("differences written to {csv_path} (at most "
                    "{max_findings} per mapping; all are counted above)")
                  .format(csv_path=csv_path, max_findings=MAX_FINDINGS))
    failed = any(r.status not in ("ok",) for r in results)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@cli.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=N_("Write the reference intermediate tables' DDL into this folder, one file per dialect."))
@click.option("--dialect", "dialect_names", multiple=True, metavar="NAME",
              help=N_("With --out: only this dialect (sqlite, mysql, postgresql, oracle; dm with the dm extra); "
                      "repeatable."))
@click.option("--check", "check_only", is_flag=True, help=N_("Write nothing; exit 1 if a generated file is stale."))
def ddl(out_dir: Path | None, dialect_names: tuple[str, ...], check_only: bool) -> None:
    """The DDL of the reference intermediate tables: --out DIR writes it for a DBA; without --out,
    regenerate sql/reference/, sql/county/ and docs/intermediate-tables.md in the source tree."""
    from syncd import ddl as ddl_module

    if out_dir is not None:
        try:
            written = ddl_module.write_reference(out_dir, dialect_names or None)
        except ValueError as exc:
            err.print(_marked("red", _("error:")) + " ", end="")
            err.print(str(exc), markup=False)
            sys.exit(EXIT_CONFIG)
        for path in written:
            out.print(str(path), markup=False)
        return
    root = ddl_module.project_root()
    try:
        files = ddl_module.rendered_files(root)
    except ValueError as exc:
        err.print(_marked("red", _("error:")) + " ", end="")
        err.print(str(exc), markup=False)
        sys.exit(EXIT_CONFIG)
    stale = [p for p, text in files.items()
             if not (root / p).exists() or (root / p).read_text(encoding="utf-8") != text]
    if check_only:
        for path in stale:
            out.print(_("stale: {path}").format(path=path.as_posix()))
        sys.exit(EXIT_FAILED if stale else EXIT_OK)
    for path in ddl_module.write_all(root):
        out.print(path.relative_to(root).as_posix())


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help=N_("Overwrite files that exist."))
def init(directory: Path, force: bool) -> None:
    """Start a folder: a commented config.yaml and the reference mappings with their code lists."""
    from syncd import starter

    written = starter.init_folder(directory, force=force)
    out.print(_("wrote {count} file(s) into "
                "{directory}:").format(count=len(written), directory=directory), markup=False)
    out.print(f"  {directory / 'config.yaml'}", markup=False)
    out.print(_("  {folder}/ ({count} mapping and code list files)").format(
        folder=directory / "mappings", count=len(written) - 1), markup=False)
    config = directory / "config.yaml"
    out.print(_("next steps:"))
    for step in (_("1. edit {config}: source and target url, their password_file, vars.AREA_CODE").format(
                     config=config),
                 _("2. the target tables, if the province has not made them: syncd ddl --out {folder} "
                   "--dialect oracle (or mysql, postgresql)").format(folder=directory / "ddl"),
                 f"3. syncd -c {config} check --connect",
                 _("4. syncd -c {config} run --once --dry-run, then run --once").format(config=config),
                 _("5. run it as a service: see docs/operations.md (systemd/syncd.service)")):
        out.print(f"  {step}", markup=False)


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="demo", show_default=True,
              help=N_("Where to create county.db, fep.db, state.db and config.yaml."))
@click.option("--rows", default=200, show_default=True, help=N_("Size of the generated county data."))
@click.option("--seed", default=1, show_default=True, help=N_("Seed of the generated data."))
@click.pass_context
def demo(ctx: click.Context, directory: str, rows: int, seed: int) -> None:
    """Create a demo county database and intermediate database (SQLite), sync, change, sync again."""
    from syncd import demo as demo_module
    from syncd import logs

    logs.setup(level=ctx.obj["level"] or "WARNING")
    result = demo_module.run_demo(Path(directory), rows=rows, seed=seed)
    for title, report in ((_("first run (full copy)"), result.first), (_("second run (incremental)"), result.second)):
        out.print(f"[bold]{title}[/bold]")
        _print_report(report, dry_run=False)
    out.print(_("changed in the county database between the runs: {changes}").format(changes=result.changes))
    out.print(_("demo files in {directory}; try: syncd -c {config} status").format(
        directory=result.directory, config=result.directory / "config.yaml"))
    ctx.exit(EXIT_FAILED if result.first.failed or result.second.failed else EXIT_OK)


def _report_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--out FILE.html or FILE.xlsx; another suffix is a usage error (exit 2) naming the supported ones."""
    if value is None:
        return None
    from syncd.report import format_of

    try:
        format_of(Path(value))
    except ValueError as exc:
        raise click.BadParameter(f"{value}: {exc}") from None
    return value


@cli.command()
@click.option("--from", "since", required=True, metavar="DATE", callback=_day,
              help=N_("The first day of the report (YYYY-MM-DD, in defaults.timezone)."))
@click.option("--to", "until", required=True, metavar="DATE", callback=_day,
              help=N_("The last day of the report (YYYY-MM-DD), included."))
@click.option("--out", "out_file", required=True, metavar="FILE", callback=_report_file,
              help=N_("FILE.html (one self-contained page that prints on A4) or FILE.xlsx (a sheet per table, with "
                      "charts)."))
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
              help=N_("Labels in Chinese or English (default: the language of the other messages, see --lang "
                      "of syncd)."))
@click.pass_context
def report(ctx: click.Context, since: Any, until: Any, out_file: str, lang: str | None) -> None:
    """A report for supervisors: per day and mapping the rows sent, rejects by reason, failed runs,
    the largest lag and reconciliations, with charts."""
    if until < since:
        raise click.BadParameter(_("{to} is before --from {since}; give the earlier day first").format(
            to=until.isoformat(), since=since.isoformat()), param_hint="'--to'")
    project = _load(ctx)
    from syncd import commands

    built = commands.report(project, since, until, out_file, lang)
    if built.empty:
        out.print(_("report written to {out_file}: "
                    "there were no runs from {since} to {until}")
                  .format(out_file=out_file, since=since, until=until), markup=False)
        return
    out.print(_("report written to {out_file}: {runs} run(s) from {since} to {until}, {count} failed, {sent:,} "
                "row(s) sent, {new_rejects:,} new reject(s)")
              .format(
                  out_file=out_file, runs=built.runs, since=since, until=until, count=len(built.failures),
                  sent=built.sent, new_rejects=built.new_rejects),
              markup=False)


def _shown(value: Any) -> str:
    """A value in a preview: text as it is, other values by their Python spelling, long ones cut."""
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:59] + "…"


@cli.command()
@click.option("-m", "--mapping", "name", required=True, metavar="NAME", help=N_("The mapping."))
@click.option("--limit", default=20, show_default=True, help=N_("How many source rows (the newest by cursor)."))
@click.option("--where", default=None, metavar="SQL", help=N_("Only source rows that meet this condition (SQL of the "
                                                              "source database, over the source's columns)."))
@click.pass_context
def preview(ctx: click.Context, name: str, limit: int, where: str | None) -> None:
    """Source rows beside the rows the mapping makes of them, with what a run would do with each
    (insert, update, unchanged, reject and why), read against the live target. Writes nothing."""
    project = _load(ctx)
    from syncd import commands

    shown = commands.preview(project, mapping=name, limit=limit, where=where)
    verdicts = [{"key": ", ".join(map(str, r.key)), "would": r.verdict, "why": r.reason or ""} for r in shown.rows]
    out.print(_table(verdicts, ["key", "would", "why"], title=_("{name}: "
                                                                "{count} source row(s), newest first")
                                                              .format(name=name, count=len(shown.rows))))
    for row in shown.rows:
        lines = []
        for column in shown.columns:
            origin = shown.origins[column]
            read = row.source.get(origin, row.source.get(f"_expr_{column}")) if row.source else None
            lines.append({"column": column, "from": origin,
                          "source value": _shown(read) if origin in row.source or f"_expr_{column}" in row.source
                          else "", "mapped": _shown(row.mapped[column]) if row.mapped is not None else "",
                          "in the target now": _shown(row.current.get(column)) if row.current is not None else "",
                          "": "changes" if column in row.changed else ""})
        title = f"key {', '.join(map(str, row.key))}: would {row.verdict}" + (f" ({row.reason})" if row.reason else "")
        out.print(_table(lines, ["column", "from", "source value", "mapped", "in the target now", ""], title=title))
    out.print(_("read with: {statement}").format(statement=shown.statement), markup=False)


@cli.command("plan")
@click.option("-m", "--mapping", "name", required=True, metavar="NAME", help=N_("The mapping."))
@click.option("--full", is_flag=True, help=N_("The plan of a full copy (run --once --full)."))
@click.pass_context
def plan_command(ctx: click.Context, name: str, full: bool) -> None:
    """The SQL a run of the mapping executes now: its window's query with the bounds, the upsert,
    the parent checks; and the order of the mappings with their dependencies. Reads only."""
    project = _load(ctx)
    from syncd import commands

    found = commands.plan_mapping(project, mapping=name, full=full)
    out.print(_("order of the mappings (each after what it depends on):"), markup=False)
    for i, (mapping, depends) in enumerate(found.order, 1):
        mark = "  <--" if mapping == name else ""
        after = f" (after {', '.join(depends)})" if depends else ""
        out.print(f"  {i}. {mapping}{after}{mark}", markup=False)
    sections = [(_("watermark"), found.watermark or _("none: the next run copies every row")),
                (_("next window"), found.window), (_("definition hash"), found.definition_hash),
                (_("1. pending rejects, re-read by key"), found.retry),
                (_("2. the window"), found.read)]
    if found.nulls:
        sections.append((_("3. rows with a NULL cursor (null_cursor: include)"), found.nulls))
    sections.append((_("each batch is written with"), found.upsert))
    sections += [(_("the bulk path"), text) for text in found.staging]
    sections += [(_("parent check"), text) for text in found.parents]
    for title, text in sections:
        out.print("")
        out.print(f"-- {title}:", markup=False)
        out.print(text, markup=False)


@cli.command()
@click.option("--source-table", required=True, metavar="TABLE", help=N_("The county table to read."))
@click.option("--target-table", required=True, metavar="TABLE", help=N_("The intermediate table to fill."))
@click.option("--source-schema", default=None, metavar="SCHEMA", help=N_("The source table's schema, if not the "
                                                                         "default."))
@click.option("--target-schema", default=None, metavar="SCHEMA",
              help=N_("The target table's schema (default: target.schema)."))
@click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False),
              help=N_("Write the mapping to this file (e.g. mappings/NAME.yaml) instead of printing it."))
@click.option("--force", is_flag=True, help=N_("With --out: overwrite the file."))
@click.pass_context
def scaffold(ctx: click.Context, source_table: str, target_table: str, source_schema: str | None,
             target_schema: str | None, out_file: str | None, force: bool) -> None:
    """A mapping skeleton from the two live tables: columns matched by name, key and cursor guessed,
    code lists proposed, a TODO for each NOT NULL column nothing fills."""
    from syncd import commands

    text = commands.scaffold(ctx.obj["config"], source_table=source_table, target_table=target_table,
                             source_schema=source_schema, target_schema=target_schema, out=out_file, force=force)
    if out_file is None:
        click.echo(text, nl=False)
        return
    todos = text.count("TODO")
    err.print(_("written to {out_file}")
              .format(out_file=out_file) + (_("; {todos} TODO(s) to do before "
                                            "`syncd check --connect`").format(todos=todos) if todos else ""),
              markup=False)


def _lang_argument(args: Sequence[str]) -> str | None:
    """The value of ``--lang`` before click parses the line (its help and usage errors need it)."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
    return None


#: ``--lang`` as :func:`main` found it (also after a verb, as in ``syncd report --lang en``).
_command_line_language: dict[str, str | None] = {"lang": None}

#: The English help of each command and option, kept when it is replaced by a translation.
_ENGLISH_HELP: dict[int, dict[str, str | None]] = {}


def _localize(command: click.Command) -> None:
    """The help of ``command`` and everything below it in the current language."""
    for holder, attributes in ((command, ("help", "short_help")),
                               *((param, ("help",)) for param in command.params)):
        english = _ENGLISH_HELP.setdefault(id(holder), {a: getattr(holder, a, None) for a in attributes})
        for attribute, text in english.items():
            setattr(holder, attribute, _(text) if text else text)
    for sub in getattr(command, "commands", {}).values():
        _localize(sub)


def _route_click_messages() -> None:
    """click's own words (Usage:, Options:, its usage errors) through syncd's catalog."""
    import importlib

    def plural(singular: str, plural_: str, n: int) -> str:
        translations = i18n.catalog(i18n.current())
        return translations.ngettext(singular, plural_, n)

    for name in ("core", "decorators", "exceptions", "formatting", "parser", "types", "termui", "utils",
                 "shell_completion"):
        try:
            module = importlib.import_module(f"click.{name}")
        except ImportError:  # pragma: no cover - a click without that module
            continue
        if hasattr(module, "_"):
            module._ = _  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = plural  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> None:
    # The catalog and the translated help are set-up too: the cyclic collector is off for them
    # (see _load), and on again before the command runs.
    gc.disable()
    try:
        args = list(argv) if argv is not None else sys.argv[1:]
        _command_line_language["lang"] = i18n.language_of(_lang_argument(args))
        i18n.use(i18n.choose(_command_line_language["lang"]))
        _route_click_messages()
        _localize(cli)
    finally:
        gc.enable()
    cli.main(args=args, prog_name="syncd")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
