"""A generic OAuth 2.0 client library, in its default configuration, against
commonpot's token endpoint: Authlib's OAuth2Session sends the partner app's
credentials by HTTP Basic (client_secret_basic), gets a client-credentials
token and reads refused grants as standard OAuth errors (RFC 6749 §5.2).

    COMMONPOT_URL=… COMMONPOT_COLLECTIVE_ID=… COMMONPOT_EMAIL=… COMMONPOT_PASSWORD=… \
    python oauth_library.py
"""

from __future__ import annotations

import os

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

BASE = os.environ["COMMONPOT_URL"]
API = BASE + "/api/v1"
TOKEN_URL = API + "/auth/token"
COLLECTIVE = os.environ["COMMONPOT_COLLECTIVE_ID"]


def register_app() -> tuple[str, str]:
    """The admin signs in (the password grant, as a form) and registers an app."""
    signed_in = requests.post(TOKEN_URL, data={
        "grant_type": "password", "username": os.environ["COMMONPOT_EMAIL"],
        "password": os.environ["COMMONPOT_PASSWORD"]}, timeout=10)
    signed_in.raise_for_status()
    admin = signed_in.json()["access_token"]
    app = requests.post(f"{API}/collectives/{COLLECTIVE}/clients",
                        headers={"Authorization": f"Bearer {admin}"},
                        json={"name": "OAuth library check", "scopes": ["collective:read"]},
                        timeout=10)
    app.raise_for_status()
    return app.json()["id"], app.json()["client_secret"]


def refused(session: OAuth2Session, **params: str) -> OAuthError:
    try:
        session.fetch_token(TOKEN_URL, grant_type="client_credentials", **params)
    except OAuthError as error:
        return error
    raise AssertionError("the token endpoint granted what it should refuse")


def main() -> None:
    client_id, secret = register_app()

    # Default configuration: client_secret_basic, as every OAuth library does.
    session = OAuth2Session(client_id, secret)
    assert session.token_endpoint_auth_method == "client_secret_basic"
    token = session.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer" and token["expires_in"] > 0
    print(f"authlib: client-credentials token ({token['scope']}), {token['expires_in']} s")
    members = session.get(f"{API}/collectives/{COLLECTIVE}/members", timeout=10)
    members.raise_for_status()
    print(f"authlib: the token reads {len(members.json()['items'])} member(s)")

    # Refused grants arrive as standard errors the library raises by name.
    wrong = refused(OAuth2Session(client_id, secret + "x"))
    assert wrong.error == "invalid_client", wrong.error
    scope = refused(OAuth2Session(client_id, secret), scope="pools:read")
    assert scope.error == "invalid_scope", scope.error
    unknown = refused(OAuth2Session("no-such-app", secret))
    assert unknown.error == "invalid_client", unknown.error
    for error in (wrong, scope, unknown):
        print(f"authlib: refused as {error.error}: {error.description}")


if __name__ == "__main__":
    main()
