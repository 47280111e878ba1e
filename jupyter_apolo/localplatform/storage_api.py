"""Storage service (placeholder until implemented)."""


def routes(platform):
    return []
