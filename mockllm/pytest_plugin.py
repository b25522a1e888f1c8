"""The pytest plugin: a fixture ``mockllm`` that runs a real server for one test.

    test thread                              server thread (its own event loop)
    ───────────                              ──────────────────────────────────
    fixture setup ── server.start(...) ────▶ listening on 127.0.0.1:<free port>
    SDK client ───── /v1/chat/completions ─▶ replays the scenario
    add_scenario / journal / verdicts / reset ── HTTP ▶ /_mockllm/ control routes
    failed test: report section ◀── journal
    fixture teardown ── close() ───────────▶ runner.cleanup(); the loop stops; join

The server lives in a thread of its own, so the fixture is the same for plain
synchronous tests and for async tests running in pytest-asyncio's loop: the
test's loop never has to run the server, and a blocking SDK call cannot starve
it. The helpers talk to the control routes over HTTP like any other client,
with the standard library, so they are synchronous and safe from either kind
of test.

Configuration, later wins: the ini options ``mockllm_scenarios``,
``mockllm_default`` and ``mockllm_speed``; then ``@pytest.mark.mockllm(...)``;
then an indirect parameter of the fixture (a dict of the marker's keywords).

This module is a ``pytest11`` entry point, so pytest imports it in every
session of every project with mockllm installed: its top-level imports are the
standard library and pytest only, and the server is imported when a test first
asks for the fixture.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Coroutine, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pytest

if TYPE_CHECKING:
    from pluggy import Result

    from .library import Library
    from .server import RunningServer

__all__ = ["MockLLM"]

T = TypeVar("T")

HOST = "127.0.0.1"  # loopback only: the control routes are open there and nowhere else
START_TIMEOUT = 10.0  # seconds for the server to start listening
STOP_TIMEOUT = 10.0  # seconds for it to stop; open streams get Settings.grace (1 s) of them
CONTROL_TIMEOUT = 10.0  # seconds for one control call
MARKER_KEYWORDS = ("scenarios", "speed", "seed", "default", "chaos")
SECTION = "mockllm journal"


# -- configuration ---------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "mockllm_scenarios",
        "mockllm fixture: scenario files or folders, one a line, relative to the ini file; "
        "'builtin' names the built-in library (default: builtin)",
        type="linelist",
        default=[],
    )
    parser.addini(
        "mockllm_default",
        "mockllm fixture: the scenario that answers unknown model names "
        "(default: 'hello' when the built-in library is loaded, else none)",
        default="",
    )
    parser.addini("mockllm_speed", "mockllm fixture: divide every delay by this (default: 1)", default="1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockllm(scenarios=[...], speed=1, seed=0, default=None, chaos=''): configure the mockllm "
        "fixture's server for this test; scenario paths are relative to the test file",
    )


@dataclass(frozen=True)
class Options:
    """What a test's server is started with."""

    paths: tuple[str, ...] = ()  # absolute paths, or 'builtin'; empty: the built-in library
    speed: float = 1.0
    seed: int = 0
    default: str | None = None
    chaos: str = ""


def options_for(request: pytest.FixtureRequest) -> Options:
    """The ini options, overridden by the closest ``mockllm`` marker, then by an
    indirect fixture parameter."""
    config = request.config
    ini_dir = config.inipath.parent if config.inipath is not None else config.rootpath
    options = Options(
        paths=resolve(config.getini("mockllm_scenarios"), ini_dir),
        speed=positive(config.getini("mockllm_speed"), "ini option mockllm_speed"),
        default=config.getini("mockllm_default") or None,
    )
    marker = request.node.get_closest_marker("mockllm")
    if marker is not None:
        if marker.args:
            fail(f"@pytest.mark.mockllm takes keywords only ({', '.join(MARKER_KEYWORDS)}), got {marker.args!r}")
        options = override(options, marker.kwargs, request.path.parent, "@pytest.mark.mockllm")
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, Mapping):
            fail(f"an indirect parameter of the mockllm fixture must be a dict of keywords, got {param!r}")
        options = override(options, param, request.path.parent, "the mockllm fixture parameter")
    return options


def override(options: Options, given: Mapping[str, Any], base: Path, where: str) -> Options:
    """``options`` with ``given``'s keywords applied; a misspelt keyword is an
    error, never silently ignored."""
    for key in given:
        if key not in MARKER_KEYWORDS:
            close = difflib.get_close_matches(str(key), MARKER_KEYWORDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(MARKER_KEYWORDS)})"
            fail(f"{where}: unknown keyword {key!r}{hint}")
    changes: dict[str, Any] = {}
    if "scenarios" in given:
        paths = given["scenarios"]
        changes["paths"] = resolve([paths] if isinstance(paths, (str, Path)) else list(paths), base)
        changes["default"] = None  # the ini's default was chosen for the ini's scenarios
    if "speed" in given:
        changes["speed"] = positive(given["speed"], f"{where}: speed")
    if "seed" in given:
        if not isinstance(given["seed"], int) or isinstance(given["seed"], bool):
            fail(f"{where}: seed must be a whole number, got {given['seed']!r}")
        changes["seed"] = given["seed"]
    if "default" in given:
        changes["default"] = given["default"]
    if "chaos" in given:
        changes["chaos"] = given["chaos"] or ""
    return replace(options, **changes)


def resolve(paths: Sequence[str | Path], base: Path) -> tuple[str, ...]:
    from .library import BUILTIN

    return tuple(str(p) if str(p) == BUILTIN else str(base / Path(p).expanduser()) for p in paths)


def positive(value: object, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = 0.0
    if not number > 0:
        fail(f"{what} must be a positive number, got {value!r}")
    return number


def fail(message: str) -> NoReturn:
    pytest.fail(f"mockllm: {message}", pytrace=False)


# -- the library, loaded once per session while its files are unchanged ----

# A file's path, mtime (ns) and size: a library is reused while none has changed.
_Signature = tuple[tuple[str, int, int], ...]
_LIBRARIES: pytest.StashKey[dict[tuple[tuple[str, ...], str | None, _Signature | None], Library]] = pytest.StashKey()


def library_for(config: pytest.Config, options: Options) -> Library:
    """Parsing the built-in library costs tens of milliseconds; a ``Library``
    is immutable (a running server copies it before adding to it), so servers
    share one as long as no file under its paths has changed."""
    from .errors import ScenarioErrors
    from .library import load_library

    cache = config.stash.setdefault(_LIBRARIES, {})
    key = (options.paths, options.default, _signature(options.paths))
    if key[2] is not None and key in cache:
        return cache[key]
    try:
        library = load_library(options.paths, options.default)
    except ScenarioErrors as exc:
        fail(f"cannot load the scenarios:\n{exc}")
    if key[2] is not None:
        cache[key] = library
    return library


def _signature(paths: Sequence[str]) -> _Signature | None:
    """Every scenario file under ``paths`` with its size and mtime; None when
    a path cannot be read (loading it will say why)."""
    from .errors import ScenarioErrors
    from .library import BUILTIN, builtin_dir, scenario_files

    files: list[tuple[str, int, int]] = []
    try:
        for path in paths or [BUILTIN]:
            for file in scenario_files(builtin_dir() if path == BUILTIN else Path(path)):
                stat = file.stat()
                files.append((str(file), stat.st_mtime_ns, stat.st_size))
    except (OSError, ScenarioErrors):
        return None
    return tuple(files)


# -- the server thread -----------------------------------------------------

class ServerThread:
    """One server on its own event loop in a daemon thread."""

    def __init__(self, options: Options, library: Library) -> None:
        from . import server
        from .faults import FAULTS
        from .faults.chaos import Chaos, parse_spec
        from .state import Settings

        try:
            chaos = parse_spec(options.chaos, FAULTS) if options.chaos else Chaos()
        except ValueError as exc:
            fail(f"chaos: {exc}")
        settings = Settings(
            library, speed=options.speed, seed=options.seed, chaos=chaos,
            paths=options.paths, default=options.default,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="mockllm-server", daemon=True)
        self._thread.start()
        try:
            self.running: RunningServer = self._call(server.start(settings, HOST, 0), START_TIMEOUT)
        except BaseException:
            self._halt()
            raise

    def stop(self) -> None:
        try:
            self._call(self.running.close(), STOP_TIMEOUT)
        finally:
            self._halt()

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _run(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(end_leftovers())
            self._loop.close()

    def _halt(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT)


async def end_leftovers() -> None:
    """Whatever outlived the server's ``close`` (nothing, normally) is cancelled
    and awaited, so no socket or task is left for the garbage collector to warn about."""
    loop = asyncio.get_running_loop()
    for _ in range(10):
        # A connection accepted just before the stop starts its handler's task
        # only now, from a callback already queued: a round each time lets such
        # late tasks appear. One is cancelled only once it has begun, since a
        # coroutine cancelled before its first step never runs its ``finally``.
        await asyncio.sleep(0)
        leftovers = asyncio.all_tasks() - {asyncio.current_task()}
        if not leftovers:
            break
        if any(map(_not_begun, leftovers)):
            continue
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()


def _not_begun(task: asyncio.Task[Any]) -> bool:
    coroutine = task.get_coro()
    return inspect.iscoroutine(coroutine) and inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED


# -- what a test holds -----------------------------------------------------

class MockLLM:
    """A running mockllm server, for one test.

    ``base_url`` goes to an SDK client (``OpenAI(base_url=mockllm.base_url)``);
    the methods shape the server and ask what clients did, through the
    ``/_mockllm/`` control routes.
    """

    def __init__(self, url: str) -> None:
        self.url = url  # http://127.0.0.1:<port>
        # No proxy, whatever the environment says: the server is on loopback.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI SDK client: ``url + "/v1"``."""
        return self.url + "/v1"

    def __repr__(self) -> str:
        return f"<MockLLM {self.url}>"

    def add_scenario(self, scenario: Mapping[str, Any] | str) -> str:
        """Add or replace a scenario (a dict, or YAML text) and return its name.

        It must have a ``name``; the model name that selects it. A scenario
        the server refuses raises ``ScenarioErrors`` listing every problem with
        its line, and changes nothing.
        """
        __tracebackhide__ = True
        from .errors import ScenarioError, ScenarioErrors

        text = scenario if isinstance(scenario, str) else json.dumps(scenario)
        status, body = self._call("POST", "/scenarios", text.encode("utf-8"), ok=(200, 201, 422))
        if status == 422:
            where = "<scenario>"
            raise ScenarioErrors(ScenarioError(where, p["line"], p["message"]) for p in body["problems"])
        name: str = body["name"]
        return name

    def remove_scenario(self, name: str) -> None:
        """Remove a scenario, whether from the files or added; ``MockllmError``
        if there is none of that name."""
        __tracebackhide__ = True
        self._call("DELETE", "/scenarios/" + urllib.parse.quote(name, safe=""))

    def scenarios(self) -> list[dict[str, Any]]:
        """Name, description, source and ``default`` of every scenario served."""
        scenarios: list[dict[str, Any]] = self._call("GET", "/scenarios")[1]["scenarios"]
        return scenarios

    def journal(
        self, *, scenario: str | None = None, session: str | None = None, outcome: object = None
    ) -> list[dict[str, Any]]:
        """The exchanges so far, oldest first, as dicts (see ``mockllm.journal.Entry``),
        optionally only those of a scenario, a session or an outcome (a string
        such as ``"dropped"`` or an ``Outcome``)."""
        wanted = {"scenario": scenario, "session": session, "outcome": getattr(outcome, "value", outcome)}
        query = urllib.parse.urlencode({k: v for k, v in wanted.items() if v is not None})
        entries: list[dict[str, Any]] = self._call("GET", "/journal" + (f"?{query}" if query else ""))[1]["entries"]
        return entries

    def verdicts(
        self, session: str | None = None, *, max_retries: int | None = None, stall_deadline: float | None = None
    ) -> dict[str, dict[str, Any]]:
        """How the client of ``session`` behaved: ``{name: {"result": "pass" | "fail" | "n/a",
        "evidence": [...]}}`` (see ``mockllm.verdicts``). With no ``session``, the
        journal's only one; ``max_retries`` and ``stall_deadline`` (seconds) set
        the limits of ``bounded_retries`` and ``aborted_stall``."""
        __tracebackhide__ = True
        wanted = {"session": session or self._only_session(), "max_retries": max_retries,
                  "stall_deadline": stall_deadline}
        query = urllib.parse.urlencode({k: v for k, v in wanted.items() if v is not None})
        verdicts: dict[str, dict[str, Any]] = self._call("GET", f"/verdicts?{query}")[1]["verdicts"]
        return verdicts

    def assert_client(
        self, session: str | None = None, *, max_retries: int | None = None, stall_deadline: float | None = None,
        **expected: bool,
    ) -> None:
        """Assert verdicts: ``assert_client(honoured_retry_after=True, aborted_stall=True)``.
        True asks for ``pass``, False for ``fail``; the message of a failed
        assertion prints every verdict asked about with its evidence."""
        __tracebackhide__ = True
        from .verdicts import NAMES

        unknown = sorted(set(expected) - set(NAMES))
        if unknown:
            fail(f"assert_client: no verdict named {', '.join(unknown)}; the verdicts are {', '.join(NAMES)}")
        judged = self.verdicts(session, max_retries=max_retries, stall_deadline=stall_deadline)
        wrong = {name for name, want in expected.items() if judged[name]["result"] != ("pass" if want else "fail")}
        if wrong:
            shown = "\n".join(format_verdict(name, judged[name], expected[name], name in wrong) for name in expected)
            raise AssertionError(f"the client did not behave as asserted ({len(wrong)} of {len(expected)}):\n{shown}")

    def _only_session(self) -> str:
        __tracebackhide__ = True
        sessions: list[str] = sorted({e["session"] for e in self.journal() if e["session"] is not None})
        if len(sessions) != 1:
            fail(f"name the session to judge: the journal has {len(sessions)} ({', '.join(sessions) or 'none'})")
        return sessions[0]

    def reset(self) -> None:
        """Clear the journal and every session's attempt counter."""
        self._call("POST", "/reset")

    def format_journal(self) -> str:
        """The whole journal, one exchange a line: what a failed test prints."""
        entries = self.journal()
        if not entries:
            return f"no requests reached {self.url}"
        return "\n".join(format_entry(entry) for entry in entries)

    def _call(
        self, method: str, path: str, data: bytes | None = None, ok: tuple[int, ...] = (200, 201, 204)
    ) -> tuple[int, Any]:
        __tracebackhide__ = True  # a failing test's traceback ends at the helper it called
        from .errors import MockllmError

        request = urllib.request.Request(self.url + "/_mockllm" + path, data=data, method=method)
        try:
            with self._opener.open(request, timeout=CONTROL_TIMEOUT) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                status, raw = error.code, error.read()
        if status not in ok:
            raise MockllmError(f"{method} /_mockllm{path}: HTTP {status}: {_message(raw)}")
        return status, json.loads(raw) if raw else None


def _message(raw: bytes) -> str:
    try:
        message: str = json.loads(raw)["error"]["message"]
        return message
    except (ValueError, KeyError, TypeError):
        return raw.decode("utf-8", "replace")


def format_entry(entry: Mapping[str, Any]) -> str:
    """``#1 POST /v1/chat/completions 200 scenario=hello session=127.0.0.1 attempt=1 ...``"""
    line = (
        f"#{entry['id']} {entry['method']} {entry['route']} {entry['status'] or '-'}"
        f" scenario={entry['scenario'] or '-'} session={entry['session'] or '-'}"
        f" attempt={entry['attempt'] or '-'} outcome={entry['outcome']} tokens={entry['tokens']}"
        f" faults={'; '.join(entry['faults']) or '-'}"
    )
    if entry.get("client_retry_count") is not None:
        line += f" client_retry_count={entry['client_retry_count']}"
    if entry.get("error"):
        line += f" error={entry['error']!r}"
    return line


def format_verdict(name: str, verdict: Mapping[str, Any], wanted: bool, wrong: bool) -> str:
    """``✗ backed_off: fail, expected pass`` and one line of evidence each below it."""
    want = "pass" if wanted else "fail"
    head = f"{'✗' if wrong else '✓'} {name}: {verdict['result']}" + (f", expected {want}" if wrong else "")
    notes = [f"    {e['result']}: {e['note']}" for e in verdict["evidence"]] or ["    (nothing in the session to judge)"]
    return "\n".join([head, *notes])


# -- the fixture and the failure report ------------------------------------

_SERVER = pytest.StashKey[MockLLM]()


@pytest.fixture
def mockllm(request: pytest.FixtureRequest) -> Iterator[MockLLM]:
    """A mockllm server on a free loopback port for this test, stopped after it.

    Configure it with the ini options ``mockllm_scenarios``, ``mockllm_default``
    and ``mockllm_speed``, and per test with ``@pytest.mark.mockllm(scenarios=...,
    speed=..., seed=..., default=..., chaos=...)``.
    """
    options = options_for(request)
    thread = ServerThread(options, library_for(request.config, options))
    instance = MockLLM(thread.running.url)
    request.node.stash[_SERVER] = instance
    try:
        yield instance
    finally:
        del request.node.stash[_SERVER]
        thread.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    """A failed test that used the fixture gets a "mockllm journal" section
    with every exchange, read before teardown stops the server."""
    outcome = yield
    report = outcome.get_result()
    instance = item.stash.get(_SERVER, None)
    if instance is None or not report.failed or call.when == "teardown":
        return
    try:
        text = instance.format_journal()
    except Exception as exc:  # the report must not hide the test's own failure
        text = f"(the journal could not be read: {exc!r})"
    report.sections.append((SECTION, text))
