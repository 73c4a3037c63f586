"""What the ``tools`` extra brings, and how to tell that it is missing (no import of it here)."""

#: Top-level modules that the ``tools`` extra (pyproject.toml) brings in.
TOOLS_MODULES = frozenset({"click", "rich", "flask", "werkzeug", "waitress", "yaml", "alibabacloud_credentials"})
NEEDS_EXTRA = "vodai's command line needs its extra: pip install 'vodai[tools]'"


def missing_extra(exc: BaseException) -> bool:
    """Whether ``exc`` says that a module of the ``tools`` extra is not installed."""
    return isinstance(exc, ModuleNotFoundError) and (exc.name or "").partition(".")[0] in TOOLS_MODULES
