"""The loaded set of scenarios: where they come from and which one is the default.

A load either succeeds whole or raises ``ScenarioErrors`` listing every problem
of every file, so a running server only ever swaps one good library for another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from .errors import ScenarioError, ScenarioErrors
from .parse import parse_file
from .scenario import Scenario, ScenarioWarning

BUILTIN = "builtin"  # a ``--scenarios`` value naming the built-in library
DEFAULT_SCENARIO = "hello"  # the default when the built-in library is loaded
SUFFIXES = (".yaml", ".yml")


def builtin_dir() -> Path:
    """The built-in scenarios: inside the installed package, else the source tree's."""
    here = Path(__file__).resolve().parent
    packaged = here / "scenarios"
    return packaged if packaged.is_dir() else here.parent / "scenarios"


@dataclass(frozen=True)
class Library:
    scenarios: Mapping[str, Scenario]  # in load order: ``match`` rules are tried in it
    default: str | None = None

    def get(self, name: str) -> Scenario | None:
        return self.scenarios.get(name)

    @property
    def names(self) -> list[str]:
        return list(self.scenarios)

    @property
    def warnings(self) -> list[ScenarioWarning]:
        """Every scenario's warnings, in load order: for ``serve`` to log."""
        return [warning for scenario in self.scenarios.values() for warning in scenario.warnings]


def resolve(path: str | Path) -> Path:
    """A ``--scenarios`` value as a path: ``builtin`` names the built-in library."""
    return builtin_dir() if str(path) == BUILTIN else Path(path)


def scenario_files(path: Path) -> list[Path]:
    """The scenario files at ``path``: a file, or a folder's ``*.yaml`` and
    ``*.yml`` at any depth, but none under a hidden name. A mounted Kubernetes
    ConfigMap keeps a second copy of each file in a hidden, timestamped
    folder, and editors keep hidden swap and backup files."""
    if path.is_dir():
        return sorted(
            p for p in path.rglob("*")
            if p.suffix in SUFFIXES and p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    if path.is_file():
        return [path]
    raise ScenarioErrors([ScenarioError(str(path), None, "no such file or directory")])


def load_scenarios(paths: Iterable[str | Path]) -> list[Scenario]:
    """Parse every file under ``paths``; ``builtin`` names the built-in library.

    On failure the ``ScenarioErrors`` carries every file's warnings too."""
    loaded: list[Scenario] = []
    problems: list[ScenarioError] = []
    warnings: list[ScenarioWarning] = []
    seen: dict[str, Scenario] = {}
    for path in paths:
        try:
            files = scenario_files(resolve(path))
        except ScenarioErrors as exc:
            problems.extend(exc.problems)
            continue
        for file in files:
            try:
                scenario = parse_file(file)
            except ScenarioErrors as exc:
                problems.extend(exc.problems)
                warnings.extend(exc.warnings)
                continue
            warnings.extend(scenario.warnings)
            if scenario.name in seen:
                first = seen[scenario.name]
                problems.append(
                    ScenarioError(
                        str(file),
                        scenario.line,
                        f"duplicate scenario name {scenario.name!r} (first defined at {first.source}:{first.line})",
                    )
                )
                continue
            seen[scenario.name] = scenario
            loaded.append(scenario)
    if problems:
        raise ScenarioErrors(problems, warnings)
    return loaded


def load_library(paths: Sequence[str | Path] = (), default: str | None = None) -> Library:
    """The library for ``serve``: the built-ins when no path is given.

    The default scenario is ``default`` if given (it must exist), else the
    built-in ``hello`` when the built-in library is loaded, else none.
    """
    paths = list(paths) or [BUILTIN]
    scenarios = {s.name: s for s in load_scenarios(paths)}
    if default is None and BUILTIN in map(str, paths):
        default = DEFAULT_SCENARIO
    if default is not None and default not in scenarios:
        known = ", ".join(scenarios) or "none"
        raise ScenarioErrors([ScenarioError("--default", None, f"no scenario named {default!r} (known: {known})")])
    return Library(MappingProxyType(scenarios), default)


class LiveLibrary:
    """The scenarios a running server answers with: the files' library, plus
    scenarios added at run time, minus those removed at run time.

    Every change builds a new ``Library`` and swaps it in whole, so a request
    always sees one consistent set, and a failed reload changes nothing.
    """

    def __init__(self, files: Library, paths: Sequence[str | Path] = (), default: str | None = None) -> None:
        self._files = files
        self._paths = list(paths)
        self._default = default
        self._added: dict[str, Scenario] = {}
        self._removed: set[str] = set()
        self.current = files

    def add(self, scenario: Scenario) -> bool:
        """Add or replace a scenario; True if one of that name was replaced."""
        replaced = scenario.name in self.current.scenarios
        self._added[scenario.name] = scenario
        self._removed.discard(scenario.name)
        self._rebuild()
        return replaced

    def remove(self, name: str) -> bool:
        if name not in self.current.scenarios:
            return False
        self._added.pop(name, None)
        self._removed.add(name)
        self._rebuild()
        return True

    def reload(self) -> Library:
        """Load the files again; on ``ScenarioErrors`` the last good set stays."""
        return self.use_files(self.load_files())

    def load_files(self) -> Library:
        """The files' library, loaded afresh. It changes nothing, so a server
        runs it in a thread and hands the result to ``use_files`` on its loop."""
        return load_library(self._paths, self._default)

    def use_files(self, files: Library) -> Library:
        """Swap in ``files`` (from ``load_files``); run-time additions and removals still apply."""
        self._files = files
        self._rebuild()
        return self.current

    def _rebuild(self) -> None:
        scenarios = {n: s for n, s in self._files.scenarios.items() if n not in self._removed}
        scenarios.update(self._added)  # a replaced scenario keeps its place in the match order
        default = self._files.default if self._files.default in scenarios else None
        self.current = Library(MappingProxyType(scenarios), default)
