"""Configuration beyond the command line: ``MOCKLLM_*`` variables and a TOML file.

One table of ``Option`` rows (cli.py writes it) names each option's flag,
environment variable, file key, converter and default; argparse, the
environment and the file all read that row, so they cannot drift. A value
from the environment or the file goes through the flag's own converter, so
its error reads as the flag's would, named by where it came from::

    flag given?  --port 9000          -> 9000
    else         MOCKLLM_PORT=9001    -> 9001
    else         port = 9002          (mockllm.toml, or [tool.mockllm] in pyproject.toml)
    else         the row's default    -> 8000
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MockllmError

if sys.version_info >= (3, 11):
    import tomllib
else:  # 3.10: the same parser, as the tomli backport (a dependency there only)
    import tomli as tomllib

FILE = "mockllm.toml"
PYPROJECT = "pyproject.toml"
CONFIG_VARIABLE = "MOCKLLM_CONFIG"  # as --config: the one file to read
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(MockllmError):
    """Every problem found in the environment and the file, each naming its source."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Option:
    """One option: ``--max-body`` is dest ``max_body``, key ``max_body``, variable ``MOCKLLM_MAX_BODY``."""

    flag: str
    default: Any
    help: str  # may name the default as %(default)s
    convert: Callable[[str], Any] = str  # argparse's type=: raises ArgumentTypeError saying what it expected
    metavar: str | None = None
    switch: bool = False  # store_true; true or false in the environment and the file
    repeat: bool = False  # append; a list in the file, items split at ``separator`` in the environment
    separator: str = ","
    choices: tuple[str, ...] = ()
    action: type[argparse.Action] | None = None  # instead of append or store
    check: Callable[[list[Any]], None] | None = None  # a whole list's ValueError, as ``action`` checks flags
    env: str | None = None  # a variable name older than the rule

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    key = dest  # the file's key is the flag's name, with _ for -

    @property
    def variable(self) -> str:
        return self.env or "MOCKLLM_" + self.dest.upper()

    def add_to(self, parser: argparse.ArgumentParser, *, configurable: bool, given_only: bool = False) -> None:
        """The flag; ``given_only`` leaves it out of the namespace unless given, for ``resolve`` to fill in."""
        shown = self.help % {"default": self.default}
        if configurable:
            shown += f" [${self.variable}]"
        options: dict[str, Any] = {"default": argparse.SUPPRESS if given_only else self.default, "help": shown}
        if self.switch:
            options["action"] = "store_true"
        else:
            options.update(type=self.convert, metavar=self.metavar, choices=self.choices or None,
                           action=self.action or ("append" if self.repeat else "store"))
        parser.add_argument(self.flag, **options)

    def from_env(self, text: str) -> Any:
        if self.switch:
            return _switch(text)
        if self.repeat:
            return self._items([item.strip() for item in text.split(self.separator) if item.strip()])
        return self._one(text)

    def from_file(self, value: Any) -> Any:
        if self.switch:
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {value!r}")
            return value
        if self.repeat:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ValueError(f"expected a list of strings, e.g. [{value!r}], got {value!r}")
            return self._items(value)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"expected a single value, got {value!r}")
        return self._one(str(value))

    def _one(self, text: str) -> Any:
        value = self.convert(text)
        if self.choices and value not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {text!r}")
        return value

    def _items(self, texts: list[str]) -> list[Any]:
        values = [self._one(text) for text in texts]
        if self.check is not None:
            self.check(values)
        return values


@dataclass(frozen=True)
class ConfigFile:
    name: str  # as errors name it: "mockllm.toml", "pyproject.toml [tool.mockllm]" or the --config path
    values: Mapping[str, Any]


def find_file(cwd: Path, given: str | None, environ: Mapping[str, str]) -> ConfigFile | None:
    """The one file to read: the one --config (``given``) or $MOCKLLM_CONFIG names,
    else ``mockllm.toml`` in ``cwd``, else ``[tool.mockllm]`` of its ``pyproject.toml``."""
    named, explicit = ("--config", given) if given else (CONFIG_VARIABLE, environ.get(CONFIG_VARIABLE))
    if explicit:
        path = cwd / explicit
        if not path.is_file():
            raise ConfigError([f"{named}: no such file: {explicit}"])
        found = _read(path, explicit)
        if found is None:  # named on purpose, so a missing table is a mistake
            raise ConfigError([f"{explicit}: no [tool.mockllm] table"])
        return found
    if (cwd / FILE).is_file():
        return _read(cwd / FILE, FILE)
    if (cwd / PYPROJECT).is_file():
        return _read(cwd / PYPROJECT, PYPROJECT)
    return None


def _read(path: Path, name: str) -> ConfigFile | None:
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as problem:
        raise ConfigError([f"{name}: {problem}"]) from None
    if path.name != PYPROJECT:
        return ConfigFile(name, table)
    tool = table.get("tool", {})
    if not isinstance(tool, dict) or "mockllm" not in tool:  # a project's pyproject.toml need not mention us
        return None
    name += " [tool.mockllm]"
    if not isinstance(tool["mockllm"], dict):
        raise ConfigError([f"{name}: expected a table of options"])
    return ConfigFile(name, tool["mockllm"])


def resolve(
    args: argparse.Namespace, options: Sequence[Option], known: Iterable[str],
    environ: Mapping[str, str], file: ConfigFile | None,
) -> None:
    """Give every option the command line left out its value: the environment's,
    else the file's, else the default. ``known`` is every key a file may hold
    (those of other commands too); one ConfigError lists every problem."""
    problems = _unknown_keys(file, sorted(known)) if file else []
    for option in options:
        if hasattr(args, option.dest):
            continue
        value = list(option.default) if option.repeat else option.default  # a list of this run's own
        try:
            if environ.get(option.variable):  # empty is unset, as compose files write it
                source = option.variable
                value = option.from_env(environ[option.variable])
            elif file is not None and option.key in file.values:
                source = f"{file.name}: {option.key}"
                value = option.from_file(file.values[option.key])
        except (argparse.ArgumentTypeError, ValueError) as problem:
            problems.append(f"{source}: {problem}")
        setattr(args, option.dest, value)
    if problems:
        raise ConfigError(problems)


def _unknown_keys(file: ConfigFile, known: list[str]) -> list[str]:
    problems = []
    for key in file.values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
            problems.append(f"{file.name}: unknown key {key!r}{hint}")
    return problems


def _switch(text: str) -> bool:
    if text.strip().lower() in _TRUE:
        return True
    if text.strip().lower() in _FALSE:
        return False
    raise ValueError(f"expected true or false (or 1, 0, yes, no, on, off), got {text!r}")
