"""The scenarios the benchmark plays, shared by mockllm and the floor server."""

from __future__ import annotations

from pathlib import Path

TOKENS = 50
GAP = 0.020  # seconds between tokens in the fidelity runs
BURST_TOKENS = 1000  # tokens per stream in the throughput runs, sent with no delay

WORDS = "the quick brown fox jumps over a lazy dog while streams of tokens flow".split()


def text(count: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(count))


SCENARIOS = {
    "bench-paced": f"""\
name: bench-paced
reply: {{text: "{text(TOKENS)}"}}
timing: {{first_token: {GAP * 1000:g}ms, per_token: {GAP * 1000:g}ms}}
""",
    "bench-burst": f"""\
name: bench-burst
reply: {{text: "{text(BURST_TOKENS)}"}}
""",
    "bench-stall": """\
name: bench-stall
reply: {text: "one two three"}
faults: [{stall: {after: 1}}]
""",
    "bench-soak": f"""\
name: bench-soak
reply: {{text: "{text(20)}"}}
timing: {{first_token: 2ms, per_token: 2ms}}
""",
}


def write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in SCENARIOS.items():
        (folder / f"{name}.yaml").write_text(body, encoding="utf-8")
    return folder
