"""Lists an administrator keeps: an agent's pause reasons and the values offered for customer fields."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.db import Base
from crm_core.models.base import IdMixin

# The customer fields whose values come from a dictionary.
DICTIONARY_KINDS = ("category", "region", "source", "level")


class PauseReason(IdMixin, Base):
    """Why an agent pauses; ``code`` travels to the PBX as the queue member's PausedReason."""

    __tablename__ = "pause_reasons"

    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100))  # "午餐 Lunch": both languages, the page shows one
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class DictionaryItem(IdMixin, Base):
    """One value offered for a customer field (``kind`` is one of ``DICTIONARY_KINDS``)."""

    __tablename__ = "dictionary_items"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    kind: Mapped[str] = mapped_column(String(20), index=True)
    value: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
