"""The dispatch pipeline shared by every entry point."""

from .dependencies import Dependencies, build
from .dispatch import Decided, decide_all, dispatch, plan, submits
from .outcome import COMPLETED, DEAD_LETTERED, FAILED, FINAL, PLANNED, SKIPPED, SUBMITTED, InvocationResult, Outcome

__all__ = ["COMPLETED", "DEAD_LETTERED", "Decided", "Dependencies", "FAILED", "FINAL", "InvocationResult", "Outcome", "PLANNED", "SKIPPED",
           "SUBMITTED", "build", "decide_all", "dispatch", "plan", "submits"]
