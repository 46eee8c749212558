#!/usr/bin/env bash
# Walkthrough: participatory budgeting. Define the issues a collective
# organises around, members declare how they are affected (a coordinator
# verifies one), a round on a pool is opened (its budget is held), members
# vote, the round is closed (weights fixed), tallied, its results read, and
# enacted — which approves the funded requests with holds split from the
# round's — and finally the pool's entries and the pabulib export.
# Run it against a running `commonpot serve`, from the server's working
# directory (it bootstraps an admin with the CLI):
#
#   BASE=http://127.0.0.1:8080 COMMONPOT=./target/release/commonpot bash docs/walkthrough-rounds.sh
#
# Needs bash, curl and jq. Each run makes a new collective.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8080}
COMMONPOT=${COMMONPOT:-./target/release/commonpot}
API=$BASE/api/v1
RUN=$(date +%s)
PASSWORD='correct horse battery staple'
step() { printf '\n== %s\n' "$*"; }
json() { curl -sS -H 'content-type: application/json' "$@"; }
key() { echo "idem-$RUN-$1"; }

step "1. The first admin, a coordinator and three members"
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
MO=$(join "mo+$RUN@example.org" Mo member)
NOOR=$(join "noor+$RUN@example.org" Noor member)
PAT=$(join "pat+$RUN@example.org" Pat member)

step "2. A pool in euros with 1000.00 in it"
POOL=$(json -X POST "$API/collectives/$COLLECTIVE/pools" -H "authorization: Bearer $ADA" \
  -d '{"name": "Winter fund", "currency": "EUR", "rules": {"max_request": "500.00"}}' | jq -r .id)
json -X POST "$API/pools/$POOL/contributions" -H "authorization: Bearer $CLEO" -H "idempotency-key: $(key gift)" \
  -d '{"amount": "1000.00", "method": "cash"}' > /dev/null
json "$API/pools/$POOL" -H "authorization: Bearer $CLEO" | jq -c .balances

step "3. Cleo defines the issues the collective organises around"
EVICTION=$(json -X POST "$API/collectives/$COLLECTIVE/issues" -H "authorization: Bearer $CLEO" \
  -d '{"name": "facing eviction", "description": "an eviction notice or arrears"}' | jq -r .id)
INCOME=$(json -X POST "$API/collectives/$COLLECTIVE/issues" -H "authorization: Bearer $CLEO" \
  -d '{"name": "lost income"}' | jq -r .id)
json "$API/collectives/$COLLECTIVE/issues" -H "authorization: Bearer $MO" | jq -c 'map(.name)'

step "4. Members declare how they are affected (private: only they and coordinators see it)"
declare() { # token body
  json -X PUT "$API/collectives/$COLLECTIVE/affectedness/me" -H "authorization: Bearer $1" -d "$2"
}
MO_MEMBERSHIP=$(declare "$MO" "{\"declarations\": [{\"issue_id\": \"$EVICTION\", \"tier\": \"direct\"}]}" | jq -r .membership_id)
declare "$NOOR" "{\"declarations\": [{\"issue_id\": \"$INCOME\", \"tier\": \"indirect\"}]}" | jq -c '.declarations | map({tier, verified})'
declare "$PAT" "{\"declarations\": [{\"issue_id\": \"$EVICTION\", \"tier\": \"supporter\"}]}" > /dev/null
echo "Noor reading Mo's declarations:"
json "$API/collectives/$COLLECTIVE/members/$MO_MEMBERSHIP/affectedness" -H "authorization: Bearer $NOOR" | jq -c '{status, code}'
echo "Cleo verifies Mo's:"
json -X POST "$API/collectives/$COLLECTIVE/members/$MO_MEMBERSHIP/affectedness/$EVICTION/verification" \
  -H "authorization: Bearer $CLEO" | jq -c '.declarations | map({tier, verified})'

step "5. Three aid requests"
ask() { # token amount summary
  json -X POST "$API/pools/$POOL/requests" -H "authorization: Bearer $1" \
    -d "{\"amount\": \"$2\", \"category\": \"rent\", \"urgency\": \"standard\", \"public_summary\": \"$3\"}" | jq -r .id
}
RENT=$(ask "$MO" 400.00 "Two months of arrears")
FRIDGE=$(ask "$NOOR" 250.00 "A community fridge")
HEATING=$(ask "$PAT" 300.00 "Heating repair")

step "6. Cleo drafts a round: 600.00, approval of at most two, weighted toward the most affected"
ROUND=$(json -X POST "$API/pools/$POOL/rounds" -H "authorization: Bearer $CLEO" -d "{
  \"title\": \"Winter round\", \"budget\": \"600.00\",
  \"candidates\": [\"$RENT\", \"$FRIDGE\", \"$HEATING\"],
  \"ballot\": {\"type\": \"approval\", \"max_count\": 2},
  \"rule\": \"mes-add1\",
  \"policy\": {\"direct\": 3, \"indirect\": 2, \"supporter\": 1, \"count_unverified\": true, \"cap\": 3, \"no_declaration\": 1}}" | jq -r .id)
echo "$ROUND"

step "7. Opening holds the budget and puts the candidates to the vote"
json -X POST "$API/rounds/$ROUND/open" -H "authorization: Bearer $CLEO" -H "idempotency-key: $(key open)" | jq -c '{phase, hold_id}'
json "$API/pools/$POOL" -H "authorization: Bearer $CLEO" | jq -c .balances
json "$API/requests/$RENT" -H "authorization: Bearer $CLEO" | jq -c '{state}'
echo "Once open, its rules cannot change:"
json -X PATCH "$API/rounds/$ROUND" -H "authorization: Bearer $CLEO" -d '{"budget": "900.00"}' | jq -c '{status, code}'

step "8. Members vote (a ballot over the limit is refused, naming it)"
vote() { # token body
  json -X PUT "$API/rounds/$ROUND/ballots/me" -H "authorization: Bearer $1" -d "$2"
}
vote "$MO" "{\"approve\": [\"$RENT\", \"$FRIDGE\", \"$HEATING\"]}" | jq -c '{status, field, detail}'
vote "$MO" "{\"approve\": [\"$RENT\"]}" | jq -c .choices
vote "$NOOR" "{\"approve\": [\"$FRIDGE\", \"$RENT\"]}" > /dev/null
vote "$PAT" "{\"approve\": [\"$HEATING\"]}" > /dev/null
vote "$ADA" "{\"approve\": [\"$HEATING\", \"$FRIDGE\"]}" > /dev/null
echo "Mo reads his own ballot; Cleo, a coordinator, gets only hers (she has none):"
json "$API/rounds/$ROUND/ballots/me" -H "authorization: Bearer $MO" | jq -c .choices
json "$API/rounds/$ROUND/ballots/me" -H "authorization: Bearer $CLEO" | jq -c '{status, code}'

step "9. Close (weights are fixed now) and tally"
json -X POST "$API/rounds/$ROUND/close" -H "authorization: Bearer $CLEO" | jq -c '{phase}'
json -X POST "$API/rounds/$ROUND/tally" -H "authorization: Bearer $CLEO" > /dev/null

step "10. The results, readable by every member"
json "$API/rounds/$ROUND/results" -H "authorization: Bearer $PAT" | jq '{
  rule, budget, spent, left, selected,
  candidates: [.candidates[] | {request_id, cost, support, verdict}],
  participation, voters, total_weight}'

step "11. Enact: the group's approval (a retry with the same key changes nothing)"
json -X POST "$API/rounds/$ROUND/enact" -H "authorization: Bearer $CLEO" -H "idempotency-key: $(key enact)" | jq -c '{phase}'
curl -sS -o /dev/null -w 'retry: %{http_code}\n' -X POST "$API/rounds/$ROUND/enact" \
  -H "authorization: Bearer $CLEO" -H "idempotency-key: $(key enact)"
for id in "$RENT" "$FRIDGE" "$HEATING"; do
  json "$API/requests/$id" -H "authorization: Bearer $CLEO" | jq -c '{public_summary, state, amount_approved, hold_id}'
done

step "12. The pool: its balances and entries"
json "$API/pools/$POOL" -H "authorization: Bearer $CLEO" | jq -c .balances
json "$API/pools/$POOL/entries" -H "authorization: Bearer $CLEO" | jq -c '.items[] | {kind, postings: [.postings[] | {account, amount}]}'

step "13. The round in pabulib format, for anyone to re-run the tally"
curl -sS "$API/rounds/$ROUND/export.pb" -H "authorization: Bearer $CLEO"
