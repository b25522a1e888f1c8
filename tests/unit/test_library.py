"""library.py: loading scenario files and folders into one library."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockllm.errors import ScenarioErrors
from mockllm.library import builtin_dir, load_library, load_scenarios


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def reply(word: str) -> str:
    return f"reply: {{text: {word}}}\n"


def problems(paths, default=None, *, library: bool = False) -> list[str]:
    with pytest.raises(ScenarioErrors) as caught:
        load_library(paths, default) if library else load_scenarios(paths)
    return [str(problem) for problem in caught.value.problems]


def test_a_folder_loads_yaml_and_yml_files_in_subfolders_in_sorted_order(tmp_path):
    for relative in ["z.yaml", "b.yaml", "a.yml", "sub/c.yaml", "sub/deeper/d.yml"]:
        write(tmp_path / relative, reply("hi"))
    write(tmp_path / "notes.txt", "not a scenario")
    write(tmp_path / "e.json", "{}")
    write(tmp_path / "f.yaml.bak", "junk: [")
    names = [s.name for s in load_scenarios([tmp_path])]
    assert names == ["a", "b", "c", "d", "z"]


def test_scenarios_remember_their_source_file(tmp_path):
    path = write(tmp_path / "one.yaml", reply("hi"))
    [scenario] = load_scenarios([tmp_path])
    assert scenario.source == str(path)


def test_several_paths_combine_in_the_order_given(tmp_path):
    write(tmp_path / "first/b.yaml", reply("b"))
    write(tmp_path / "first/a.yaml", reply("a"))
    single = write(tmp_path / "0-single.yaml", reply("s"))
    names = [s.name for s in load_scenarios([tmp_path / "first", single])]
    assert names == ["a", "b", "0-single"]


def test_builtin_names_the_built_in_library(tmp_path):
    write(tmp_path / "mine.yaml", reply("hi"))
    scenarios = load_scenarios([tmp_path, "builtin"])
    names = [s.name for s in scenarios]
    assert names[0] == "mine"
    assert "hello" in names[1:]
    assert all(Path(s.source).is_relative_to(builtin_dir()) for s in scenarios[1:])


def test_duplicate_names_across_files_name_both_places(tmp_path):
    first = write(tmp_path / "a.yaml", "name: same\n" + reply("a"))
    second = write(tmp_path / "b.yaml", "# another\nname: same\n" + reply("b"))
    assert problems([tmp_path]) == [
        f"{second}:2: duplicate scenario name 'same' (first defined at {first}:1)"
    ]


def test_duplicate_name_from_a_file_stem(tmp_path):
    first = write(tmp_path / "one/hello.yaml", reply("a"))
    second = write(tmp_path / "two/greeting.yaml", "name: hello\n" + reply("b"))
    assert problems([tmp_path / "one", tmp_path / "two"]) == [
        f"{second}:1: duplicate scenario name 'hello' (first defined at {first}:1)"
    ]


def test_problems_from_several_files_and_paths_are_all_reported(tmp_path):
    bad_seed = write(tmp_path / "a.yaml", reply("a") + "seed: x\n")
    write(tmp_path / "b.yaml", reply("fine"))
    bad_key = write(tmp_path / "c.yaml", reply("c") + "timming: {}\n")
    missing = tmp_path / "nowhere"
    assert problems([tmp_path, missing]) == [
        f"{bad_seed}:2: seed: expected a whole number, got 'x'",
        f"{bad_key}:2: unknown key 'timming'; did you mean 'timing'?",
        f"{missing}: no such file or directory",
    ]


def test_a_missing_path_is_no_such_file_or_directory(tmp_path):
    missing = tmp_path / "missing.yaml"
    assert problems([missing]) == [f"{missing}: no such file or directory"]


def test_an_unknown_default_is_an_error_listing_the_names(tmp_path):
    write(tmp_path / "a.yaml", reply("a"))
    write(tmp_path / "b.yaml", reply("b"))
    assert problems([tmp_path], "c", library=True) == ["--default: no scenario named 'c' (known: a, b)"]


@pytest.mark.parametrize(
    ("paths", "default", "expected"),
    [
        ([], None, "hello"),
        (["builtin"], None, "hello"),
        (["DIR"], None, None),
        (["DIR", "builtin"], None, "hello"),
        (["DIR"], "mine", "mine"),
        (["DIR", "builtin"], "mine", "mine"),
    ],
    ids=[
        "no-paths-means-builtin",
        "builtin",
        "own-folder-has-no-default",
        "builtin-added-back",
        "explicit-default",
        "explicit-default-beats-hello",
    ],
)
def test_default_is_hello_only_when_the_builtin_library_is_loaded(tmp_path, paths, default, expected):
    write(tmp_path / "mine.yaml", reply("mine"))
    write(tmp_path / "hello-not.yaml", reply("hi"))
    paths = [str(tmp_path) if p == "DIR" else p for p in paths]
    library = load_library(paths, default)
    assert library.default == expected
    assert ("hello" in library.names) == ("builtin" in paths or not paths)


def test_a_folder_with_a_hello_does_not_make_it_the_default(tmp_path):
    write(tmp_path / "hello.yaml", reply("hi"))
    assert load_library([tmp_path]).default is None


def test_library_keeps_load_order_and_is_read_only(tmp_path):
    write(tmp_path / "b.yaml", reply("b"))
    write(tmp_path / "a.yaml", reply("a"))
    library = load_library([tmp_path])
    assert library.names == ["a", "b"]
    assert library.get("a").reply.text == "a"
    assert library.get("nope") is None
    with pytest.raises(TypeError):
        library.scenarios["c"] = library.get("a")  # type: ignore[index]


def test_a_kubernetes_configmap_mount_loads_each_scenario_once(tmp_path):
    """A mounted ConfigMap holds each key as a link into a hidden, timestamped
    folder (``name.yaml -> ..data/name.yaml``, ``..data -> ..2026_12_02…``):
    the hidden copies are not scenarios of their own."""
    mount = tmp_path / "scenarios"
    version = mount / "..2026_12_02_22_40_00.123456789"
    version.mkdir(parents=True)
    (version / "flaky.yaml").write_text("name: flaky\nreply: {text: hi}\n")
    (mount / "..data").symlink_to(version.name)
    (mount / "flaky.yaml").symlink_to("..data/flaky.yaml")
    [scenario] = load_scenarios([mount])
    assert scenario.name == "flaky" and scenario.source == str(mount / "flaky.yaml")
