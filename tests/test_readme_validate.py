"""The README's ``mockllm validate`` example is what validate really prints."""

from __future__ import annotations

import re

from mockllm import cli
from tests.docs import section


def scenarios_section() -> str:
    return section("## Scenarios")


def test_the_readme_validate_example_is_what_validate_prints(tmp_path, monkeypatch, capsys):
    section = scenarios_section()
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)[1]
    shown = re.search(r"```text\n\$ mockllm validate scenarios/\n(.*?)```", section, re.DOTALL)[1]
    # The edits the README's paragraph describes, each made exactly once.
    edits = (('  text: "It is sunny', '  txt: "It is sunny'), ("per_token: 40ms ", "per_token: 40 "))
    for old, new in edits:
        assert example.count(old) == 1, old
        example = example.replace(old, new)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "weather.yaml").write_text(example, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    assert cli.main(["validate", "scenarios/"]) == 1
    out, err = capsys.readouterr()
    assert out + err == shown
