"""``GET {api}/config``: clusters, orgs, projects, service URLs and presets (reference §1.1).

Service URLs are built from the request's own host, so the platform answers correctly on
whatever address and port it was reached.
"""

from __future__ import annotations

from .base import BaseHandler
from .state import Platform

GiB = 1024**3

PRESETS = [
    {"name": "cpu-small", "credits_per_hour": "0", "cpu": 1.0, "memory": 2 * GiB},
    {"name": "cpu-medium", "credits_per_hour": "0", "cpu": 2.0, "memory": 4 * GiB},
    {"name": "cpu-large", "credits_per_hour": "0", "cpu": 4.0, "memory": 8 * GiB},
]
POOL = {"name": "local", "min_size": 1, "max_size": 1, "cpu": 4.0, "memory": 8 * GiB, "disk_size": 100 * GiB}


def preset(name: str) -> dict | None:
    """The preset called ``name`` (as in ``/config``), or None."""
    return next((p for p in PRESETS if p["name"] == name), None)


def service_urls(base: str) -> dict[str, str]:
    """The cluster's service URLs for a platform reached at ``base`` (``http://host:port``)."""
    api = f"{base}/api/v1"
    return {
        "registry_url": f"{base}/registry",
        "storage_url": f"{api}/storage",
        "users_url": base,
        "monitoring_url": f"{api}/monitoring",
        "secrets_url": f"{api}/secrets",
        "disks_url": f"{api}/disk",
        "buckets_url": f"{api}/buckets",
    }


def config_document(platform: Platform, base: str, user: str | None) -> dict:
    """The ``/config`` JSON for ``user`` (None: anonymous, auth fields only)."""
    doc: dict = {
        "auth_url": f"{base}/authorize",
        "token_url": f"{base}/oauth/token",
        "logout_url": f"{base}/logout",
        "client_id": "jupyter-apolo-local",
        "audience": "jupyter-apolo-local",
        "headless_callback_url": f"{base}/oauth/show-code",
        "authorized": user is not None,
    }
    if user is None:
        return doc
    from .jobs_api import runner_for  # how jobs are isolated here (sandbox.probe; not in the real API)

    doc["job_isolation"] = runner_for(platform).isolation.as_json()
    presets = [
        {**p, "resource_pool_names": [POOL["name"]], "available_resource_pool_names": [POOL["name"]]}
        for p in PRESETS
    ]
    doc["clusters"] = [
        {
            "name": platform.cluster,
            "orgs": [platform.org],
            **service_urls(base),
            "resource_pool_types": [POOL],
            "resource_presets": presets,
        }
    ]
    doc["orgs"] = [{"name": platform.org}]
    doc["projects"] = [
        {"name": p["name"], "role": p["role"], "cluster_name": platform.cluster, "org_name": platform.org}
        for p in platform.projects_of(user)
    ]
    return doc


class ConfigHandler(BaseHandler):
    auth_optional = True

    def get(self) -> None:
        base = f"{self.request.protocol}://{self.request.host}"
        self.write_json(config_document(self.platform, base, self.user))


def routes(platform: Platform) -> list:
    return [(r"/api/v1/config", ConfigHandler, {"platform": platform})]
