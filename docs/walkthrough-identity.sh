#!/usr/bin/env bash
# The README's walkthrough of identity and access, as a script: bootstrap the
# first admin, sign in, create a collective, invite a member who accepts and
# signs in, change a role with If-Match, register a partner app and sign it in
# with the client-credentials grant, read the audit trail, rotate and revoke
# refresh tokens.
#
# Run it from the directory `commonpot serve` runs in (the bootstrap step opens
# the same database file), e.g. from the repository root after
# `cargo run --release -- serve`:
#
#     docs/walkthrough-identity.sh
#
# BASE      the service (default http://127.0.0.1:8080)
# COMMONPOT the binary (default ./target/release/commonpot)
#
# Needs bash, curl and jq. It can be run again on the same database: the people
# exist by then, and each run makes two new collectives.
set -euo pipefail

step() { printf '\n== %s\n' "$*"; }
# The calls that must be refused print the problem's code; this checks it.
expect() { [ "$1" = "$2" ] || { echo "expected $2, got $1" >&2; exit 1; }; }

BASE=${BASE:-http://127.0.0.1:8080}
API=$BASE/api/v1
COMMONPOT=${COMMONPOT:-./target/release/commonpot}

step "1. Bootstrap the first admin and their collective"
COMMONPOT_BOOTSTRAP_PASSWORD='correct horse battery staple' "$COMMONPOT" admin bootstrap \
  --email ada@example.org --name Ada \
  --collective "Northside Mutual Aid" --time-zone Europe/Berlin | jq .collective

step "2. Sign in (password grant)"
TOKENS=$(curl -fsS "$API/auth/token" -H 'Content-Type: application/json' \
  -d '{"grant_type": "password", "username": "ada@example.org", "password": "correct horse battery staple"}')
ADMIN=$(jq -r .access_token <<<"$TOKENS")
jq '{token_type, expires_in}' <<<"$TOKENS"

step "3. Create a collective (the caller becomes its admin)"
COLLECTIVE=$(curl -fsS "$API/collectives" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' \
  -d '{"name": "Eastside Tenants Fund", "time_zone": "Europe/Berlin"}' | jq -r .id)
echo "$COLLECTIVE"

step "4. Invite a member (the invitation token is shown only here)"
INVITE=$(curl -fsS "$API/collectives/$COLLECTIVE/members" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' \
  -d '{"email": "bea@example.org", "display_name": "Bea"}')
MEMBERSHIP=$(jq -r .membership.id <<<"$INVITE")
INVITATION=$(jq -r .invitation_token <<<"$INVITE")
jq '{status: .membership.status, role: .membership.role, expires_at}' <<<"$INVITE"

step "5. Bea accepts (no access token; a new account sets its password here)"
curl -fsS "$API/invitations/accept" -H 'Content-Type: application/json' \
  -d '{"invitation_token": "'"$INVITATION"'", "password": "purple monkey dishwasher"}' |
  jq '{display_name, role, status}'

step "6. Bea signs in; as a member she may not read the audit trail"
BEA=$(curl -fsS "$API/auth/token" -H 'Content-Type: application/json' \
  -d '{"grant_type": "password", "username": "bea@example.org", "password": "purple monkey dishwasher"}' |
  jq -r .access_token)
curl -fsS "$API/me" -H "Authorization: Bearer $BEA" | jq -c '.memberships[] | {collective_id, role}'
CODE=$(curl -sS "$API/audit?collective_id=$COLLECTIVE" -H "Authorization: Bearer $BEA" | jq -r .code)
echo "$CODE"   # forbidden (403)
expect "$CODE" forbidden

step "7. Make Bea a coordinator, with the ETag she was read at as If-Match"
ETAG=$(curl -fsS -D - -o /dev/null "$API/collectives/$COLLECTIVE/members/$MEMBERSHIP" \
  -H "Authorization: Bearer $ADMIN" | tr -d '\r' | awk 'tolower($1) == "etag:" {print $2}')
echo "$ETAG"
curl -fsS -X PATCH "$API/collectives/$COLLECTIVE/members/$MEMBERSHIP" \
  -H "Authorization: Bearer $ADMIN" -H "If-Match: $ETAG" \
  -H 'Content-Type: application/json' -d '{"role": "coordinator"}' | jq '{role, version}'
# The same If-Match again is stale now: 412, and nothing changes.
CODE=$(curl -sS -X PATCH "$API/collectives/$COLLECTIVE/members/$MEMBERSHIP" \
  -H "Authorization: Bearer $ADMIN" -H "If-Match: $ETAG" \
  -H 'Content-Type: application/json' -d '{"role": "member"}' | jq -r .code)
echo "$CODE"   # precondition_failed (412)
expect "$CODE" precondition_failed

step "8. Register a partner app (admins; the secret is shown only here)"
APP=$(curl -fsS "$API/collectives/$COLLECTIVE/clients" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' \
  -d '{"name": "Intake form", "scopes": ["collective:read"]}')
CLIENT_ID=$(jq -r .id <<<"$APP")
CLIENT_SECRET=$(jq -r .client_secret <<<"$APP")
jq '{id, scopes, status}' <<<"$APP"

step "9. The app signs in (client-credentials grant, as an OAuth 2 form) and reads the members"
APP_TOKEN=$(curl -fsS "$API/auth/token" -d grant_type=client_credentials \
  -d "client_id=$CLIENT_ID" -d "client_secret=$CLIENT_SECRET" | jq -r .access_token)
curl -fsS "$API/collectives/$COLLECTIVE/members" -H "Authorization: Bearer $APP_TOKEN" |
  jq -c '.items[] | {display_name, role}'

step "10. Bea, a coordinator now (her token is the same), reads the audit trail"
curl -fsS "$API/audit?collective_id=$COLLECTIVE&limit=50" -H "Authorization: Bearer $BEA" |
  jq -r '.items[] | [.occurred_at, .actor_kind, .action, .object_kind] | @tsv'

step "11. Refresh tokens rotate; presenting a used one signs the whole session out"
REFRESH=$(jq -r .refresh_token <<<"$TOKENS")
NEW_REFRESH=$(curl -fsS "$API/auth/token" -H 'Content-Type: application/json' \
  -d '{"grant_type": "refresh_token", "refresh_token": "'"$REFRESH"'"}' | jq -r .refresh_token)
CODE=$(curl -sS "$API/auth/token" -H 'Content-Type: application/json' \
  -d '{"grant_type": "refresh_token", "refresh_token": "'"$REFRESH"'"}' | jq -r .error)
echo "$CODE"   # invalid_grant (400, "this refresh token was already used …"); NEW_REFRESH is revoked with it
expect "$CODE" invalid_grant
# Signing out: revoke a refresh token (200 whether or not it is known).
curl -fsS "$API/auth/revoke" -H 'Content-Type: application/json' \
  -d '{"token": "'"$NEW_REFRESH"'"}'
echo

step "done"
