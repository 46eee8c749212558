//! Plays the planned story through the services, as the API would: each
//! step is a call a person or the partner app makes, with the clock set to
//! when it happens. Inputs are written as the API's request bodies.

use std::collections::BTreeMap;

use chrono::{DurationRound, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::plan::{self, Fate, Giver, Plan, Step, ADMIN, DAY, ISSUES, SPAN_DAYS};
use super::{Account, Demo, DemoError, Options};
use crate::auth::access::Principal;
use crate::auth::password::{hash_password, random_bytes};
use crate::auth::policy::{Role, Scope};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{write_tx, Db, DbConnection};
use crate::error::{Error, Result};
use crate::money::{format_minor, Currency};
use crate::{affectedness, clients, collectives, pledges, pools, requests, rounds};

const COLLECTIVE: &str = "Riverside Mutual Aid (demo)";
const TIME_ZONE: &str = "Europe/Berlin";
/// The coordinator who records money and pays out.
const TREASURER: usize = 1;

/// Builds the demo on `db`, refusing a database that holds any collective.
pub fn run(db: &Db, settings: &Settings, options: &Options) -> Result<Demo, DemoError> {
    let plan = plan::plan(options.seed, options.scale);
    // Passwords are random, not from the seed (a seed is no secret); one
    // hash per role serves everyone with that role's password.
    let passwords = Passwords::new();
    let end = Utc::now()
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap_or_else(|_| Utc::now());
    let start = end - TimeDelta::days(SPAN_DAYS);
    let clock = Clock::settable(start);
    let mut conn = db.get()?;
    if let DbConnection::Sqlite(c) = &mut **conn {
        // The whole story is one transaction: keep the pages it changes in
        // memory (128 MB at most) rather than spilling them to the WAL as
        // SQLite's default 2 MB cache would, over and over.
        use diesel::connection::SimpleConnection;
        c.batch_execute("PRAGMA cache_size = -131072")?;
    }
    clock.run(|| {
        write_tx(&mut conn, |conn| {
            if collectives::store::any_collective(conn)? {
                return Err(DemoError::NotEmpty);
            }
            let mut live = Live::found(conn, &plan, &passwords, settings)?;
            // COMMONPOT_DEMO_TIMINGS=1: where the time goes, per kind of step.
            let timed = std::env::var_os("COMMONPOT_DEMO_TIMINGS").is_some();
            let mut timings: BTreeMap<&str, (usize, std::time::Duration)> = BTreeMap::new();
            for (at, step) in &plan.steps {
                clock.set(start + TimeDelta::minutes(*at));
                let began = timed.then(std::time::Instant::now);
                live.play(conn, step).map_err(|error| DemoError::Step {
                    step: format!("{} on day {}", describe(step), at / DAY),
                    error,
                })?;
                if let Some(began) = began {
                    let slot = timings.entry(describe(step)).or_default();
                    slot.0 += 1;
                    slot.1 += began.elapsed();
                }
            }
            for (what, (n, spent)) in &timings {
                eprintln!("{what:>24}: {n:>6} in {:>8.2} s", spent.as_secs_f64());
            }
            live.finish(conn)
        })
    })
}

struct Passwords {
    admin: String,
    coordinator: String,
    member: String,
    admin_hash: String,
    coordinator_hash: String,
    member_hash: String,
}

impl Passwords {
    fn new() -> Self {
        let make = |role: &str| {
            let words: String = random_bytes(8)
                .iter()
                .map(|b| char::from(b"abcdefghijkmnpqrstuvwxyz23456789"[usize::from(*b) % 32]))
                .collect();
            format!("demo-{role}-{words}")
        };
        let (admin, coordinator, member) = (make("admin"), make("coord"), make("member"));
        Self {
            admin_hash: hash_password(&admin),
            coordinator_hash: hash_password(&coordinator),
            member_hash: hash_password(&member),
            admin,
            coordinator,
            member,
        }
    }
}

/// Someone who has joined.
struct Joined {
    membership_id: String,
    principal: Principal,
}

/// What exists so far, by the plan's indices.
struct Live<'a> {
    plan: &'a Plan,
    passwords: &'a Passwords,
    grace_days: u32,
    collective_id: String,
    issues: Vec<String>,
    pools: Vec<(String, Currency)>,
    people: Vec<Option<Joined>>,
    requests: Vec<Option<String>>,
    gifts: Vec<Option<String>>,
    pledges: Vec<Option<String>>,
    payouts: Vec<Option<String>>,
    rounds: Vec<Option<String>>,
    partner: Option<(Principal, String)>,
}

fn body<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Internal(format!("demo input: {e}")))
}

impl<'a> Live<'a> {
    /// The admin founds the collective; issues and pools follow at once.
    fn found(
        conn: &mut DbConnection,
        plan: &'a Plan,
        passwords: &'a Passwords,
        settings: &Settings,
    ) -> Result<Self> {
        let admin = &plan.people[ADMIN];
        let (collective, membership) = collectives::service::bootstrap(
            conn,
            &admin.email,
            &admin.name,
            &passwords.admin,
            COLLECTIVE,
            TIME_ZONE,
        )?;
        collectives::service::mark_as_demo(conn, &collective.id)?;
        let user_id = membership
            .user_id
            .clone()
            .ok_or_else(|| Error::Internal("bootstrap made no account".into()))?;
        let principal = Principal::User { user_id };
        let mut people: Vec<Option<Joined>> = plan.people.iter().map(|_| None).collect();
        people[ADMIN] = Some(Joined {
            membership_id: membership.id,
            principal: principal.clone(),
        });
        let mut issues = Vec::new();
        for (name, description) in ISSUES {
            let issue = affectedness::service::create_issue(
                conn,
                &principal,
                &collective.id,
                body(json!({"name": name, "description": description}))?,
            )?;
            issues.push(issue.id);
        }
        let mut pool_ids = Vec::new();
        for pool in &plan.pools {
            let currency = Currency::from_code(pool.currency)
                .ok_or_else(|| Error::Internal(format!("unknown currency {}", pool.currency)))?;
            let show = |minor: i64| format_minor(minor, currency);
            let created = pools::service::create(
                conn,
                &principal,
                &collective.id,
                body(json!({
                    "name": pool.name,
                    "description": pool.description,
                    "currency": pool.currency,
                    "goal": show(pool.goal),
                    "public": pool.public,
                    "rules": {
                        "max_request": show(pool.max_request),
                        "approvals_needed": pool.approvals,
                        "fast_track_limit": pool.fast_track.map(show),
                        "requesters": "members",
                    },
                }))?,
            )?;
            pool_ids.push((created.id, currency));
        }
        Ok(Self {
            plan,
            passwords,
            grace_days: settings.pledge_grace_days,
            collective_id: collective.id,
            issues,
            pools: pool_ids,
            people,
            requests: vec![None; plan.requests.len()],
            gifts: vec![None; plan.gifts.len()],
            pledges: vec![None; plan.pledges.len()],
            payouts: vec![None; plan.payouts],
            rounds: vec![None; plan.rounds.len()],
            partner: None,
        })
    }

    fn person(&self, i: usize) -> Result<&Joined> {
        self.people[i]
            .as_ref()
            .ok_or_else(|| Error::Internal(format!("person {i} acts before joining")))
    }

    fn who(&self, i: usize) -> Result<&Principal> {
        Ok(&self.person(i)?.principal)
    }

    fn made<'b>(list: &'b [Option<String>], i: usize, what: &str) -> Result<&'b str> {
        list[i]
            .as_deref()
            .ok_or_else(|| Error::Internal(format!("{what} {i} used before it exists")))
    }

    fn request(&self, i: usize) -> Result<&str> {
        Self::made(&self.requests, i, "request")
    }

    fn round(&self, i: usize) -> Result<&str> {
        Self::made(&self.rounds, i, "round")
    }

    fn partner(&self) -> Result<&Principal> {
        self.partner
            .as_ref()
            .map(|(p, _)| p)
            .ok_or_else(|| Error::Internal("the partner app acts before it exists".into()))
    }

    fn money(&self, pool: usize, minor: i64) -> String {
        format_minor(minor, self.pools[pool].1)
    }

    fn play(&mut self, conn: &mut DbConnection, step: &Step) -> Result<()> {
        let plan = self.plan;
        match step {
            Step::Join { person } => self.join(conn, *person),
            Step::Verify { person, by } => {
                let membership = self.person(*person)?.membership_id.clone();
                for (issue, _) in &plan.people[*person].declarations {
                    affectedness::service::verify(
                        conn,
                        self.who(*by)?,
                        &self.collective_id,
                        &membership,
                        &self.issues[*issue],
                    )?;
                }
                Ok(())
            }
            Step::RegisterPartner => {
                let scopes = [
                    Scope::ContributionsWrite,
                    Scope::DisbursementsWrite,
                    Scope::PoolsRead,
                    Scope::RequestsRead,
                    Scope::EventsRead,
                ];
                let registered = clients::service::register(
                    conn,
                    self.who(ADMIN)?,
                    &self.collective_id,
                    body(json!({
                        "name": "Kindly Pay (card payments)",
                        "scopes": scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                    }))?,
                )?;
                let principal = Principal::Client {
                    client_id: registered.client.id.clone(),
                    collective_id: self.collective_id.clone(),
                    scopes: scopes.to_vec(),
                };
                self.partner = Some((principal, registered.client_secret));
                Ok(())
            }
            Step::Gift { gift } => self.gift(conn, *gift),
            Step::Refund { gift, chargeback } => {
                let planned = &plan.gifts[*gift];
                let input = if *chargeback {
                    json!({
                        "amount": self.money(planned.pool, planned.amount),
                        "kind": "chargeback",
                        "reason": "Cardholder disputed the payment",
                        "dispute_fee": self.money(planned.pool, 1_500),
                    })
                } else {
                    json!({
                        "amount": self.money(planned.pool, planned.amount),
                        "kind": "refund",
                        "reason": "Paid twice by mistake",
                    })
                };
                let id = Self::made(&self.gifts, *gift, "contribution")?;
                crate::flows::refund(conn, self.partner()?, &id.into(), body(input)?)?;
                Ok(())
            }
            Step::Pledge { pledge } => {
                let planned = &plan.pledges[*pledge];
                let starts_on = (planned.starts_after_days > 0).then(|| {
                    let tz = chrono_tz::Europe::Berlin;
                    crate::calendar::today(tz, crate::clock::now_utc())
                        + chrono::Days::new(planned.starts_after_days as u64)
                });
                let made = pledges::service::create(
                    conn,
                    self.who(planned.person)?,
                    &self.pools[planned.pool].0,
                    body(json!({
                        "amount": self.money(planned.pool, planned.amount),
                        "frequency": planned.frequency,
                        "installments": planned.installments,
                        "starts_on": starts_on,
                    }))?,
                    self.grace_days,
                )?;
                self.pledges[*pledge] = Some(made.id);
                Ok(())
            }
            Step::Ask { request } => self.ask(conn, *request),
            Step::Take { request, by } => {
                let id = self.request(*request)?;
                requests::service::take(conn, self.who(*by)?, id, body(json!({}))?, None)?;
                Ok(())
            }
            Step::Conflict { request, by } => {
                let id = self.request(*request)?;
                let reason = json!({"reason": "The requester is my neighbour; I step aside."});
                requests::service::declare_conflict(conn, self.who(*by)?, id, body(reason)?)?;
                Ok(())
            }
            Step::Comment {
                request,
                by,
                internal,
                text,
            } => {
                let id = self.request(*request)?;
                let input = if plan.people[*by].role == Role::Member {
                    json!({"body": text})
                } else {
                    let visibility = if *internal { "internal" } else { "requester" };
                    json!({"body": text, "visibility": visibility})
                };
                requests::service::comment(conn, self.who(*by)?, id, body(input)?)?;
                Ok(())
            }
            Step::Approve { request, by } => {
                let planned = &plan.requests[*request];
                let amount = planned.granted.map(|g| self.money(planned.pool, g));
                let id = self.request(*request)?;
                let input = body(json!({"amount": amount}))?;
                requests::service::approve(conn, self.who(*by)?, id, input, None)?;
                Ok(())
            }
            Step::Reject { request, by } => {
                let id = self.request(*request)?;
                let reason = json!({"reason": "Outside what this pool covers; we have passed on the \
                                   number of the city's hardship fund."});
                requests::service::reject(conn, self.who(*by)?, id, body(reason)?, None)?;
                Ok(())
            }
            Step::Withdraw { request } => {
                let requester = plan.requests[*request].requester;
                let id = self.request(*request)?;
                let reason = json!({"reason": "My employer paid the back wages after all."});
                requests::service::withdraw(conn, self.who(requester)?, id, body(reason)?, None)?;
                Ok(())
            }
            Step::Cancel { request, by } => {
                let id = self.request(*request)?;
                let reason = json!({"reason": "Covered by the council's emergency grant instead."});
                requests::service::cancel(conn, self.who(*by)?, id, body(reason)?, None)?;
                Ok(())
            }
            Step::Pay {
                request,
                payout,
                amount,
            } => {
                let pool = plan.requests[*request].pool;
                let id = self.request(*request)?;
                let paid = requests::service::disburse(
                    conn,
                    self.who(TREASURER)?,
                    id,
                    body(json!({"amount": self.money(pool, *amount)}))?,
                )?;
                self.payouts[*payout] = Some(paid.id);
                Ok(())
            }
            Step::Settle { payout, failed } => {
                let id = Self::made(&self.payouts, *payout, "disbursement")?;
                // The payment partner reports most outcomes; the treasurer
                // the cash ones.
                let by = if payout % 3 == 0 {
                    self.who(TREASURER)?
                } else {
                    self.partner()?
                };
                let outcome = if *failed {
                    json!({"outcome": "failed", "reason": "The bank returned it: account closed."})
                } else {
                    json!({"outcome": "paid", "external_reference": format!("po_{payout:06}")})
                };
                crate::flows::resolve_manual(conn, by, &id.into(), body(outcome)?)?;
                Ok(())
            }
            Step::CreateRound { round } => {
                let planned = &plan.rounds[*round];
                let candidates = planned
                    .candidates
                    .iter()
                    .map(|r| self.request(*r).map(str::to_owned))
                    .collect::<Result<Vec<_>>>()?;
                let made = rounds::service::create(
                    conn,
                    self.who(ADMIN)?,
                    &self.pools[planned.pool].0,
                    body(json!({
                        "title": planned.title,
                        "budget": self.money(planned.pool, planned.budget),
                        "candidates": candidates,
                        "ballot": planned.ballot,
                        "rule": "mes-add1",
                        "policy": {
                            "direct": 3, "indirect": 2, "supporter": 1,
                            "count_unverified": false, "no_declaration": 1,
                        },
                    }))?,
                )?;
                self.rounds[*round] = Some(made.id);
                Ok(())
            }
            Step::OpenRound { round } => {
                rounds::service::open(conn, self.who(ADMIN)?, self.round(*round)?, None)?;
                Ok(())
            }
            Step::Vote {
                round,
                person,
                points,
            } => {
                let planned = &plan.rounds[*round];
                let ids = points
                    .iter()
                    .map(|(c, p)| Ok((self.request(planned.candidates[*c])?.to_owned(), *p)))
                    .collect::<Result<Vec<_>>>()?;
                let choices = if planned.ballot["type"] == "cumulative" {
                    json!({"points": ids.into_iter().collect::<BTreeMap<_, _>>()})
                } else {
                    json!({"approve": ids.into_iter().map(|(id, _)| id).collect::<Vec<_>>()})
                };
                rounds::voting::cast(
                    conn,
                    self.who(*person)?,
                    self.round(*round)?,
                    body(choices)?,
                )?;
                Ok(())
            }
            Step::CloseRound { round } => {
                rounds::service::close(conn, self.who(ADMIN)?, self.round(*round)?, None)?;
                Ok(())
            }
            Step::TallyRound { round } => {
                let admin = self.who(ADMIN)?;
                let closed =
                    rounds::service::read_for_tally(conn, admin, self.round(*round)?, None)?;
                let result = closed.tally()?;
                rounds::service::store_tally(conn, admin, &closed, result)?;
                Ok(())
            }
            Step::EnactRound { round } => {
                rounds::service::enact(conn, self.who(ADMIN)?, self.round(*round)?, None)?;
                Ok(())
            }
            Step::PayFunded { round } => {
                let result = rounds::service::results(conn, self.who(ADMIN)?, self.round(*round)?)?;
                for funded in result.selected {
                    let paid = requests::service::disburse(
                        conn,
                        self.who(TREASURER)?,
                        &funded.request_id,
                        body(json!({"amount": funded.amount}))?,
                    )?;
                    let outcome =
                        json!({"outcome": "paid", "external_reference": format!("po_{}", paid.id)});
                    crate::flows::resolve_manual(
                        conn,
                        self.partner()?,
                        &paid.id.as_str().into(),
                        body(outcome)?,
                    )?;
                }
                Ok(())
            }
            Step::Sweep => {
                pledges::lapses::sweep(conn, crate::clock::now_utc())?;
                Ok(())
            }
        }
    }

    /// Invited by the admin, accepted at once, affectedness declared.
    fn join(&mut self, conn: &mut DbConnection, i: usize) -> Result<()> {
        let person = &self.plan.people[i];
        let invitation = collectives::service::invite(
            conn,
            self.who(ADMIN)?,
            &self.collective_id,
            body(json!({
                "email": person.email,
                "display_name": person.name,
                "role": person.role,
            }))?,
        )?;
        let hash = person.has_password.then(|| match person.role {
            Role::Admin => self.passwords.admin_hash.clone(),
            Role::Coordinator => self.passwords.coordinator_hash.clone(),
            Role::Member => self.passwords.member_hash.clone(),
        });
        let membership = collectives::service::accept_invitation_offline(
            conn,
            &invitation.invitation_token,
            hash,
        )?;
        let user_id = membership
            .user_id
            .clone()
            .ok_or_else(|| Error::Internal("an accepted membership has no account".into()))?;
        let principal = Principal::User { user_id };
        if !person.declarations.is_empty() {
            let declarations: Vec<Value> = person
                .declarations
                .iter()
                .map(|(issue, tier)| json!({"issue_id": self.issues[*issue], "tier": tier}))
                .collect();
            affectedness::service::declare(
                conn,
                &principal,
                &self.collective_id,
                body(json!({ "declarations": declarations }))?,
            )?;
        }
        self.people[i] = Some(Joined {
            membership_id: membership.id,
            principal,
        });
        Ok(())
    }

    fn gift(&mut self, conn: &mut DbConnection, i: usize) -> Result<()> {
        let planned = &self.plan.gifts[i];
        let contributor = match &planned.giver {
            Giver::Member(person) => json!({"member_id": self.person(*person)?.membership_id}),
            Giver::Donor { name, anonymous } => json!({"donor_name": name, "anonymous": anonymous}),
        };
        let (recorder, reference) = if planned.by_partner {
            (self.partner()?, Some(format!("ch_demo_{i:07}")))
        } else {
            (self.who(TREASURER)?, None)
        };
        let pledge = planned
            .pledge
            .map(|p| Self::made(&self.pledges, p, "pledge").map(str::to_owned))
            .transpose()?;
        let input = json!({
            "amount": self.money(planned.pool, planned.amount),
            "fee": self.money(planned.pool, planned.fee),
            "method": planned.method,
            "external_reference": reference,
            "contributor": contributor,
            "pledge_id": pledge,
        });
        let made = crate::flows::record_contribution(
            conn,
            recorder,
            &self.pools[planned.pool].0.as_str().into(),
            body(input)?,
        )?;
        self.gifts[i] = Some(made.id);
        Ok(())
    }

    fn ask(&mut self, conn: &mut DbConnection, i: usize) -> Result<()> {
        let planned = &self.plan.requests[i];
        let (category, summary, details) = super::names::NEEDS[planned.need];
        let made = requests::service::create(
            conn,
            self.who(planned.requester)?,
            &self.pools[planned.pool].0,
            body(json!({
                "amount": self.money(planned.pool, planned.amount),
                "category": category,
                "urgency": if planned.emergency { "emergency" } else { "standard" },
                "public_summary": summary,
                "private_details": details,
                "payout_reference": format!("DE89 3704 0044 0532 {:04} 00", i % 10_000),
                "shared_project": category == "community",
                "draft": planned.fate == Fate::Draft,
            }))?,
        )?;
        self.requests[i] = Some(made.id);
        Ok(())
    }

    fn finish(self, conn: &mut DbConnection) -> Result<Demo, DemoError> {
        let admin = self.who(ADMIN)?;
        let counts = requests::service::counts(conn, admin, &self.collective_id)?;
        let plan = self.plan;
        let account = |role: &'static str, i: usize, password: &str| Account {
            role,
            name: plan.people[i].name.clone(),
            email: plan.people[i].email.clone(),
            password: password.to_owned(),
        };
        // The member to sign in as: one who has asked for help.
        let member = plan
            .requests
            .iter()
            .find(|r| plan.people[r.requester].has_password && r.fate == Fate::Paid)
            .map_or(plan::COORDINATORS + 1, |r| r.requester);
        let (client_id, secret) = match &self.partner {
            Some((Principal::Client { client_id, .. }, secret)) => {
                (client_id.clone(), secret.clone())
            }
            _ => return Err(Error::Internal("the partner app was never registered".into()).into()),
        };
        Ok(Demo {
            collective_id: self.collective_id.clone(),
            collective_name: COLLECTIVE.to_owned(),
            accounts: vec![
                account("admin", ADMIN, &self.passwords.admin),
                account("coordinator", TREASURER, &self.passwords.coordinator),
                account("member", member, &self.passwords.member),
            ],
            partner: (client_id, secret),
            members: plan.people.len(),
            pools: plan.pools.len(),
            contributions: plan.gifts.len(),
            pledges: plan.pledges.len(),
            rounds: plan.rounds.len(),
            requests: counts.counts,
        })
    }
}

pub(super) fn describe(step: &Step) -> &'static str {
    match step {
        Step::Join { .. } => "join",
        Step::Verify { .. } => "verify affectedness",
        Step::RegisterPartner => "register the partner app",
        Step::Gift { .. } => "contribution",
        Step::Refund { .. } => "refund",
        Step::Pledge { .. } => "pledge",
        Step::Ask { .. } => "ask for help",
        Step::Take { .. } => "take into review",
        Step::Conflict { .. } => "declare a conflict",
        Step::Comment { .. } => "comment",
        Step::Approve { .. } => "approve",
        Step::Reject { .. } => "reject",
        Step::Withdraw { .. } => "withdraw",
        Step::Cancel { .. } => "cancel",
        Step::Pay { .. } => "pay",
        Step::Settle { .. } => "settle a payment",
        Step::CreateRound { .. } => "create a round",
        Step::OpenRound { .. } => "open a round",
        Step::Vote { .. } => "vote",
        Step::CloseRound { .. } => "close a round",
        Step::TallyRound { .. } => "tally a round",
        Step::EnactRound { .. } => "enact a round",
        Step::PayFunded { .. } => "pay funded requests",
        Step::Sweep => "pledge sweep",
    }
}
