"""Seeds a fresh commonpot with one of everything, so schemathesis reaches
real objects instead of answering 404 for every id it makes up, and writes
the schemathesis configuration that points each path at them.

Usage: seed.py BASE_URL COMMONPOT_BINARY OUT_TOML
Standard library only: it runs before any tool is installed.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

BASE, BINARY, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
API = BASE + "/api/v1"
PASSWORD = "correct horse battery staple"


def call(method, path, token=None, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request) as answer:
            text = answer.read().decode()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        sys.exit(f"seed: {method} {path} answered {error.code}: {error.read().decode()}")


def key():
    return str(uuid.uuid4())


def login(email):
    return call("POST", "/auth/token", body={
        "grant_type": "password", "username": email, "password": PASSWORD})["access_token"]


boot = subprocess.run(
    [BINARY, "admin", "bootstrap", "--email", "ada@example.org", "--name", "Ada",
     "--collective", "Fuzz Mutual Aid", "--time-zone", "Europe/Berlin"],
    env={**os.environ, "COMMONPOT_BOOTSTRAP_PASSWORD": PASSWORD},
    check=True, capture_output=True, text=True)
collective = json.loads(boot.stdout)["collective"]["id"]
admin = login("ada@example.org")

invite = call("POST", f"/collectives/{collective}/members", admin,
              {"email": "bea@example.org", "display_name": "Bea", "role": "coordinator"})
call("POST", "/invitations/accept", body={
    "invitation_token": invite["invitation_token"], "password": PASSWORD})
membership = invite["membership"]["id"]
member = login("bea@example.org")

client = call("POST", f"/collectives/{collective}/clients", admin,
              {"name": "Fuzz partner", "scopes": ["collective:read"]})
issue = call("POST", f"/collectives/{collective}/issues", admin,
             {"name": "facing eviction", "description": "rent arrears"})
pool = call("POST", f"/collectives/{collective}/pools", admin, {
    "name": "Rent relief", "currency": "EUR", "goal": "5000.00",
    "rules": {"max_request": "500.00", "approvals_needed": 1}})["id"]
contribution = call("POST", f"/pools/{pool}/contributions", admin,
                    {"amount": "900.00", "method": "cash"}, {"Idempotency-Key": key()})
hold = call("POST", f"/pools/{pool}/holds", admin, {"amount": "100.00", "note": "fuzz"},
            {"Idempotency-Key": key()})
disbursement = call("POST", f"/holds/{hold['id']}/disbursements", admin, {"amount": "10.00"},
                    {"Idempotency-Key": key()})
entries = call("GET", f"/pools/{pool}/entries", admin)["items"]
request = call("POST", f"/pools/{pool}/requests", member, {
    "amount": "50.00", "category": "rent", "urgency": "standard",
    "public_summary": "Behind on rent", "private_details": "notice from landlord"})
candidate = call("POST", f"/pools/{pool}/requests", member, {
    "amount": "40.00", "category": "food", "urgency": "standard",
    "public_summary": "Groceries", "private_details": "two children"})
round_ = call("POST", f"/pools/{pool}/rounds", admin, {
    "title": "Spring round", "budget": "100.00", "candidates": [candidate["id"]],
    "ballot": {"type": "approval", "min_count": 0}})
pledge = call("POST", f"/pools/{pool}/pledges", member,
              {"amount": "5.00", "frequency": "monthly", "installments": 3})
# Bea says how the issue affects her, so its verification has something to
# verify; the round is opened and Ada votes, so her ballot can be read.
call("PUT", f"/collectives/{collective}/affectedness/me", member,
     {"declarations": [{"issue_id": issue["id"], "tier": "direct"}]})
call("POST", f"/rounds/{round_['id']}/open", admin, headers={"Idempotency-Key": key()})
call("PUT", f"/rounds/{round_['id']}/ballots/me", admin, {"approve": [candidate["id"]]})

ids = {
    "collective": collective, "membership": membership, "client": client["id"],
    "issue": issue["id"], "pool": pool, "contribution": contribution["id"],
    "hold": hold["id"], "disbursement": disbursement["id"], "entry": entries[0]["id"],
    "request": request["id"], "round": round_["id"], "pledge": pledge["id"],
}

# The path each id belongs to, and the name of the parameter it fills.
routes = [
    ("^/api/v1/collectives/\\{id\\}", {"path.id": collective, "path.membership_id": membership,
                                       "path.client_id": client["id"], "path.issue_id": issue["id"]}),
    ("^/api/v1/pools/\\{id\\}", {"path.id": pool}),
    ("^/api/v1/contributions/\\{id\\}", {"path.id": contribution["id"]}),
    ("^/api/v1/holds/\\{id\\}", {"path.id": hold["id"]}),
    ("^/api/v1/disbursements/\\{id\\}", {"path.id": disbursement["id"]}),
    ("^/api/v1/entries/\\{id\\}", {"path.id": entries[0]["id"]}),
    ("^/api/v1/requests/\\{id\\}", {"path.id": request["id"]}),
    ("^/api/v1/rounds/\\{id\\}", {"path.id": round_["id"]}),
    ("^/api/v1/pledges/\\{id\\}", {"path.id": pledge["id"]}),
    ("^/api/v1/(audit|me/)", {"query.collective_id": collective}),
]
# Anything the seed did not make, a path added later for instance, still
# gets its ids from here by name.
generic = {"path.collective_id": collective, "query.collective_id": collective}

with open(OUT, "w") as out:
    out.write("# Written by .ci/fuzz/seed.py for one run; not committed.\n")
    out.write(f'headers = {{ Authorization = "Bearer {admin}" }}\n\n')
    for regex, params in routes:
        out.write("[[operations]]\n")
        out.write(f"include-path-regex = {json.dumps(regex)}\n")
        body = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in params.items())
        out.write(f"parameters = {{ {body} }}\n\n")
print(json.dumps(ids))
