"""The engine's agents, each answering a routed turn behind one protocol (``base.Agent``)."""

from frontdesk.engine.agents.base import Agent, TurnContext
from frontdesk.engine.agents.handoff import HandoffAgent
from frontdesk.engine.agents.sales import SalesAgent
from frontdesk.engine.agents.support import FaqAgent, SupportAgent

__all__ = ["Agent", "FaqAgent", "HandoffAgent", "SalesAgent", "SupportAgent", "TurnContext"]
