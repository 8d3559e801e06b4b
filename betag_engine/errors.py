"""The project's domain errors: one base class, so callers (CLI, app) can turn them into clear messages."""


class BetagError(Exception):
    """Base class of every error BETag Studio raises on purpose."""


class ImportValidationError(BetagError):
    """A data import was refused; ``problems`` lists the bad rows (file, row, field, reason), ``total`` counts them
    all (the list keeps the first 10,000)."""

    def __init__(self, problems: list["ImportProblem"], total: int | None = None):  # noqa: F821 - catalog.problems
        self.problems = problems
        self.total = len(problems) if total is None else total
        lines = [str(p) for p in problems[:50]]
        more = f"\n... and {self.total - len(lines)} more" if self.total > len(lines) else ""
        header = f"import refused, {self.total} problem(s), nothing was changed:\n"
        super().__init__(header + "\n".join(lines) + more)


class ConflictError(BetagError):
    """Someone else changed the record since it was read (optimistic version check)."""


class NotFoundError(BetagError):
    """A named item, user, tagging system or job does not exist."""


class JobCancelled(BetagError):
    """Raised inside a job when its cancel flag was set; finished work stays committed."""
