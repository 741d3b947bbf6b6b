"""The project's exceptions, in one small tree.

    DeepResearchError
    ├── ConfigError              settings, model strings, missing keys (names the variable to set)
    ├── InputError               a question or option the user gave that cannot be used
    ├── ProviderError            a model call that did not produce a usable answer
    │   ├── ProviderHTTPError    an HTTP status from the provider (status, retry_after)
    │   ├── ProviderConnectionError  the provider could not be reached (refused, reset, DNS)
    │   ├── ProviderTimeout      the per-call timeout passed
    │   ├── ContextLengthError   the prompt is over the model's context window (limit when known)
    │   ├── GroupUnavailable     every member of an endpoint group is ejected (members and their last errors)
    │   └── StructuredOutputError  no valid JSON for the schema after repair and retries
    ├── ToolCallError            a research tool failed; the researcher sees it, the run goes on
    │   ├── UpstreamUnreachable  an upstream MCP server could not be started or connected (the call never got there)
    │   └── ToolGroupUnavailable no server of an upstream group can take a call (members and their last errors)
    ├── BudgetExceeded           the run's token or cost budget is spent
    ├── CacheError               a cache level failed (callers treat it as a miss)
    └── RunStoreUnavailable      the run store (disk folder or Redis) cannot be read or written

User mistakes (ConfigError, InputError) are kept apart from run failures so the CLI and the MCP server can tell the
user what to change instead of what went wrong inside. Messages never carry secrets.
"""

from __future__ import annotations


class DeepResearchError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(DeepResearchError):
    """Settings that cannot work: a malformed model string, an unknown provider, a key that is not set."""


class InputError(DeepResearchError):
    """A question or option from the user that cannot be used as given."""


class ProviderError(DeepResearchError):
    """A model call failed. `retryable` says whether trying again may help."""

    retryable: bool = False


class ProviderHTTPError(ProviderError):
    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.retryable = status in (408, 409, 429) or status >= 500


class ProviderConnectionError(ProviderError):
    retryable = True


class ProviderTimeout(ProviderError):
    retryable = True


class ContextLengthError(ProviderError):
    """The prompt does not fit. `limit` is the model's window in tokens when the provider said it."""

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class GroupUnavailable(ProviderError):
    """No member of a group of equivalent endpoints can take a call: each is ejected after repeated failures.
    `members` maps each member to its last error."""

    def __init__(self, group: str, members: dict[str, str]) -> None:
        listed = "; ".join(f"{name}: {error}" for name, error in members.items())
        super().__init__(f"no endpoint of {group!r} is healthy ({listed})")
        self.group = group
        self.members = members


class StructuredOutputError(ProviderError):
    """The model's replies never parsed as JSON matching the requested schema."""


class ToolCallError(DeepResearchError):
    """A research tool call failed; shown to the model as the tool's result."""


class UpstreamUnreachable(ToolCallError):
    """An upstream MCP server could not be started or connected, so the call was never sent: another server of its
    group may take it."""


class ToolGroupUnavailable(ToolCallError):
    """No server of a group of equivalent upstream MCP servers can take a call: each is ejected after failures
    (or was already tried for this call). `members` maps each server to its last error."""

    def __init__(self, group: str, members: dict[str, str]) -> None:
        listed = "; ".join(f"{name}: {error}" for name, error in members.items())
        super().__init__(f"no server of the upstream group {group!r} can take the call ({listed})")
        self.group = group
        self.members = members


class BudgetExceeded(DeepResearchError):
    """The run's token or cost budget is spent; no further model calls are made."""


class CacheError(DeepResearchError):
    """A cache level failed. Callers log it once and treat the lookup as a miss."""


class RunStoreUnavailable(DeepResearchError):
    """The run store cannot be reached or written; the message names where it is (without credentials)."""


def one_line(exc: BaseException) -> str:
    """An error as one line of text: its message with whitespace runs folded, or its type when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__
