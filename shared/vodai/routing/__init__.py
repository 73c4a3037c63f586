"""Routing: the declarative table and the pure decision it drives."""

from .decision import Decision, Skip, Submit, decide
from .rules import DEFAULT_TABLE, RouteTable, Rule, load_table

__all__ = ["DEFAULT_TABLE", "Decision", "RouteTable", "Rule", "Skip", "Submit", "decide", "load_table"]
