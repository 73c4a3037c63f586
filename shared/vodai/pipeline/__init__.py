"""The dispatch pipeline shared by every entry point."""

from .dependencies import Dependencies, build
from .dispatch import dispatch
from .outcome import FAILED, REJECTED, SKIPPED, SUBMITTED, InvocationResult, Outcome

__all__ = ["Dependencies", "FAILED", "InvocationResult", "Outcome", "REJECTED", "SKIPPED", "SUBMITTED", "build", "dispatch"]
