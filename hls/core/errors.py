"""The one error class for problems a user can fix (input, model, files, missing tools): the CLI prints
its message on one line and exits 2. Any other exception is a bug and keeps its traceback."""


class UserError(Exception):
    """Bad input or environment; the message names the problem and the fix."""


class ToolMissing(UserError):
    """A program a step needs is not installed; the message names the package that provides it."""
