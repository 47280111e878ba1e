"""Server endpoints of the notebooks workflow (plan, apply with progress, diff, commit, push).

Owned by the notebooks work; the server extension's route table includes ``routes()``.
"""


def routes(base_url: str, settings: dict) -> list:
    """Tornado route specs ``(pattern, handler, kwargs)`` under ``base_url``."""
    return []
