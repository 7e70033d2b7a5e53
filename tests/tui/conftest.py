"""Fixtures for the app's Pilot tests: a scripted model server, the approval modal wired into the policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.backends.local import LocalSandbox
from core.operations import Limits, SecureOperations
from core.security.policy import ApprovalPolicy, backend_reader
from tests.openai_server import OpenAIServer
from tui.screens.approval import ModalApprover


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


@pytest.fixture
def approver() -> ModalApprover:
    """Asks through the modal; keys answer at once (no arming delay) so tests need not wait."""
    return ModalApprover(arm_delay=0)


@pytest.fixture
def policy(sandbox: LocalSandbox, approver: ModalApprover) -> ApprovalPolicy:
    return ApprovalPolicy("ask", approver=approver, reader=backend_reader(sandbox))


@pytest.fixture
def guarded_ops(sandbox: LocalSandbox, policy: ApprovalPolicy) -> SecureOperations:
    """The pipeline with the approval policy in ask mode: the assistant's writes, deletes and code ask."""
    return SecureOperations(sandbox, limits=Limits(exec_timeout=10.0), gate=policy)
