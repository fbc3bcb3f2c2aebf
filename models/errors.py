"""The failures a user can cause and fix: the command line reports them in one paragraph with exit status 2 and no
traceback. Anything else that goes wrong is a bug and keeps its traceback."""


class SamzeroError(Exception):
    """An expected failure (bad option, missing or broken file, wrong checkpoint); the message says what to do."""


class UnsupportedSetting(SamzeroError):
    """A backend, precision or device this model or machine cannot run (e.g. fp16 on a CPU)."""
