"""The dispatch pipeline shared by every entry point."""

from .dependencies import Dependencies, build
from .dispatch import dispatch, plan
from .outcome import COMPLETED, DEAD_LETTERED, FAILED, FINAL, PLANNED, SKIPPED, SUBMITTED, InvocationResult, Outcome

__all__ = ["COMPLETED", "DEAD_LETTERED", "Dependencies", "FAILED", "FINAL", "InvocationResult", "Outcome", "PLANNED", "SKIPPED",
           "SUBMITTED", "build", "dispatch", "plan"]
