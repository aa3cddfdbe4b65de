"""What the engine remembers of one conversation, kept in ``conversations.engine_state``.

The state is small JSON: the recent intents, the qualification questions already asked, the
purchase-intention score and stage, what the customer told us (services, budget, timeline,
contact details), the streak of unclear messages and the lead made from it. Reading is
forgiving: a state written by an older version, or damaged, reads as far as it is valid and
never stops the engine from answering.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Stage = Literal["browsing", "interested", "evaluating", "ready_to_buy"]
STAGES: Final[tuple[Stage, ...]] = ("browsing", "interested", "evaluating", "ready_to_buy")

MAX_INTENTS: Final = 20
MAX_SERVICES: Final = 5


class Budget(BaseModel):
    """An amount the customer said they can spend; ``currency`` ``None`` when unsaid."""

    model_config = ConfigDict(extra="ignore")

    value: float = Field(ge=0)
    currency: Literal["COP", "USD"] | None = None
    text: str = Field(default="", max_length=80)


class EngineState(BaseModel):
    """The engine's memory of one conversation (see the module docstring)."""

    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    turns: int = Field(default=0, ge=0)
    intents: list[str] = Field(default_factory=list, max_length=MAX_INTENTS)
    asked: list[str] = Field(default_factory=list, max_length=50)
    pending_question: str | None = None
    score: float = Field(default=0.0, ge=0, le=1)
    stage: Stage = "browsing"
    low_confidence_streak: int = Field(default=0, ge=0)
    services: list[str] = Field(default_factory=list, max_length=MAX_SERVICES)
    budget: Budget | None = None
    timeline: str | None = Field(default=None, max_length=80)
    urgent: bool = False
    name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    objections: list[str] = Field(default_factory=list, max_length=50)
    greeted: bool = False
    advisor_offered: bool = False
    lead_id: str | None = None

    @classmethod
    def read(cls, data: dict[str, Any] | None) -> EngineState:
        """The state stored as ``data``; a fresh state when it is missing or unreadable."""
        if not data:
            return cls()
        try:
            return cls.model_validate(data)
        except ValidationError:
            return cls()

    def remember_intent(self, label: str) -> None:
        """Add this turn's intent, keeping the most recent ``MAX_INTENTS``."""
        self.intents = [*self.intents, label][-MAX_INTENTS:]

    def remember_services(self, service_ids: tuple[str, ...] | list[str]) -> None:
        """Put ``service_ids`` first among the services of interest (most recent first)."""
        merged = list(dict.fromkeys([*service_ids, *self.services]))
        self.services = merged[:MAX_SERVICES]

    def mark_asked(self, question_id: str) -> None:
        """Remember that a qualification question was asked (or answered unasked)."""
        if question_id not in self.asked:
            self.asked = [*self.asked, question_id][-50:]

    def dump(self) -> dict[str, Any]:
        """JSON-able form, for the conversation's ``engine_state`` column."""
        return self.model_dump(mode="json", exclude_defaults=True)
