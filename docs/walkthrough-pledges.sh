#!/usr/bin/env bash
# The README's walkthrough of pledges and reports, as a script: create a
# public pool, have a member pledge monthly, record contributions against the
# pledge (paid in parts), read the pledge, the pool's pledge report, the
# statement as CSV, and the public summary without signing in.
#
# Run it from the directory `commonpot serve` runs in (the bootstrap step opens
# the same database file), e.g. from the repository root after
# `cargo run --release -- serve`:
#
#     docs/walkthrough-pledges.sh
#
# BASE      the service (default http://127.0.0.1:8080)
# COMMONPOT the binary (default ./target/release/commonpot)
#
# Needs bash, curl and jq. It can be run again on the same database: the people
# exist by then, and each run makes a new collective.
set -euo pipefail

step() { printf '\n== %s\n' "$*"; }
# The calls that must be refused print the problem's code; this checks it.
expect() { [ "$1" = "$2" ] || { echo "expected $2, got $1" >&2; exit 1; }; }

BASE=${BASE:-http://127.0.0.1:8080}
API=$BASE/api/v1
COMMONPOT=${COMMONPOT:-./target/release/commonpot}
ZONE=Europe/Berlin

step "1. A collective, its admin Ada, and Ada signed in"
COLLECTIVE=$(printf '%s\n' 'correct horse battery staple' | "$COMMONPOT" admin bootstrap \
  --email ada@example.org --name Ada \
  --collective "Northside Mutual Aid" --time-zone "$ZONE" | jq -r .collective.id)
ADA=$(curl -fsS "$API/auth/token" -H 'Content-Type: application/json' \
  -d '{"grant_type": "password", "username": "ada@example.org", "password": "correct horse battery staple"}' |
  jq -r .access_token)
echo "$COLLECTIVE"

step "2. Create a public pool with a goal"
POOL=$(curl -fsS "$API/collectives/$COLLECTIVE/pools" -H "Authorization: Bearer $ADA" \
  -H 'Content-Type: application/json' \
  -d '{"name": "Rent relief", "currency": "EUR", "goal": "2000.00", "public": true}' | jq -r .id)
echo "$POOL"

step "3. Invite Cai, who accepts and signs in"
INVITATION=$(curl -fsS "$API/collectives/$COLLECTIVE/members" -H "Authorization: Bearer $ADA" \
  -H 'Content-Type: application/json' \
  -d '{"email": "cai@example.org", "display_name": "Cai"}' | jq -r .invitation_token)
curl -fsS "$API/invitations/accept" -H 'Content-Type: application/json' \
  -d '{"invitation_token": "'"$INVITATION"'", "password": "keep the promise going"}' >/dev/null
CAI=$(curl -fsS "$API/auth/token" -H 'Content-Type: application/json' \
  -d '{"grant_type": "password", "username": "cai@example.org", "password": "keep the promise going"}' |
  jq -r .access_token)

step "4. Cai pledges 20.00 a month for six months (the first due today)"
PLEDGE=$(curl -fsS "$API/pools/$POOL/pledges" -H "Authorization: Bearer $CAI" \
  -H 'Content-Type: application/json' \
  -d '{"amount": "20.00", "frequency": "monthly", "installments": 6}')
PLEDGE_ID=$(jq -r .id <<<"$PLEDGE")
jq '{status, total, due_now, next_due_on, schedule: [.schedule[] | "\(.due_on) \(.amount) \(.state)"]}' <<<"$PLEDGE"
# A promise is not money: the pool's balances have not moved.
curl -fsS "$API/pools/$POOL" -H "Authorization: Bearer $ADA" | jq -c .balances

step "5. Ada records Cai's bank transfers against the pledge: 12.00, then 18.00"
for AMOUNT in 12.00 18.00; do
  curl -fsS "$API/pools/$POOL/contributions" -H "Authorization: Bearer $ADA" \
    -H "Idempotency-Key: $(uuidgen 2>/dev/null || cat /proc/sys/kernel/random/uuid)" \
    -H 'Content-Type: application/json' \
    -d '{"amount": "'"$AMOUNT"'", "method": "bank_transfer", "pledge_id": "'"$PLEDGE_ID"'"}' |
    jq -c '{amount, net, pledge_id, applied_to_pledge}'
done

step "6. The pledge: the first installment paid, 10.00 paid ahead on the second"
curl -fsS "$API/pledges/$PLEDGE_ID" -H "Authorization: Bearer $CAI" |
  jq '{status, paid, outstanding, due_now, next_due_on, next_due_amount,
       first_two: [.schedule[0:2][] | "\(.due_on) paid \(.paid) of \(.amount): \(.state)"]}'

step "7. What Cai sees of their own pledges and contributions"
curl -fsS "$API/me/pledges?collective_id=$COLLECTIVE" -H "Authorization: Bearer $CAI" |
  jq -c '.items[] | {amount, frequency, status, due_now, next_due_on}'
curl -fsS "$API/me/contributions?collective_id=$COLLECTIVE" -H "Authorization: Bearer $CAI" |
  jq -c '.items[] | {amount, applied_to_pledge}'
# Cai may not read the other pledges of the pool.
CODE=$(curl -sS "$API/pools/$POOL/pledges" -H "Authorization: Bearer $CAI" | jq -r .code)
echo "$CODE"   # forbidden (403)
expect "$CODE" forbidden

step "8. The pool's pledge report (coordinators)"
curl -fsS "$API/pools/$POOL/pledges/report" -H "Authorization: Bearer $ADA" |
  jq '{outstanding, due_this_month, overdue, fulfilment_rate_percent, active}'

step "9. This month's statement as CSV (dates in the collective's time zone)"
FROM=$(TZ=$ZONE date +%Y-%m-01)
TO=$(TZ=$ZONE date +%F)
curl -fsS "$API/pools/$POOL/statement?from=$FROM&to=$TO" \
  -H "Authorization: Bearer $ADA" -H 'Accept: text/csv'

step "10. The public summary, without signing in: no names, no one singled out"
curl -fsS "$API/pools/$POOL/summary" |
  jq '{view, name, goal, raised, goal_progress_percent, requests_helped, categories, pledges,
       this_month: .months[-1], this_quarter: .periods[-1]}'

step "done"
