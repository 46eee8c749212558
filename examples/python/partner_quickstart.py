"""The partner-app quickstart in Python, on the client openapi-python-client
generates from openapi/openapi.json (see examples/README.md).

A treasurer's tool for a collective: an admin registers it as a partner app;
the app signs in with the client-credentials grant, records a contribution
(with an Idempotency-Key, then replays it) and pages through the pool's
ledger. Holds and pool edits are coordinators' work, so the coordinator the
tool acts for signs in too: a hold larger than the pool is refused as a typed
409 naming what is `available`, and a stale If-Match is a typed 412.

    COMMONPOT_URL=http://127.0.0.1:8080 COMMONPOT_COLLECTIVE_ID=… \
    COMMONPOT_EMAIL=ada@example.org COMMONPOT_PASSWORD=… \
    python partner_quickstart.py
"""

from __future__ import annotations

import os
import sys
import uuid
from typing import TypeVar

from commonpot_client import AuthenticatedClient, Client
from commonpot_client.api.auth import issue_token
from commonpot_client.api.clients import register_client
from commonpot_client.api.contributions import record_contribution
from commonpot_client.api.holds import place_hold
from commonpot_client.api.ledger import list_entries
from commonpot_client.api.pools import create_pool, get_pool, update_pool
from commonpot_client.models import (
    ClientCredentialsGrant,
    ClientCredentialsGrantGrantType,
    ClientWithSecret,
    ConflictProblem,
    ConflictProblemCode,
    Contribution,
    Entry,
    Method,
    NewClient,
    NewContribution,
    NewHold,
    NewPool,
    PageEntry,
    Pool,
    PoolPatch,
    PreconditionFailedProblem,
    PreconditionFailedProblemCode,
    PasswordGrant,
    PasswordGrantGrantType,
    TokenResponse,
)
from commonpot_client.types import UNSET, Response

R = TypeVar("R")
T = TypeVar("T")


def expect(response: Response[R], status: int, kind: type[T]) -> T:
    """The answer's parsed body, when it has the status and type expected."""
    parsed = response.parsed
    if response.status_code != status or not isinstance(parsed, kind):
        sys.exit(f"expected {status} {kind.__name__}, got {response.status_code}: "
                 f"{response.content.decode(errors='replace')}")
    return parsed


def main() -> None:
    base = os.environ["COMMONPOT_URL"]
    collective = uuid.UUID(os.environ["COMMONPOT_COLLECTIVE_ID"])
    public = Client(base_url=base)

    # The coordinator (here the collective's admin) signs in.
    signed_in = issue_token.sync_detailed(client=public, body=PasswordGrant(
        grant_type=PasswordGrantGrantType.PASSWORD,
        username=os.environ["COMMONPOT_EMAIL"], password=os.environ["COMMONPOT_PASSWORD"]))
    coordinator = AuthenticatedClient(
        base_url=base, token=expect(signed_in, 200, TokenResponse).access_token)

    # A pool, and the partner app, registered by the admin; its secret is shown once.
    pool = expect(create_pool.sync_detailed(collective, client=coordinator, body=NewPool(
        name="Quickstart (Python)", currency="EUR", goal="1000.00")), 201, Pool)
    app = expect(register_client.sync_detailed(collective, client=coordinator, body=NewClient(
        name="Treasurer's tool (Python)", scopes=["contributions:write", "pools:read"])),
        201, ClientWithSecret)

    # 1. The app signs in with the client-credentials grant.
    granted = issue_token.sync_detailed(client=public, body=ClientCredentialsGrant(
        grant_type=ClientCredentialsGrantGrantType.CLIENT_CREDENTIALS,
        client_id=app.id, client_secret=app.client_secret))
    token = expect(granted, 200, TokenResponse)
    partner = AuthenticatedClient(base_url=base, token=token.access_token)
    print(f"client credentials: {token.token_type} token for {token.scope}, {token.expires_in} s")

    # 2. A contribution with an Idempotency-Key; the same call again is its replay.
    key = str(uuid.uuid4())
    gift = NewContribution(amount="120.00", method=Method.BANK_TRANSFER,
                           external_reference=f"bank-{key}")
    first = record_contribution.sync_detailed(pool.id, client=partner, body=gift,
                                              idempotency_key=key)
    contribution = expect(first, 201, Contribution)
    again = record_contribution.sync_detailed(pool.id, client=partner, body=gift,
                                              idempotency_key=key)
    replayed = expect(again, 201, Contribution)
    assert replayed.id == contribution.id, "a replay answers the same contribution"
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") is None
    print(f"contribution {contribution.amount} {contribution.id}; replayed: same id")

    # 3. A hold for more than the pool has: a typed 409 that says what is available.
    refused = place_hold.sync_detailed(pool.id, client=coordinator,
                                       body=NewHold(amount="5000.00", note="too much"),
                                       idempotency_key=str(uuid.uuid4()))
    conflict = expect(refused, 409, ConflictProblem)
    assert conflict.code is ConflictProblemCode.INSUFFICIENT_FUNDS
    assert conflict.available == "120.00", conflict.available
    print(f"hold refused: {conflict.code.value}, available {conflict.available} "
          f"{conflict.currency}, needed {conflict.needed}")

    # 4. The ledger, one entry a page, following next_cursor to the end.
    entries: list[Entry] = []
    cursor: uuid.UUID | None = None
    while True:
        page = expect(list_entries.sync_detailed(
            pool.id, client=partner, limit=1, cursor=UNSET if cursor is None else cursor),
            200, PageEntry)
        entries.extend(page.items)
        if not isinstance(page.next_cursor, str):
            break
        cursor = uuid.UUID(page.next_cursor)
    assert [entry.kind for entry in entries] == ["contribution"], entries
    print(f"ledger: {len(entries)} entry, paged one at a time")

    # 5. Two edits from the same read: the second one's If-Match is stale.
    read = get_pool.sync_detailed(pool.id, client=coordinator)
    etag = read.headers["ETag"]
    expect(get_pool.sync_detailed(pool.id, client=coordinator), 200, Pool)
    expect(update_pool.sync_detailed(pool.id, client=coordinator, if_match=etag,
                                     body=PoolPatch(goal="1500.00")), 200, Pool)
    stale = update_pool.sync_detailed(pool.id, client=coordinator, if_match=etag,
                                      body=PoolPatch(goal="2000.00"))
    problem = expect(stale, 412, PreconditionFailedProblem)
    assert problem.code is PreconditionFailedProblemCode.PRECONDITION_FAILED
    print(f"stale If-Match {etag}: {problem.code.value}; now {stale.headers['ETag']}")


if __name__ == "__main__":
    main()
