"""mockllm: a mock LLM streaming server for testing.

Replays scripted replies from YAML scenarios over Server-Sent Events in the
wire formats of real LLM APIs, with the faults real streams suffer.
"""

from .errors import MockllmError, RequestError, ScenarioError, ScenarioErrors

__version__ = "0.2.0"

__all__ = ["MockllmError", "RequestError", "ScenarioError", "ScenarioErrors", "__version__"]
