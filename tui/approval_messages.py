"""The messages an approval question sends through the app, apart from the modal itself (tui/screens/approval.py)
so the app can handle them without loading the modal and the policy on its way to the first frame."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from core.security.policy import ApprovalAnswer, ApprovalRequest


class ApprovalAsked(Message):
    """An approval question is open (the chat marks the command's card as waiting)."""

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request


class ApprovalSettled(Message):
    """The question was answered (or abandoned)."""

    def __init__(self, request: ApprovalRequest, answer: ApprovalAnswer | None) -> None:
        super().__init__()
        self.request = request
        self.answer = answer
