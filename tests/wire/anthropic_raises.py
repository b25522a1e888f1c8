"""What the anthropic SDK raises when a stream breaks mid-body, which its
2.17 release changed: from 2.17 on, a failed read of the body is wrapped
(``APIConnectionError``, or ``APITimeoutError`` for a read timeout, the
transport's error as its cause); before, the raw ``httpx2`` error went
through (``_streaming.py``, ``async_iter_response_bytes``)."""

from __future__ import annotations

import anthropic
import httpx2  # the anthropic SDK's transport since 2.14

WRAPS_READS = tuple(int(part) for part in anthropic.__version__.split(".")[:2]) >= (2, 17)
RESET = anthropic.APIConnectionError if WRAPS_READS else httpx2.ReadError  # a reset mid-stream
READ_TIMEOUT = anthropic.APITimeoutError if WRAPS_READS else httpx2.ReadTimeout  # a stall past the read timeout
