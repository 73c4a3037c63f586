"""Dead-letter sinks: a local JSONL directory (default) and MNS (queue or topic)."""
