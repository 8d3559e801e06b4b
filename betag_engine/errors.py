"""The project's domain errors: one base class, so callers (CLI, app) can turn them into clear messages."""


class BetagError(Exception):
    """Base class of every error BETag Studio raises on purpose."""


class ImportValidationError(BetagError):
    """A data import was refused; ``problems`` lists every bad row (file, row, field, reason)."""

    def __init__(self, problems: list["ImportProblem"]):  # noqa: F821 - forward ref, see catalog.importer
        self.problems = problems
        lines = [str(p) for p in problems[:50]]
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        header = f"import refused, {len(problems)} problem(s), nothing was changed:\n"
        super().__init__(header + "\n".join(lines) + more)


class ConflictError(BetagError):
    """Someone else changed the record since it was read (optimistic version check)."""


class NotFoundError(BetagError):
    """A named item, user, tagging system or job does not exist."""


class JobCancelled(BetagError):
    """Raised inside a job when its cancel flag was set; finished work stays committed."""
