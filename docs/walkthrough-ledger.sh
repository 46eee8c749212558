#!/usr/bin/env bash
# Walkthrough: a pool, contributions, an aid request approved by two
# coordinators (one lowers the amount), paid in two parts, and the ledger
# that shows it. Run it against a running `commonpot serve`, from the
# server's working directory (it bootstraps an admin with the CLI):
#
#   BASE=http://127.0.0.1:8080 COMMONPOT=./target/release/commonpot bash docs/walkthrough-ledger.sh
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8080}
COMMONPOT=${COMMONPOT:-./target/release/commonpot}
API=$BASE/api/v1
RUN=$(date +%s)
PASSWORD='correct horse battery staple'
json() { curl -sS -H 'content-type: application/json' "$@"; }
key() { echo "idem-$RUN-$1"; }

# 1. The first admin and their collective, then tokens for each person.
BOOTSTRAP=$(COMMONPOT_BOOTSTRAP_PASSWORD=$PASSWORD $COMMONPOT admin bootstrap \
  --email "ada+$RUN@example.org" --name "Ada" --collective "Northside Mutual Aid" --time-zone Europe/Berlin)
COLLECTIVE=$(echo "$BOOTSTRAP" | jq -r .collective.id)
login() { json -X POST "$API/auth/token" -d "{\"grant_type\":\"password\",\"username\":\"$1\",\"password\":\"$PASSWORD\"}" | jq -r .access_token; }
ADA=$(login "ada+$RUN@example.org")
join() { # email name role -> access token
  local invite token
  invite=$(json -X POST "$API/collectives/$COLLECTIVE/members" -H "authorization: Bearer $ADA" \
    -d "{\"email\":\"$1\",\"display_name\":\"$2\",\"role\":\"$3\"}")
  token=$(echo "$invite" | jq -r .invitation_token)
  json -X POST "$API/invitations/accept" -d "{\"invitation_token\":\"$token\",\"password\":\"$PASSWORD\"}" > /dev/null
  login "$1"
}
CLEO=$(join "cleo+$RUN@example.org" Cleo coordinator)
DEV=$(join "dev+$RUN@example.org" Dev coordinator)
MO=$(join "mo+$RUN@example.org" Mo member)

# 2. A pool in euros: requests up to 500.00, two approvals, emergencies up to 100.00 fast-tracked.
POOL=$(json -X POST "$API/collectives/$COLLECTIVE/pools" -H "authorization: Bearer $ADA" -d '{
  "name": "Rent relief", "currency": "EUR", "goal": "5000.00",
  "rules": {"max_request": "500.00", "approvals_needed": 2, "fast_track_limit": "100.00"}}' | jq -r .id)

# 3. Money comes in: a card payment with a processor fee, and cash.
json -X POST "$API/pools/$POOL/contributions" -H "authorization: Bearer $ADA" -H "Idempotency-Key: $(key c1)" \
  -d '{"amount": "200.00", "fee": "6.10", "method": "card", "external_reference": "pi_3Nx1",
       "contributor": {"donor_name": "A neighbour", "anonymous": true}}' | jq '{net, status}'
json -X POST "$API/pools/$POOL/contributions" -H "authorization: Bearer $ADA" -H "Idempotency-Key: $(key c2)" \
  -d '{"amount": "150.00", "method": "cash"}' | jq '{net, status}'
# A retry with the same key moves nothing again.
json -X POST "$API/pools/$POOL/contributions" -H "authorization: Bearer $ADA" -H "Idempotency-Key: $(key c2)" \
  -d '{"amount": "150.00", "method": "cash"}' -o /dev/null -w 'retry answered %{http_code}\n'

# 4. Mo asks for help with rent.
REQUEST=$(json -X POST "$API/pools/$POOL/requests" -H "authorization: Bearer $MO" -d '{
  "amount": "300.00", "category": "rent", "urgency": "standard", "needed_by": "2026-12-01",
  "public_summary": "Behind on rent after losing shifts",
  "private_details": "Landlord has sent a notice", "payout_reference": "DE89 3704 0044 0532 0130 00"}' | jq -r .id)

# 5. Cleo takes it into review and approves 250.00; Dev approves too: the lowest amount stands,
#    and the final approval places a hold on the pool.
json -X POST "$API/requests/$REQUEST/review" -H "authorization: Bearer $CLEO" | jq '{state, owner_user_id}'
json -X POST "$API/requests/$REQUEST/approvals" -H "authorization: Bearer $CLEO" -H "Idempotency-Key: $(key a1)" \
  -d '{"amount": "250.00"}' | jq '{state, approvals, approvals_needed}'
json -X POST "$API/requests/$REQUEST/approvals" -H "authorization: Bearer $DEV" -H "Idempotency-Key: $(key a2)" \
  | jq '{state, amount_approved}'
json "$API/pools/$POOL" -H "authorization: Bearer $ADA" | jq .balances

# 6. Cleo pays it in two parts; each payout is confirmed paid (a bank partner app could do that).
for part in 100.00 150.00; do
  PAYOUT=$(json -X POST "$API/requests/$REQUEST/disbursements" -H "authorization: Bearer $CLEO" \
    -H "Idempotency-Key: $(key "p$part")" -d "{\"amount\": \"$part\"}" | jq -r .id)
  json -X POST "$API/disbursements/$PAYOUT/outcome" -H "authorization: Bearer $CLEO" \
    -H "Idempotency-Key: $(key "o$part")" -d '{"outcome": "paid"}' | jq '{amount, status}'
done
json "$API/requests/$REQUEST" -H "authorization: Bearer $MO" | jq '{state, amount_approved, paid}'

# 7. The pool and its journal: every entry balances; no names in the ledger.
json "$API/pools/$POOL" -H "authorization: Bearer $ADA" | jq .balances
json "$API/pools/$POOL/entries" -H "authorization: Bearer $MO" | jq -r '.items[] | "\(.kind)\t\([.postings[] | "\(.account) \(.amount)"] | join(", "))"'

# 8. Today's statement as CSV (dates in the collective's time zone): the same entries, with running balance.
TODAY=$(TZ=Europe/Berlin date +%F)
curl -fsS "$API/pools/$POOL/statement?from=$TODAY&to=$TODAY" -H "authorization: Bearer $ADA" -H 'Accept: text/csv' | cut -d, -f1,4,7-12
