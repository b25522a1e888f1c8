"""library.py's LiveLibrary: the scenarios a running server answers with, changed
at run time (add, replace, remove) and by reloading the files, always whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockllm.errors import ScenarioErrors
from mockllm.library import LiveLibrary, load_library
from mockllm.parse import parse_text


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def scenario(name: str, text: str = "hi"):
    return parse_text(f"name: {name}\nreply: {{text: {text}}}\n", "<test>")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("a", "b", "c"):
        write(tmp_path / f"{name}.yaml", f"reply: {{text: from {name}}}\n")
    return tmp_path


def live(folder: Path, default: str | None = None) -> LiveLibrary:
    return LiveLibrary(load_library([folder], default), [folder], default)


def text_of(library: LiveLibrary, name: str) -> str:
    return library.current.get(name).reply.text


# -- add and replace -------------------------------------------------------

def test_adding_a_new_scenario_appends_it_and_reports_no_replacement(folder):
    library = live(folder)
    assert library.add(scenario("d")) is False
    assert library.current.names == ["a", "b", "c", "d"]


def test_replacing_a_file_scenario_keeps_its_place_in_the_match_order(folder):
    library = live(folder)
    assert library.add(scenario("b", "replaced")) is True
    assert library.current.names == ["a", "b", "c"]
    assert text_of(library, "b") == "replaced"


def test_replacing_a_run_time_scenario_keeps_its_place_too(folder):
    library = live(folder)
    library.add(scenario("d", "first"))
    library.add(scenario("e"))
    assert library.add(scenario("d", "second")) is True
    assert library.current.names == ["a", "b", "c", "d", "e"]
    assert text_of(library, "d") == "second"


def test_every_change_swaps_in_a_new_library_and_leaves_the_old_one_untouched(folder):
    library = live(folder)
    before = library.current
    library.add(scenario("d"))
    assert library.current is not before
    assert before.names == ["a", "b", "c"]  # a request holding the old set still sees it whole


# -- remove ----------------------------------------------------------------

def test_removing_a_scenario_drops_it_and_keeps_the_rest_in_order(folder):
    library = live(folder)
    assert library.remove("b") is True
    assert library.current.names == ["a", "c"]
    assert library.current.get("b") is None


def test_removing_an_unknown_or_already_removed_name_reports_false(folder):
    library = live(folder)
    assert library.remove("zzz") is False
    assert library.remove("b") is True
    assert library.remove("b") is False
    assert library.current.names == ["a", "c"]


def test_a_removed_run_time_scenario_is_gone(folder):
    library = live(folder)
    library.add(scenario("d"))
    assert library.remove("d") is True
    assert library.current.names == ["a", "b", "c"]


def test_a_removed_scenario_can_be_added_back(folder):
    library = live(folder)
    library.remove("b")
    assert library.add(scenario("b", "back")) is False  # nothing of that name was there to replace
    assert text_of(library, "b") == "back"


# -- the default -----------------------------------------------------------

def test_the_default_is_kept_while_its_scenario_exists(folder):
    library = live(folder, default="b")
    library.remove("a")
    assert library.current.default == "b"


def test_the_default_is_dropped_when_its_scenario_is_removed(folder):
    library = live(folder, default="b")
    library.remove("b")
    assert library.current.default is None


def test_the_default_follows_a_replacement_of_its_scenario(folder):
    library = live(folder, default="b")
    library.add(scenario("b", "replaced"))
    assert library.current.default == "b"
    assert text_of(library, "b") == "replaced"


# -- reload ----------------------------------------------------------------

def test_reload_picks_up_edited_added_and_deleted_files(folder):
    library = live(folder)
    write(folder / "a.yaml", "reply: {text: edited}\n")
    write(folder / "d.yaml", "reply: {text: new}\n")
    (folder / "c.yaml").unlink()
    returned = library.reload()
    assert returned is library.current
    assert library.current.names == ["a", "b", "d"]
    assert text_of(library, "a") == "edited"


def test_a_failed_reload_raises_and_keeps_the_last_good_library(folder):
    library = live(folder)
    before = library.current
    write(folder / "a.yaml", "reply: {text: edited}\n")
    write(folder / "b.yaml", "reply: {text: [unclosed}\n")
    with pytest.raises(ScenarioErrors) as caught:
        library.reload()
    assert [p.path for p in caught.value.problems] == [str(folder / "b.yaml")]
    assert caught.value.problems[0].line == 1
    assert library.current is before
    assert text_of(library, "a") == "from a"  # the good edit of the same load is not half-applied


def test_after_a_failed_reload_a_fixed_file_loads(folder):
    library = live(folder)
    write(folder / "b.yaml", "reply: {text: [unclosed}\n")
    with pytest.raises(ScenarioErrors):
        library.reload()
    write(folder / "b.yaml", "reply: {text: fixed}\n")
    library.reload()
    assert text_of(library, "b") == "fixed"


def test_a_reload_that_loses_the_default_scenario_fails_and_keeps_it(folder):
    library = live(folder, default="b")
    (folder / "b.yaml").unlink()
    with pytest.raises(ScenarioErrors):
        library.reload()
    assert library.current.default == "b"
    assert text_of(library, "b") == "from b"


def test_run_time_additions_and_removals_survive_a_reload(folder):
    library = live(folder)
    library.add(scenario("d", "added"))
    library.add(scenario("a", "replaced"))
    library.remove("c")
    write(folder / "b.yaml", "reply: {text: edited}\n")
    library.reload()
    assert library.current.names == ["a", "b", "d"]
    assert text_of(library, "a") == "replaced"  # run time wins over the file
    assert text_of(library, "b") == "edited"
    assert text_of(library, "d") == "added"
