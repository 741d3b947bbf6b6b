"""What the engine calls: one provider model plus retries, timeouts, structured output and usage accounting.

Retries are ours, not the SDKs' (they are built with max_retries=0), so that every attempt is bounded by our
timeout, counted, and waits what the provider's Retry-After asks.

With a cache, an answered call is kept (namespace `llm`) and a later identical call, in this run or a rerun of the
same question, is answered from it and recorded as a cache hit. Only this model's own answers are kept: the
offline engine is not cached (it is as cheap as a lookup), and a fallback's answer is never stored as this model's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .. import prompts
from ..cache.chat import chat_entry
from ..cache.core import Cache
from ..errors import ContextLengthError, ProviderError, ProviderTimeout, StructuredOutputError
from ..services import Refusals, RetryPolicy, Service, ServiceGroup
from .base import ChatModel, ChatResponse, Message, OutputSchema, ToolSpec
from .jsonrepair import parse_json_object
from .usage import UsageMeter, now, observe_model

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)

@dataclass(frozen=True, slots=True)
class ModelCaller:
    model: ChatModel
    name: str  # "provider:model", the key of price and context-window tables
    context_window: int
    timeout_s: float
    retry: RetryPolicy
    meter: UsageMeter | None = None
    # Takes over a step when this model fails for good mid-run (it had answered earlier in the same run). A model
    # that never answered is left to fail loudly: that is misconfiguration, which a fallback would only hide.
    fallback: ChatModel | None = None
    fallback_name: str = "offline:extractive"
    cache: Cache | None = None
    # What the cache key calls this model: `name`, plus the endpoint when it is not the provider's default.
    cache_identity: str = ""
    # The max_tokens of a call that sets none (settings.max_output_tokens); None leaves it to the provider.
    default_max_tokens: int | None = None
    # The endpoint as a service: each attempt waits for one of its slots, and how it ends adapts its limit. A group
    # of equivalent endpoints picks a member per attempt, and `members` holds this model on each of them.
    service: Service | ServiceGroup | None = None
    members: Mapping[str, ChatModel] = field(default_factory=dict)

    def with_meter(self, meter: UsageMeter) -> ModelCaller:
        return replace(self, meter=meter)

    def _can_fall_back(self) -> bool:
        return self.fallback is not None and self.meter is not None and self.name in self.meter.succeeded

    async def _fall_back(
        self, messages: list[Message], stage: str, error: ProviderError, **kwargs: object
    ) -> ChatResponse:
        assert self.fallback is not None and self.meter is not None
        log.warning("%s failed for good at %s (%s); the offline engine takes this step", self.name, stage, error)
        self.meter.fallbacks.append((stage, self.name, str(error)[:200]))
        started = now()
        response = await self.fallback.complete(messages, **kwargs)  # type: ignore[arg-type]
        self.meter.record(stage, self.fallback_name, response.usage, now() - started)
        return response

    async def chat(
        self,
        messages: list[Message],
        *,
        stage: str,
        tools: list[ToolSpec] | None = None,
        output: OutputSchema | None = None,
        max_tokens: int | None = None,
    ) -> ChatResponse:
        """One model call with retries on retryable failures. When they run out: the fallback model if one may take
        over (see `fallback`), else the last ProviderError. Context-length errors are the caller's to handle.

        An answer the step cannot use (empty, a call to no offered tool, arguments that are not the tool's, text
        repeated until the token limit: what small local models do) is asked again, at most `structured_retries`
        times, with the problem named; then the fallback takes the step, or without one the last answer stands."""
        if max_tokens is None:
            max_tokens = self.default_max_tokens
        request = {"tools": tools, "output": output, "max_tokens": max_tokens}
        conversation = messages
        for _ in range(self.retry.structured_retries + 1):
            try:
                response = await self._cached_chat(conversation, stage, request)
            except ContextLengthError:
                raise
            except ProviderError as exc:
                if not self._can_fall_back():
                    raise
                return await self._fall_back(messages, stage, exc, **request)
            first_turn = not any(m.role == "assistant" for m in messages)
            problem = unusable(response, tools, output, first_turn=first_turn)
            if problem is None:
                return response
            log.info("%s gave %s an unusable answer: %s", self.name, stage, problem)
            # The bad turn itself is left out: its broken tool calls would need results the wire insists on.
            conversation = [*messages, Message.user(prompts.UNUSABLE_RETRY.format(problem=problem))]
        if not self._can_fall_back():
            return response
        error = StructuredOutputError(f"{self.name} gave no usable answer: {problem}")
        return await self._fall_back(messages, stage, error, **request)

    def caches(self, namespace: str = "llm") -> bool:
        return self.cache is not None and self.cache.enabled(namespace) and not self.name.startswith("offline:")

    async def _cached_chat(self, messages: list[Message], stage: str, request: dict[str, Any]) -> ChatResponse:
        """`request` is the rest of the call as `chat` got it: tools, output and max_tokens."""
        if self.cache is None or not self.caches():
            return await self._chat(messages, stage=stage, **request)
        inputs, codec = chat_entry(self.cache_identity or self.name, messages, **request)
        lookup = await self.cache.get_or_compute(
            "llm", inputs, lambda: self._chat(messages, stage=stage, **request), codec
        )
        if lookup.hit and self.meter is not None:
            self.meter.record_hit(stage, self.name)
        return lookup.value

    async def _chat(
        self,
        messages: list[Message],
        *,
        stage: str,
        tools: list[ToolSpec] | None,
        output: OutputSchema | None,
        max_tokens: int | None,
    ) -> ChatResponse:
        attempt = 0
        refusals = Refusals()
        while True:
            if self.meter is not None:
                self.meter.check()
            started = now()
            try:
                # The SDK has the same timeout; ours also bounds connection set-up and anything the SDK misses.
                # The monitor's observation is outermost: it sees the slot's queue wait and a TimeoutError.
                async with observe_model(self, stage), \
                        (self.service.slot(refusals) if self.service else contextlib.nullcontext()) as member, \
                        asyncio.timeout(self.timeout_s + 1.0):
                    response = await (self.members[member] if member else self.model).complete(
                        messages, tools=tools, output=output, max_tokens=max_tokens, timeout=self.timeout_s
                    )
            except TimeoutError:
                error: ProviderError = ProviderTimeout(f"{self.name} did not answer within {self.timeout_s:g} s")
            except ProviderError as exc:
                error = exc
            else:
                if self.meter is not None:
                    self.meter.record(stage, self.name, response.usage, now() - started)
                    if response.structured_mode is not None:
                        self.meter.structured_modes[self.name] = response.structured_mode
                    if response.tools_mode is not None:
                        self.meter.tool_modes[self.name] = response.tools_mode
                return response
            if self.service is not None and self.service.refused(error) and refusals.count < self.retry.max_refusals:
                if refusals.give_up(self.retry.max_retries):
                    log.info("%s refused this request %d times while taking others; giving up", self.name,
                             refusals.count + 1)
                    raise error
                refusals.count += 1  # refused before doing any work (a 429): the service's queue paces the retry
            elif not error.retryable or attempt >= self.retry.max_retries:
                raise error
            else:
                attempt += 1
            delay = self.retry.delay(attempt + refusals.count - 1, error)
            log.info("%s failed (%s); retry %d in %.2f s", self.name, error, attempt + refusals.count, delay)
            await asyncio.sleep(delay)

    async def structured(self, messages: list[Message], schema: type[T], *, stage: str, name: str) -> T:
        """Ask for a JSON object matching `schema`: parse, repair, and on failure ask again with the error shown."""
        output = OutputSchema(name=name, schema=schema.model_json_schema(), description=schema.__doc__ or name)
        conversation = list(messages)
        last_error = "no reply"
        for _ in range(self.retry.structured_retries + 1):
            response = await self.chat(conversation, stage=stage, output=output)
            raw = response.raw_json if response.raw_json is not None else response.text
            try:
                return schema.model_validate(parse_json_object(raw))
            except (ValueError, ValidationError) as exc:
                last_error = _short(exc)
                shown = raw if isinstance(raw, str) else str(raw)
                conversation += [
                    Message("assistant", shown[:4000] or "(empty)"),
                    Message.user(prompts.STRUCTURED_RETRY.format(schema=name, error=last_error)),
                ]
        error = StructuredOutputError(
            f"{self.name} gave no valid {name} JSON after {self.retry.structured_retries + 1} tries: {last_error}"
        )
        if not self._can_fall_back():
            raise error
        response = await self._fall_back(messages, stage, error, output=output)
        raw = response.raw_json if response.raw_json is not None else response.text
        return schema.model_validate(parse_json_object(raw))


def unusable(
    response: ChatResponse, tools: list[ToolSpec] | None, output: OutputSchema | None, *, first_turn: bool = False
) -> str | None:
    """Why the step cannot use `response`, or None. Structured answers are judged by `structured` instead.

    On the first turn of a step with tools, an answer calling none is unusable too: the supervisor and researchers
    would end with nothing researched, which is what a small model chatting instead of calling does."""
    if output is not None:
        return None
    if not response.text.strip() and not response.tool_calls:
        return "the answer was empty"
    offered = {t.name: t for t in tools or []}
    if first_turn and offered and not response.tool_calls:
        return "it called no tool; this step starts by calling one"
    for call in response.tool_calls:
        spec = offered.get(call.name)
        if spec is None:
            return f"there is no tool named {call.name!r}; the tools are {', '.join(offered) or 'none'}"
        if "_raw" in call.arguments:
            return f"the arguments of {call.name} were not a JSON object"
        missing = [k for k in spec.parameters.get("required", []) if k not in call.arguments]
        if missing:
            return f"{call.name} needs the argument(s) {', '.join(missing)}"
    if response.finish_reason in ("length", "max_tokens") and not response.tool_calls and repetitive(response.text):
        return "the answer repeated itself until it hit the token limit"
    return None


def repetitive(text: str) -> bool:
    """True for a long text made mostly of one passage over and over: zlib squeezes it far below the ~35-45 % that
    prose compresses to (cheaper and steadier than counting repeated n-grams)."""
    data = text.encode()
    return len(data) >= 600 and len(zlib.compress(data)) < 0.15 * len(data)


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc']) or 'value'}: {first['msg']}"
    return str(exc)[:200]
