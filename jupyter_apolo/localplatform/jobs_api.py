"""Jobs and monitoring services (placeholder until implemented)."""


def routes(platform):
    return []
