"""A primary provider with a deadline and the grounded provider behind it.

The grounded answer is used, with the reason on the result, when the primary raises, misses
its deadline, or answers with text the guard finds ungrounded (a price, percentage, promise or
service the pack does not state). A primary that proposes tool calls without any text keeps
its calls and gets the grounded text.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from frontdesk.engine.grounding.guard import check
from frontdesk.engine.llm.base import (
    ChatRequest,
    ChatResult,
    LLMError,
    LLMProvider,
    RejectedCall,
    logger,
)
from frontdesk.engine.llm.grounded import GroundedProvider


class FallbackProvider:
    """``primary`` within ``deadline`` seconds, else the grounded answer (see the module)."""

    def __init__(
        self,
        primary: LLMProvider,
        *,
        deadline: float,
        fallback: GroundedProvider | None = None,
    ) -> None:
        self.primary = primary
        self.name = primary.name
        self.deadline = deadline
        self.fallback = fallback or GroundedProvider()

    async def chat(self, request: ChatRequest) -> ChatResult:
        """The primary's answer when it is usable, else the grounded one with the reason."""
        try:
            async with asyncio.timeout(self.deadline):
                result = await self.primary.chat(request)
        except TimeoutError:
            return self._grounded(request, "timeout")
        except LLMError as exc:
            return self._grounded(request, exc.reason, status=exc.status)
        except Exception as exc:  # a provider bug must not cost the customer an answer
            logger().error("llm.provider_error", provider=self.name, error=type(exc).__name__)
            return self._grounded(request, "error")
        if result.rejected_calls:
            logger().warning(
                "llm.tool_calls_rejected",
                provider=self.name,
                calls=[f"{call.name}: {call.reason}" for call in result.rejected_calls],
            )
        violations = check(result.text, request.pack)
        if violations:
            return self._grounded(
                request,
                "guard",
                violations=[f"{v.kind}: {v.text}" for v in violations][:10],
                rejected=result.rejected_calls,
            )
        if not result.text:
            grounded = self._grounded(request, "no_text", rejected=result.rejected_calls)
            if not result.tool_calls:
                return grounded
            return replace(
                grounded,
                provider=result.provider,
                tool_calls=result.tool_calls,
                usage=result.usage,
            )
        return result

    def _grounded(
        self,
        request: ChatRequest,
        reason: str,
        *,
        rejected: tuple[RejectedCall, ...] = (),
        **details: object,
    ) -> ChatResult:
        logger().warning("llm.fallback", provider=self.name, reason=reason, **details)
        answer = self.fallback.answer(request)
        return replace(
            answer,
            fallback_reason=reason,
            rejected_calls=rejected + answer.rejected_calls,
        )
