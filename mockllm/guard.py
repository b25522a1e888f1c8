"""Who may drive the control plane: the ``Origin`` and ``Host`` checks.

The control routes (``/_mockllm/``, and ``/metrics``) are for the user's own
tools, not for web pages. A browser sends a ``text/plain`` or form POST to any
address with no preflight, so CORS alone does not keep a page out; what a
page cannot hide is its ``Origin``. A page that rebinds its own DNS name to
127.0.0.1 becomes same-origin with the server, but its ``Host`` header still
carries that name. So a control request is refused when

- its ``Origin`` is neither the server's own (the origin its ``Host`` names)
  nor one given with ``--allow-origin``; no ``Origin`` at all is a tool such
  as curl or an SDK, and is let through;
- its ``Host`` is neither a loopback name, nor the address the server is
  bound to, nor one given with ``--allow-host``. Bound to a wildcard address
  (``0.0.0.0``, ``::``) the server answers on every address the machine has,
  under names it cannot know, so any ``Host`` is the bound address there;
  the control routes then need the admin token, which no page can send.

The API routes are not checked: they answer any origin with CORS ``*`` by
design, so a rebound name could read nothing there that a page cannot
already read.

Everything here is pure: values in, a ``RequestError`` (or None) out.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from .errors import RequestError

WILDCARDS = frozenset({"", "0.0.0.0", "::"})
DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
SHOWN = 100  # characters of a refused header value echoed in the message


def is_control(path: str) -> bool:
    """Whether ``path`` is one of the routes that shape or read the server."""
    return path.startswith("/_mockllm/") or path == "/metrics"


def origin(text: str) -> str:
    """``text`` as an origin (``scheme://host[:port]``, lower case, default
    port dropped), the form browsers send; ValueError if it is not one."""
    parts: SplitResult | None
    port: int | None
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        parts = port = None
    if (
        parts is None or parts.scheme not in DEFAULT_PORTS or not parts.hostname
        or not (_HOST_NAME.fullmatch(parts.hostname) or _is_address(parts.hostname))  # ASCII, as browsers send it
        or parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password
    ):
        raise ValueError(f"expected an origin such as http://localhost:5173, got {text!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        host += f":{port}"
    return f"{parts.scheme}://{host}"


def host_name(text: str) -> str:
    """``text`` as a host name to allow (lower case, no final dot); ValueError if it is not one."""
    name = text.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not (_HOST_NAME.fullmatch(name) or _is_address(name)):
        raise ValueError(f"expected a host name or address with no port, such as mockllm.internal, got {text!r}")
    return name


def check_token(token: str) -> None:
    """ValueError unless ``token`` can be sent and compared as an HTTP header value."""
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "the admin token is not UTF-8 text; it travels in an HTTP header, so it must be "
            "printable UTF-8 characters with no spaces at either end"
        ) from None
    if token != token.strip() or any(unicodedata.category(char).startswith("C") for char in token):
        raise ValueError(
            "the admin token has control characters or spaces at an end; it travels in an HTTP "
            "header, so it must be printable UTF-8 characters with no spaces at either end"
        )


def _name(host: str) -> str:
    """The host of a ``Host`` header value: no port, no brackets, lower case, no final dot."""
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.lower().rstrip(".")


def _is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: never resolved beyond this machine
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _same_origin(normal: str | None, host: str) -> bool:
    """Whether ``normal`` is the origin of a page this server served under ``host``
    (http, or https where TLS ends at a proxy in front)."""
    for scheme in DEFAULT_PORTS:
        try:
            if origin(f"{scheme}://{host}") == normal:
                return True
        except ValueError:
            pass  # a Host that is no URL authority names no origin
    return False


def _shown(value: str) -> str:
    """A header value as a message may quote it: cut short, escaped by ``repr``
    (bytes that were not UTF-8 arrive as surrogates, which a body cannot carry)."""
    return repr(value if len(value) <= SHOWN else value[:SHOWN] + "…")


@dataclass(frozen=True)
class Guard:
    """The checks for one server: where it is bound and what the user allowed."""

    bound: str = "127.0.0.1"
    allow_origins: frozenset[str] = frozenset()  # as ``origin`` returns them
    allow_hosts: frozenset[str] = frozenset()  # as ``host_name`` returns them

    def refusal(self, host: str | None, origin_: str | None) -> RequestError | None:
        """Why a control request with these headers is refused, or None."""
        if host is not None and not self._host_allowed(host):
            try:
                name = host_name(_name(host))
            except ValueError:
                name = "NAME"  # not a name that could be allowed; never echo it unescaped
            return RequestError(
                403,
                f"The control routes refuse the Host header {_shown(host)}: they answer only loopback "
                f"names, the address the server is bound to ({self.bound}) and hosts allowed with "
                f"--allow-host (this guards against DNS rebinding). To allow this one, start the server "
                f"with --allow-host {name} (or MOCKLLM_ALLOW_HOSTS={name}).",
                type="permission_error", code="host_not_allowed",
            )
        if origin_ is not None and not self._origin_allowed(origin_, host):
            return RequestError(
                403,
                f"The control routes refuse the Origin header {_shown(origin_)}: they are for your own "
                f"tools, not for web pages on other origins. To allow a page, start the server with "
                f"--allow-origin ORIGIN (or MOCKLLM_ALLOW_ORIGINS, comma-separated).",
                type="permission_error", code="origin_not_allowed",
            )
        return None

    def grants(self, origin_: str | None) -> bool:
        """Whether a page on ``origin_`` gets a CORS grant on the control routes:
        only an origin the user allowed (the server's own needs none)."""
        return origin_ is not None and self._normal(origin_) in self.allow_origins

    def _host_allowed(self, host: str) -> bool:
        name = _name(host)
        return (
            self.bound.lower() in WILDCARDS or _is_loopback(name)
            or name == _name(self.bound) or name in self.allow_hosts
        )

    def _origin_allowed(self, origin_: str, host: str | None) -> bool:
        normal = self._normal(origin_)
        if normal in self.allow_origins:
            return True
        # The Host check has vetted the name, so a page with this origin was served here.
        return host is not None and _same_origin(normal, host)

    @staticmethod
    def _normal(origin_: str) -> str | None:
        try:
            return origin(origin_)
        except ValueError:
            return None  # "null" (a sandboxed frame, a file: page) or junk: foreign

