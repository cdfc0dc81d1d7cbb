"""The dashboards behind JupyterHub login, when the hub runs them as a service.

The hub starts ``stationlab dashboard --prefix /services/dashboards/`` with the service's OAuth
client settings in the environment (``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_CLIENT_ID``, ...).
Every page then asks the hub who the visitor is; someone without a hub login is sent through the
hub's OAuth flow and back.
"""

from __future__ import annotations

import os

from bokeh.server.auth_provider import AuthProvider
from tornado.httputil import url_concat
from tornado.web import RequestHandler

#: Environment variables the hub sets for a managed service.
HUB_VARIABLES = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_API_URL")


def running_under_hub() -> bool:
    """Whether the hub started this process as one of its services."""
    return all(os.environ.get(name) for name in HUB_VARIABLES)


def _hub():
    from jupyterhub.services.auth import HubOAuth

    return HubOAuth.instance()


class HubAuthProvider(AuthProvider):
    """Bokeh authentication by the hub's login (OAuth with the hub as provider)."""

    @property
    def get_user_async(self):
        async def get_user(handler):
            return await _hub().get_user(handler, sync=False)
        return get_user

    @property
    def login_url(self) -> str:
        return "/login"

    @property
    def login_handler(self):
        return HubLoginHandler

    @property
    def endpoints(self):
        from jupyterhub.services.auth import HubOAuthCallbackHandler

        return [*super().endpoints, ("/oauth_callback", HubOAuthCallbackHandler)]


class HubLoginHandler(RequestHandler):
    """``<prefix>/login``: start the hub's OAuth flow, coming back to ``next`` afterwards."""

    def get(self) -> None:
        hub = _hub()
        params, verifier = {}, None
        if hub.pkce_enabled:
            verifier, challenge, method = hub.generate_pkce_code_challenge()
            params = {"code_challenge": challenge, "code_challenge_method": method}
        params["state"] = hub.set_state_cookie(self, next_url=self.get_argument("next", "/"),
                                               code_verifier=verifier)
        url = url_concat(hub.login_url, params)
        if url.startswith("/"):  # absolute, or it would resolve under this server's prefix
            url = f"{self.request.protocol}://{self.request.host}{url}"
        self.redirect(url)
