"""What a HubSpot connection holds: its secrets (sealed at rest) and its settings."""

from __future__ import annotations

from typing import Annotated, Any, Final

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from frontdesk.engine.state import STAGES, Stage

StageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
MessageText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
]

DEFAULT_STAGES: Final[dict[Stage, str]] = {
    "browsing": "appointmentscheduled",
    "interested": "qualifiedtobuy",
    "evaluating": "presentationscheduled",
    "ready_to_buy": "decisionmakerboughtin",
}
"""Our lead stages on HubSpot's default sales pipeline."""
MAX_STAGE_MESSAGES: Final = 20


class HubSpotCredentials(BaseModel):
    """A HubSpot private app's access token (it pushes) and client secret (it signs the
    webhooks HubSpot sends us)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    access_token: str = Field(min_length=8, max_length=2048)
    client_secret: str = Field(min_length=8, max_length=256)


def _json_object(value: Any) -> Any:
    """``--set stages='{"…": "…"}'`` arrives as text: read it as the JSON object it holds."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError("a JSON object") from None
    return value


class HubSpotOptions(BaseModel):
    """Where deals go (``pipeline``), which deal stage each of our lead stages is
    (``stages``, HubSpot's default pipeline unless told), and the message the customer gets on
    their channel when a deal reaches a stage (``stage_messages``: deal stage id → text)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    pipeline: StageId = "default"
    stages: dict[Stage, StageId] = Field(default_factory=lambda: dict(DEFAULT_STAGES))
    stage_messages: dict[StageId, MessageText] = Field(
        default_factory=dict, max_length=MAX_STAGE_MESSAGES
    )

    @field_validator("stages", "stage_messages", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return _json_object(value)

    @field_validator("stages")
    @classmethod
    def _complete(cls, value: dict[Stage, str]) -> dict[Stage, str]:
        """Stages not given keep their default deal stage."""
        return {stage: value.get(stage, DEFAULT_STAGES[stage]) for stage in STAGES}
