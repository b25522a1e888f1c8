"""The command line: a thin adapter from arguments to library calls and exit codes."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from . import __version__, config, pipeline, quota, recording, schema, server, streams, workers
from .dialects import DIALECTS
from .errors import ScenarioError, ScenarioErrors
from .faults import FAULTS
from .faults.chaos import Chaos, parse_spec
from .journal import DEFAULT_SIZE
from .library import Library, load_library, load_scenarios
from .patterns import Pattern, PatternError, compile_pattern
from .scenario import Scenario, ScenarioWarning
from .script import Script
from .state import DEFAULT_MAX_BODY, Settings
from .upstream import Upstream


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except config.ConfigError as exc:  # exit 2, as argparse does for a bad flag
        for message in exc.problems:
            print(f"mockllm: {message}", file=sys.stderr)
        return 2
    run: Callable[[argparse.Namespace], int] = args.run  # the subcommand's function (set_defaults)
    try:
        return run(args)
    except ScenarioErrors as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except BrokenPipeError:  # ``mockllm list | head``: the reader has had enough
        # Python would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, then for ``serve``, ``proxy`` and ``record`` what it
    leaves out from ``MOCKLLM_*`` variables, then the config file, then the defaults."""
    args = _parser(given_only=True).parse_args(argv)
    options: tuple[config.Option, ...] = getattr(args, "options", ())
    args.config_file = None
    if options:
        found = config.find_file(Path.cwd(), args.config, os.environ)
        config.resolve(args, options, _FILE_KEYS, os.environ, found)
        args.config_file = found and found.name
    return args


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got {text!r}")
    return value


def _positive_whole(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _mount(text: str) -> tuple[str, str]:
    path, sep, format_ = text.partition("=")
    if not sep or not path.startswith("/") or format_ not in DIALECTS:
        raise argparse.ArgumentTypeError(f"expected PATH=FORMAT with FORMAT one of {', '.join(DIALECTS)}, got {text!r}")
    try:
        streams.check_mounts([(path, format_)])
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None
    return path, format_


class _Mounts(argparse.Action):
    """``--mount``, repeatable: each path at most once (a path serves one format)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
        values: str | Sequence[Any] | None, option_string: str | None = None,
    ) -> None:
        assert isinstance(values, tuple)  # the (path, format) pair ``_mount`` made
        mounts = [*(getattr(namespace, self.dest, None) or []), values]
        try:
            streams.check_mounts(mounts)
        except ValueError as problem:
            raise argparse.ArgumentError(self, str(problem)) from None
        setattr(namespace, self.dest, mounts)


def _chaos(text: str) -> Chaos:
    try:
        return parse_spec(text, FAULTS)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _quota(text: str) -> quota.Quota:
    try:
        return quota.parse_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# The options a flag, a MOCKLLM_* variable or the config file may set (see config.py).
Option = config.Option
_LOOPS = ("auto", "asyncio", "uvloop")
SCENARIOS = Option("--scenarios", [], "scenario file or directory, repeatable; 'builtin' names the built-in "
                   "library (default: builtin)", metavar="PATH", repeat=True, separator=os.pathsep)
HOST = Option("--host", "127.0.0.1", "address to bind (default: %(default)s)")
PORT = Option("--port", 8000, "port to bind; 0 picks a free one (default: %(default)s)", _whole)
QUIET = Option("--quiet", False, "no log line per exchange (the journal still records)", switch=True)
LOOP = Option("--loop", "auto", "event loop; auto uses uvloop when installed (pip install 'mockllm[fast]')",
              choices=_LOOPS)
ADMIN_TOKEN = Option("--admin-token", None, "bearer token for /_mockllm/ when bound beyond loopback",
                     metavar="TOKEN")
GRACE = Option("--grace", 5.0, "on SIGTERM or Ctrl-C, how long open streams may go on before the server ends "
               "them (default: %(default)s)", _seconds, metavar="SECONDS")
SPEED = Option("--speed", 1.0, "divide every delay by this (default: %(default)s)", _positive)
SEED = Option("--seed", 0, "seed for all randomness (default: %(default)s)", _whole)
CHAOS = Option("--chaos", Chaos(), "random faults for every response, e.g. "
               "drop=0.1,stall=0.05,malformed=0.05,status=0.05", _chaos, metavar="SPEC")
TIMING = (SPEED, SEED, CHAOS)
STATE = Option("--state", None, "where attempt counters, quotas, the journal and run-time scenarios live, shared by "
               "every server that names it: redis://HOST:PORT/DB[?group=NAME] (default: this process's memory; "
               "pip install 'mockllm-server[redis]')", metavar="URL")
SERVE = (
    SCENARIOS, HOST, PORT,
    Option("--default", None, "scenario for requests nothing else selects", metavar="NAME"),
    Option("--max-body", DEFAULT_MAX_BODY, "largest request body accepted (default: %(default)s)", _whole,
           metavar="BYTES"),
    Option("--mount", [], "serve any scenario at PATH as a front end's own backend route (FORMAT: content or "
           "openai), e.g. /api/chat=content; repeatable", _mount, metavar="PATH=FORMAT", repeat=True,
           action=_Mounts, check=streams.check_mounts),
    QUIET, LOOP,
    Option("--reload", False, "watch the scenario files and reload them on change", switch=True),
    Option("--strict", False, "an unknown model is a 404 instead of falling through to the default", switch=True),
    Option("--journal-size", DEFAULT_SIZE, "exchanges kept in the journal (default: %(default)s)", _whole,
           metavar="N"),
    ADMIN_TOKEN,
    Option("--allow-origin", [], "a web page origin, e.g. http://localhost:5173, that may use /_mockllm/; "
           "repeatable (comma-separated in the variable)", metavar="ORIGIN", repeat=True,
           env="MOCKLLM_ALLOW_ORIGINS"),
    Option("--allow-host", [], "a Host name beyond loopback that /_mockllm/ answers, e.g. mockllm.internal; "
           "repeatable (comma-separated in the variable)", metavar="HOST", repeat=True,
           env="MOCKLLM_ALLOW_HOSTS"),
    GRACE,
    Option("--quota", None, "rate limits for every scenario without a quota of its own, as token buckets that "
           "send the provider's rate-limit headers and a 429 when empty, e.g. rpm=60,tpm=40000[,per=session] "
           "(per: api_key by default)", _quota, metavar="SPEC"),
    Option("--no-metrics", False, "no GET /metrics, and nothing counted for it", switch=True),
    STATE,
    Option("--workers", 1, "processes serving one port; more than 1 shares their state through --state, or a "
           "private redis-server when none is given (default: %(default)s)", _positive_whole, metavar="N"),
    *TIMING,
)
FORWARD = (HOST, PORT, QUIET, LOOP, ADMIN_TOKEN, GRACE)  # serve's, as proxy and record have them too
PROXY = (*FORWARD, dataclasses.replace(SCENARIOS, help="rule files or directories, repeatable: scenarios whose "
         "match, faults and attempts say when and how to break the upstream's answer (default: none)"), SEED, CHAOS,
         STATE)
RECORD = FORWARD
_FILE_KEYS = frozenset(option.key for option in (*SERVE, *PROXY, *RECORD))


def _configurable(parser: argparse.ArgumentParser, options: Sequence[config.Option], given_only: bool) -> None:
    """``options`` and --config: what the command line leaves out comes from the environment or the file."""
    parser.add_argument("--config", metavar="PATH", help=f"the TOML file to read instead of {config.FILE} or "
                        f"[tool.mockllm] in {config.PYPROJECT} [${config.CONFIG_VARIABLE}]")
    for option in options:
        option.add_to(parser, configurable=True, given_only=given_only)
    parser.set_defaults(options=options)


def _parser(given_only: bool = False) -> argparse.ArgumentParser:
    """The parser; ``given_only`` leaves out of the namespace every
    configurable option the command line does not give (``parse_args`` fills them in)."""
    parser = argparse.ArgumentParser(prog="mockllm", description="A mock LLM streaming server for testing.")
    parser.add_argument("--version", action="version", version=f"mockllm {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve scenarios over HTTP")
    _configurable(serve, SERVE, given_only)
    serve.set_defaults(run=_serve)

    proxy = commands.add_parser("proxy", help="forward every API route to a real upstream, with faults applied live")
    _upstream_options(proxy)
    _configurable(proxy, PROXY, given_only)
    proxy.set_defaults(run=_proxy)

    record = commands.add_parser("record", help="forward every API route to a real upstream and write each "
                                                "exchange as a scenario file that replays it")
    _upstream_options(record)
    _configurable(record, RECORD, given_only)
    record.add_argument("--out", default="recordings", metavar="DIR",
                        help="where the scenario files go (default: %(default)s)")
    record.add_argument("--redact", action="append", type=_pattern, default=[], metavar="REGEX",
                        help="also remove what this RE2 pattern matches from everything written; repeatable "
                             "(credentials and cookies are always left out)")
    record.add_argument("--timing", type=_timing, default=recording.Timing(), metavar="keep|compress:X|none",
                        help="the recorded gaps as they were, divided by X, or none (default: keep)")
    record.set_defaults(run=_record)

    validate = commands.add_parser("validate", help="check scenario files; print file:line: message per problem")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.set_defaults(run=_validate)

    listing = commands.add_parser("list", help="list scenario names and descriptions")
    SCENARIOS.add_to(listing, configurable=False)
    listing.set_defaults(run=_list)

    play = commands.add_parser("play", help="print the bytes a client would receive, with their times")
    play.add_argument("name", metavar="NAME")
    SCENARIOS.add_to(play, configurable=False)
    for option in TIMING:
        option.add_to(play, configurable=False)
    play.add_argument("--format", default="openai", choices=tuple(DIALECTS),
                      help="the wire format (default: %(default)s)")
    play.add_argument("--model", help="the request's model (default: NAME)")
    play.add_argument("--prompt", default="", help="the last user message")
    play.add_argument("--no-stream", dest="stream", action="store_false", help="play a stream: false request")
    play.add_argument("--include-usage", action="store_true", help="as stream_options.include_usage")
    play.add_argument("--no-obfuscation", dest="obfuscation", action="store_false",
                      help="as stream_options.include_obfuscation: false")
    play.add_argument("--session", default="play", help="session key, which seeds the response")
    play.add_argument("--attempt", type=int, default=1, help="attempt number (default: %(default)s)")
    play.add_argument("--turn", type=int, default=1, help="a conversation's turn (default: %(default)s)")
    play.add_argument("--created", type=int, help="the 'created' timestamp (default: now)")
    play.add_argument("--raw", action="store_true", help="write only the body bytes, unescaped")
    play.set_defaults(run=_play)

    commands.add_parser("schema", help="print the JSON Schema of a scenario file").set_defaults(run=_schema)
    return parser


def _upstream_options(parser: argparse.ArgumentParser) -> None:
    """What only proxy and record have: no variable or file key (the upstream is each run's own)."""
    parser.add_argument("--upstream", required=True, metavar="URL",
                        help="the real API to forward to, e.g. https://api.openai.com")
    parser.add_argument("--upstream-timeout", type=_seconds, default="300", metavar="SECONDS",
                        help="silence from the upstream before the client gets a 504 (default: %(default)s)")


def _serve(args: argparse.Namespace) -> int:
    library = load_library(args.scenarios, args.default)
    try:
        settings = Settings(
            library, speed=args.speed, seed=args.seed, max_body=args.max_body, chaos=args.chaos, quota=args.quota,
            paths=tuple(args.scenarios), default=args.default, reload=args.reload,
            journal_size=args.journal_size, admin_token=args.admin_token or None, strict=args.strict,
            mounts=tuple(args.mount),
            allow_origins=tuple(args.allow_origin), allow_hosts=tuple(args.allow_host), grace=args.grace,
            metrics=not args.no_metrics, state=args.state,
        )
    except ValueError as problem:
        print(f"mockllm: {problem}", file=sys.stderr)
        return 2

    def lines(running: server.RunningServer) -> list[str]:
        if running.control_open:
            control = "open (bound to loopback, no --admin-token)"
        elif settings.admin_token:
            control = "need the admin token (Authorization: Bearer ...)"
        else:
            control = "disabled (not on loopback and no --admin-token)"
        return [f"mockllm listening on {running.url}", f"control routes {running.url}/_mockllm/: {control}",
                f"sandbox {running.url}/"]

    return _listen(settings, args, lines, library.warnings)


def _listen(
    settings: Settings, args: argparse.Namespace, lines: Callable[[server.RunningServer], list[str]],
    warnings: Sequence[ScenarioWarning] = (),
) -> int:
    """Run a server until it is stopped, printing ``lines`` once it listens (the first is the listening line)."""
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr
    )
    _raise_open_file_limit()
    if args.config_file:
        logging.getLogger("mockllm").info("configuration from %s", args.config_file)
    for warning in warnings:  # they never stop a load, but a user should see them
        logging.getLogger("mockllm").warning("%s", warning)

    def ready(running: server.RunningServer) -> None:
        _print(lines(running))

    if getattr(args, "workers", 1) > 1:
        return _supervise(settings, args, lines)
    try:
        _run(server.serve_forever(settings, args.host, args.port, ready), args.loop)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"mockllm: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _print(lines: list[str]) -> None:
    for line in lines:
        print(line, flush=True)


def _supervise(settings: Settings, args: argparse.Namespace,
               lines: Callable[[server.RunningServer], list[str]]) -> int:
    """``serve --workers N``: N processes on one port, sharing their state (workers.py)."""
    if not hasattr(os, "fork"):
        print("mockllm: --workers needs fork(), which this system does not have; run one server per port",
              file=sys.stderr)
        return 2
    local = None
    if settings.state is None:
        try:
            local = workers.LocalRedis()
        except FileNotFoundError:
            print(f"mockllm: {workers.NO_STATE.format(n=args.workers)}", file=sys.stderr)
            return 2
        settings = dataclasses.replace(settings, state=local.url)
    try:
        try:
            place = workers.reserve(args.host, args.port)
        except OSError as exc:
            print(f"mockllm: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        shared = "a private redis-server" if local else settings.state

        def worker(sock: socket.socket | None, ready: Callable[[list[str]], None]) -> int:
            def listening(running: server.RunningServer) -> None:
                ready([*lines(running), f"{args.workers} workers on one port, sharing their state in {shared}"])

            try:
                _run(server.serve_forever(settings, args.host, place.port, listening, sock=sock,
                                          reuse_port=sock is None), args.loop)
            except KeyboardInterrupt:
                pass
            return 0

        return workers.supervise(args.workers, place, worker, _print)
    finally:
        if local is not None:
            local.stop()


def _proxy(args: argparse.Namespace) -> int:
    library = load_library(args.scenarios) if args.scenarios else Library({}, None)
    return _forward(args, library, seed=args.seed, chaos=args.chaos, paths=tuple(args.scenarios), state=args.state)


def _record(args: argparse.Namespace) -> int:
    kept = recording.Recording(Path(args.out), tuple(args.redact), args.timing)
    return _forward(args, Library({}, None), recording=kept)


def _forward(args: argparse.Namespace, library: Library, **options: Any) -> int:
    """``proxy`` and ``record``: a server whose every API route goes to the upstream."""
    try:
        settings = Settings(
            library, upstream=Upstream(args.upstream, read_timeout=args.upstream_timeout),
            admin_token=args.admin_token or None, grace=args.grace, **options,
        )
    except ValueError as problem:
        print(f"mockllm: {problem}", file=sys.stderr)
        return 2
    def lines(running: server.RunningServer) -> list[str]:
        shown = [f"mockllm listening on {running.url}", f"forwarding to {args.upstream}"]
        if settings.recording is not None:
            shown.append(f"recording into {settings.recording.out}")
        return shown

    return _listen(settings, args, lines)


def _pattern(text: str) -> Pattern:
    try:
        return compile_pattern(text)
    except PatternError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def _timing(text: str) -> recording.Timing:
    try:
        return recording.Timing.parse(text)
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def _raise_open_file_limit() -> None:
    """Every open stream holds a socket: allow as many as the system lets us."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _run(coroutine: Coroutine[Any, Any, None], loop: str) -> None:
    """Run the server on asyncio's loop or, when asked or available, uvloop's."""
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                coroutine.close()
                raise SystemExit("mockllm: --loop uvloop needs uvloop: pip install 'mockllm[fast]'") from None
        else:
            uvloop.run(coroutine)
            return
    asyncio.run(coroutine)


def _validate(args: argparse.Namespace) -> int:
    """Problems and warnings on stderr, by file and line; exit 1 only for
    problems: a warning never fails a load."""
    scenarios: list[Scenario] | None
    problems: Sequence[ScenarioError]
    warnings: Sequence[ScenarioWarning]
    try:
        scenarios = load_scenarios(args.paths)
        problems, warnings = (), [w for s in scenarios for w in s.warnings]
    except ScenarioErrors as exc:
        scenarios, problems, warnings = None, exc.problems, exc.warnings
    for note in sorted([*problems, *warnings], key=lambda n: (n.path, n.line or 0)):
        print(note, file=sys.stderr)
    if scenarios is None:
        return 1
    print(f"ok: {len(scenarios)} scenario{'s' if len(scenarios) != 1 else ''}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema.render())
    return 0


def _list(args: argparse.Namespace) -> int:
    library = load_library(args.scenarios)
    width = max((len(name) for name in library.names), default=0)
    columns = shutil.get_terminal_size((100, 24)).columns
    for scenario in library.scenarios.values():
        marker = "*" if scenario.name == library.default else " "
        summary = first_sentence(scenario.description, columns - width - 4)
        print(f"{scenario.name:<{width}} {marker} {summary}".rstrip())
    return 0


def first_sentence(text: str, room: int) -> str:
    """A description's first sentence, cut with an ellipsis to ``room``
    characters (at least 20): a listing line per scenario, not a paragraph."""
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    room = max(room, 20)
    return sentence if len(sentence) <= room else sentence[: room - 1].rstrip() + "…"


def _play(args: argparse.Namespace) -> int:
    library = load_library(args.scenarios)
    scenario = library.get(args.name)
    if scenario is None:
        print(f"mockllm: no scenario named {args.name!r} (known: {', '.join(library.names)})", file=sys.stderr)
        return 1
    if scenario.turns:
        if not 1 <= args.turn <= len(scenario.turns):
            print(f"mockllm: {args.name!r} has turns 1 to {len(scenario.turns)}, not {args.turn}", file=sys.stderr)
            return 1
        scenario = scenario.turns[args.turn - 1]
    dialect = DIALECTS[args.format]
    # The Ask the format's own client would make, then the options that override it.
    example = dialect.example(args.model or args.name, args.prompt, stream=args.stream)
    ask = dialect.parse(example.body, example.call)
    ask = dataclasses.replace(
        ask,
        stream=args.stream,
        include_usage=ask.include_usage or (args.include_usage and args.stream),
        include_obfuscation=args.obfuscation,
    )
    script = pipeline.plan(
        scenario, ask, dialect, seed=args.seed, session=args.session, attempt=args.attempt,
        speed=args.speed, created=int(time.time()) if args.created is None else args.created,
        chaos=args.chaos,
    )
    if args.raw:
        sys.stdout.buffer.write(script.body)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(describe(script))
    return 0


def describe(script: Script) -> str:
    """A script as a person reads it: status and headers, then one line per
    write with its time; bytes are escaped so that the line is exact."""
    if not script.respond:
        return f"@{script.headers_at:.3f}s <{script.end.value} before any response>\n"
    lines = [f"@{script.headers_at:.3f}s HTTP {script.status}"]
    lines += [f"  {name}: {value}" for name, value in script.headers]
    if script.faults:
        lines.append(f"# faults: {'; '.join(script.faults)}")
    if script.ignored:
        lines.append(f"# ignored (not a stream): {'; '.join(script.ignored)}")
    lines += [f"@{beat.at:.3f}s {escape(beat.data)}" for beat in script.beats]
    end_at = script.end_at if script.end_at is not None else max(
        [script.headers_at] + [beat.at for beat in script.beats]
    )
    ending = script.end.value
    if script.keepalive:
        ending += f", {escape(script.keepalive[1])} every {script.keepalive[0]:g}s"
    lines.append(f"@{end_at:.3f}s <{ending}>")
    return "\n".join(lines) + "\n"


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(data: bytes) -> str:
    """UTF-8 text shown as is; line breaks, other control characters and bytes
    that are not UTF-8 shown as escapes, so nothing invisible hides."""
    out = []
    for char in data.decode("utf-8", "surrogateescape"):
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or code in (0x2028, 0x2029, 0xFEFF):
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
