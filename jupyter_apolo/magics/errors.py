"""Errors of the ``%apolo`` magics that are neither argument errors (IPython's ``UsageError``)
nor the platform's (``jupyter_apolo.client.ApoloError``)."""

from __future__ import annotations


class CommandError(Exception):
    """A subcommand could not do what was asked (e.g. the destination exists); the router prints
    the message as one line, like a platform error."""


def one_line(exc: BaseException) -> str:
    """An error as one line of text (its message, newlines folded)."""
    return " ".join(str(exc).split()) or type(exc).__name__
