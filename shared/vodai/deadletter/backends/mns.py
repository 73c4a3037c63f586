"""Dead letters as MNS messages, to a queue (SendMessage) or a topic (PublishMessage)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from ...exceptions import ApiError, DeadLetterError
from ..sink import DeadLetterSink

if TYPE_CHECKING:
    from ..base import DeadLetter

TAG = "VodaiDeadLetter"


class MnsSink(DeadLetterSink):
    def __init__(self, publisher, kind: str, name: str) -> None:
        if kind not in ("queue", "topic"):
            raise ValueError(kind)
        self.publisher, self.kind, self.name = publisher, kind, name

    def write(self, letter: DeadLetter, secrets: Iterable[str] = ()) -> str:
        body = letter.to_json(secrets)
        try:
            if self.kind == "queue":
                result = self.publisher.send_to_queue(self.name, body)
            else:
                result = self.publisher.publish(self.name, body, tag=TAG)
        except ApiError as exc:
            raise DeadLetterError(f"cannot send dead letter to MNS {self.kind} {self.name}: {exc.code}") from None
        return result.get("MessageId") or ""

    def describe(self) -> str:
        return f"mns-{self.kind}://{self.name}"
