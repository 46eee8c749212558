//! The demo's six months, planned before anything is written: who joins
//! when, what they give, pledge and ask for, and what becomes of each
//! request. Only this file draws random numbers, all from the seed, so a
//! seed always gives the same story; [`super::run`] then plays it through
//! the services.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::names::{NameBook, NEEDS};
use crate::affectedness::Tier;
use crate::auth::policy::Role;

/// Minutes in a day: step times are minutes after the demo's start.
pub const DAY: i64 = 24 * 60;
/// How far back the story starts.
pub const SPAN_DAYS: i64 = 182;

/// The collective's issues.
pub const ISSUES: &[(&str, &str)] = &[
    (
        "facing eviction",
        "Notice to quit, arrears, or a court date.",
    ),
    ("lost income", "Lost a job, hours or benefits."),
    ("disabled", "Living with a disability or long-term illness."),
    (
        "caring for someone",
        "Unpaid care for a child, an elder or a sick relative.",
    ),
];

pub struct PoolPlan {
    pub name: &'static str,
    pub description: &'static str,
    pub currency: &'static str,
    /// Minor units of the smallest step amounts are rounded to.
    pub unit: i64,
    pub goal: i64,
    pub max_request: i64,
    pub approvals: i32,
    pub fast_track: Option<i64>,
    /// Requests' amounts, in units.
    pub asks: (i64, i64),
    /// Members' gifts, in units.
    pub gifts: (i64, i64),
    pub public: bool,
}

/// EUR, USD, JPY. Amounts in minor units.
pub fn pools() -> Vec<PoolPlan> {
    vec![
        PoolPlan {
            name: "Rent & bills",
            description: "Rent, energy and other bills for members in trouble.",
            currency: "EUR",
            unit: 1_000,
            goal: 2_000_000,
            max_request: 80_000,
            approvals: 2,
            fast_track: Some(30_000),
            asks: (6, 75),
            gifts: (1, 8),
            public: true,
        },
        PoolPlan {
            name: "Solidarity fund (USD)",
            description: "Gifts from the diaspora, for needs of families abroad.",
            currency: "USD",
            unit: 1_000,
            goal: 800_000,
            max_request: 80_000,
            approvals: 2,
            fast_track: None,
            asks: (8, 75),
            gifts: (1, 10),
            public: false,
        },
        PoolPlan {
            name: "Tokyo kitchen fund",
            description: "The sister kitchen's pool: food, transport, small repairs.",
            currency: "JPY",
            unit: 1_000,
            goal: 3_000_000,
            max_request: 100_000,
            approvals: 1,
            fast_track: None,
            asks: (8, 95),
            gifts: (1, 10),
            public: true,
        },
    ]
}

pub struct PersonPlan {
    pub name: String,
    pub email: String,
    pub role: Role,
    /// Scaled members get none (see [`super::Options::scale`]).
    pub has_password: bool,
    pub declarations: Vec<(usize, Tier)>,
    /// Whether a coordinator verifies their declarations.
    pub verified: bool,
}

/// What becomes of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Draft,
    Submitted,
    InReview,
    /// A coordinator declares a conflict of interest; another reviews it.
    Conflict,
    Approved,
    Rejected,
    Withdrawn,
    Cancelled,
    /// Paid in part; `failed`: one payment failed on the way.
    PartlyPaid {
        failed: bool,
    },
    PaidInParts,
    Paid,
    /// Fast-tracked: one approval, paid the same day.
    Emergency,
    /// A candidate of round `n` (see [`RoundPlan`]).
    Candidate(usize),
}

pub struct RequestPlan {
    pub pool: usize,
    pub requester: usize,
    pub amount: i64,
    /// Approved for less than asked, when set.
    pub granted: Option<i64>,
    pub need: usize,
    pub emergency: bool,
    pub fate: Fate,
}

impl RequestPlan {
    pub fn granted(&self) -> i64 {
        self.granted.unwrap_or(self.amount)
    }
}

pub enum Giver {
    Member(usize),
    Donor { name: &'static str, anonymous: bool },
}

pub struct GiftPlan {
    pub pool: usize,
    pub giver: Giver,
    pub amount: i64,
    pub fee: i64,
    pub method: &'static str,
    /// Recorded by the partner app (card payments) rather than a coordinator.
    pub by_partner: bool,
    pub pledge: Option<usize>,
}

pub struct PledgePlan {
    pub pool: usize,
    pub person: usize,
    pub amount: i64,
    pub frequency: &'static str,
    pub installments: Option<u32>,
    /// Starts this many days after it is made (today when zero).
    pub starts_after_days: i64,
}

pub struct RoundPlan {
    pub pool: usize,
    pub title: &'static str,
    pub budget: i64,
    pub ballot: serde_json::Value,
    pub candidates: Vec<usize>,
}

/// One thing that happens. Indices point into the plan's lists.
pub enum Step {
    Join {
        person: usize,
    },
    Verify {
        person: usize,
        by: usize,
    },
    RegisterPartner,
    Gift {
        gift: usize,
    },
    Refund {
        gift: usize,
        chargeback: bool,
    },
    Pledge {
        pledge: usize,
    },
    Ask {
        request: usize,
    },
    Take {
        request: usize,
        by: usize,
    },
    Conflict {
        request: usize,
        by: usize,
    },
    Comment {
        request: usize,
        by: usize,
        internal: bool,
        text: &'static str,
    },
    Approve {
        request: usize,
        by: usize,
    },
    Reject {
        request: usize,
        by: usize,
    },
    Withdraw {
        request: usize,
    },
    Cancel {
        request: usize,
        by: usize,
    },
    Pay {
        request: usize,
        payout: usize,
        amount: i64,
    },
    Settle {
        payout: usize,
        failed: bool,
    },
    CreateRound {
        round: usize,
    },
    OpenRound {
        round: usize,
    },
    Vote {
        round: usize,
        person: usize,
        points: Vec<(usize, u32)>,
    },
    CloseRound {
        round: usize,
    },
    TallyRound {
        round: usize,
    },
    EnactRound {
        round: usize,
    },
    /// Pays each request the round funded, in full.
    PayFunded {
        round: usize,
    },
    /// The pledge sweep the server runs: installments fall due, pledges lapse.
    Sweep,
}

pub struct Plan {
    pub pools: Vec<PoolPlan>,
    pub people: Vec<PersonPlan>,
    pub requests: Vec<RequestPlan>,
    pub gifts: Vec<GiftPlan>,
    pub pledges: Vec<PledgePlan>,
    pub rounds: Vec<RoundPlan>,
    pub payouts: usize,
    /// In time order; ties keep the order they were planned in.
    pub steps: Vec<(i64, Step)>,
}

/// Members have all joined by this day; what they do comes later.
const JOINED_BY: i64 = 21;

/// The admin is person 0, coordinators 1..=3, members after them.
pub const ADMIN: usize = 0;
pub const COORDINATORS: usize = 3;
const MEMBERS: usize = 40;
const REQUESTS: usize = 60;
/// Candidates of the enacted round and of the one open now.
const ENACTED_CANDIDATES: usize = 6;
const OPEN_CANDIDATES: usize = 5;

/// Requests per fate at scale 1 (candidates apart); the rest are paid.
const FATES: &[(Fate, usize)] = &[
    (Fate::Draft, 3),
    (Fate::Submitted, 5),
    (Fate::InReview, 4),
    (Fate::Conflict, 1),
    (Fate::Approved, 4),
    (Fate::Rejected, 4),
    (Fate::Withdrawn, 3),
    (Fate::Cancelled, 2),
    (Fate::PartlyPaid { failed: true }, 1),
    (Fate::PartlyPaid { failed: false }, 2),
    (Fate::PaidInParts, 4),
    (Fate::Emergency, 1),
];

struct Planner {
    rng: StdRng,
    plan: Plan,
}

pub fn plan(seed: u64, scale: u32) -> Plan {
    let scale = scale.max(1) as usize;
    let mut p = Planner {
        rng: StdRng::seed_from_u64(seed),
        plan: Plan {
            pools: pools(),
            people: Vec::new(),
            requests: Vec::new(),
            gifts: Vec::new(),
            pledges: Vec::new(),
            rounds: Vec::new(),
            payouts: 0,
            steps: Vec::new(),
        },
    };
    p.people(scale);
    p.partner_and_sweeps();
    p.requests(scale);
    p.rounds();
    p.founding_gifts();
    p.member_gifts();
    p.refund_and_chargeback();
    p.donors(scale);
    p.pledges(scale);
    let mut plan = p.plan;
    plan.steps.sort_by_key(|(at, _)| *at);
    plan
}

impl Planner {
    fn at(&mut self, at: i64, step: Step) {
        self.plan.steps.push((at, step));
    }

    fn between(&mut self, from_day: i64, to_day: i64) -> i64 {
        self.rng.gen_range(from_day * DAY..to_day * DAY)
    }

    fn coordinator(&mut self) -> usize {
        // The admin reviews requests too.
        self.rng.gen_range(ADMIN..=COORDINATORS)
    }

    /// `n` distinct reviewers, the first being `first`.
    fn reviewers(&mut self, first: usize, n: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (ADMIN..=COORDINATORS).filter(|c| *c != first).collect();
        all.shuffle(&mut self.rng);
        std::iter::once(first).chain(all).take(n).collect()
    }

    fn members(&self) -> std::ops::Range<usize> {
        COORDINATORS + 1..self.plan.people.len()
    }

    fn member(&mut self) -> usize {
        let members = self.members();
        self.rng.gen_range(members)
    }

    fn people(&mut self, scale: usize) {
        let mut book = NameBook::new();
        let count = 1 + COORDINATORS + MEMBERS * scale;
        for i in 0..count {
            let (name, email) = book.next(&mut self.rng);
            let role = match i {
                ADMIN => Role::Admin,
                i if i <= COORDINATORS => Role::Coordinator,
                _ => Role::Member,
            };
            let mut declarations = Vec::new();
            if role == Role::Member && self.rng.gen_bool(0.8) {
                let mut issues: Vec<usize> = (0..ISSUES.len()).collect();
                issues.shuffle(&mut self.rng);
                for issue in issues.into_iter().take(self.rng.gen_range(1..=2)) {
                    let tier = *[Tier::Direct, Tier::Indirect, Tier::Supporter]
                        .choose(&mut self.rng)
                        .unwrap_or(&Tier::Supporter);
                    declarations.push((issue, tier));
                }
            }
            let verified = !declarations.is_empty() && self.rng.gen_bool(0.85);
            self.plan.people.push(PersonPlan {
                name,
                email,
                role,
                has_password: i <= COORDINATORS + MEMBERS,
                declarations,
                verified,
            });
            // The admin founds the collective (at 0); coordinators join on
            // the first day, members over the first three weeks.
            let joins = match role {
                Role::Admin => None,
                Role::Coordinator => Some(60 + 30 * i as i64),
                Role::Member => Some(self.between(1, JOINED_BY)),
            };
            if let Some(at) = joins {
                self.at(at, Step::Join { person: i });
                if verified {
                    let by = self.rng.gen_range(1..=COORDINATORS);
                    let later = at + self.rng.gen_range(2 * DAY..10 * DAY);
                    self.at(later, Step::Verify { person: i, by });
                }
            }
        }
    }

    fn partner_and_sweeps(&mut self) {
        self.at(9 * DAY, Step::RegisterPartner);
        let weekly = (1..).map(|week| week * 7 * DAY + 3 * 60);
        for at in weekly.take_while(|at| *at < SPAN_DAYS * DAY - 60) {
            self.at(at, Step::Sweep);
        }
        self.at(SPAN_DAYS * DAY - 30, Step::Sweep);
    }

    fn amount(&mut self, pool: usize, range: (i64, i64)) -> i64 {
        let unit = self.plan.pools[pool].unit;
        self.rng.gen_range(range.0..=range.1) * unit
    }

    fn requests(&mut self, scale: usize) {
        let mut fates: Vec<Fate> = Vec::new();
        for (fate, n) in FATES {
            fates.extend(std::iter::repeat_n(*fate, n * scale));
        }
        let candidates = ENACTED_CANDIDATES + OPEN_CANDIDATES;
        let paid = (REQUESTS * scale).saturating_sub(fates.len() + candidates);
        fates.extend(std::iter::repeat_n(Fate::Paid, paid));
        fates.extend(std::iter::repeat_n(Fate::Candidate(0), ENACTED_CANDIDATES));
        fates.extend(std::iter::repeat_n(Fate::Candidate(1), OPEN_CANDIDATES));
        for fate in fates {
            self.request(fate);
        }
    }

    fn request(&mut self, fate: Fate) {
        let index = self.plan.requests.len();
        let pool = match fate {
            Fate::Conflict | Fate::Emergency | Fate::Candidate(0) => 0,
            Fate::Candidate(_) => 1,
            _ => *[0, 0, 0, 0, 1, 1, 2, 2].choose(&mut self.rng).unwrap_or(&0),
        };
        let amount = match fate {
            Fate::Emergency => self.amount(pool, (12, 29)),
            _ => {
                let asks = self.plan.pools[pool].asks;
                self.amount(pool, asks)
            }
        };
        let granted = (fate == Fate::Paid && self.rng.gen_bool(0.25))
            .then(|| (amount * 4 / 5).max(self.plan.pools[pool].unit));
        let requester = self.member();
        let need = self.rng.gen_range(0..NEEDS.len());
        self.plan.requests.push(RequestPlan {
            pool,
            requester,
            amount,
            granted,
            need,
            emergency: fate == Fate::Emergency,
            fate,
        });
        // When it is asked: what is still open was asked lately.
        let (from, to) = match fate {
            Fate::Draft | Fate::Submitted | Fate::InReview | Fate::Conflict | Fate::Approved => {
                (165, 177)
            }
            Fate::PartlyPaid { .. } => (150, 170),
            Fate::Candidate(0) => (70, 84),
            Fate::Candidate(_) => (160, 170),
            _ => (25, 165),
        };
        let ask = self.between(from, to);
        self.story(index, ask);
    }

    /// The steps of one request, from `ask` on.
    fn story(&mut self, r: usize, ask: i64) {
        let request = &self.plan.requests[r];
        let (fate, pool, requester) = (request.fate, request.pool, request.requester);
        let granted = request.granted();
        let needed = self.plan.pools[pool].approvals as usize;
        self.at(ask, Step::Ask { request: r });
        let hour = 60;
        if fate == Fate::Emergency {
            let by = self.coordinator();
            self.at(ask + hour, Step::Take { request: r, by });
            self.at(ask + 2 * hour, Step::Approve { request: r, by });
            self.pay(r, ask + 3 * hour, granted, false);
            return;
        }
        if matches!(fate, Fate::Draft | Fate::Submitted) {
            return;
        }
        if fate == Fate::Withdrawn {
            self.at(ask + 2 * DAY, Step::Withdraw { request: r });
            return;
        }
        let owner = self.coordinator();
        let mut t = ask + DAY + self.rng.gen_range(0..DAY / 2);
        if fate == Fate::Conflict {
            let conflicted = self.coordinator();
            self.at(
                t - 4 * hour,
                Step::Conflict {
                    request: r,
                    by: conflicted,
                },
            );
            let others = self.reviewers(conflicted, 3);
            self.at(
                t,
                Step::Take {
                    request: r,
                    by: others[1],
                },
            );
            self.conversation(r, others[1], requester, t);
            self.at(
                t + 2 * DAY,
                Step::Approve {
                    request: r,
                    by: others[2],
                },
            );
            return;
        }
        if matches!(fate, Fate::Candidate(_)) {
            // Half are taken into review before the round; all are eligible.
            if self.rng.gen_bool(0.5) {
                self.at(
                    t,
                    Step::Take {
                        request: r,
                        by: owner,
                    },
                );
            }
            return;
        }
        self.at(
            t,
            Step::Take {
                request: r,
                by: owner,
            },
        );
        self.conversation(r, owner, requester, t);
        t += 2 * DAY;
        match fate {
            Fate::InReview => return,
            Fate::Rejected => {
                self.at(
                    t,
                    Step::Reject {
                        request: r,
                        by: owner,
                    },
                );
                return;
            }
            _ => {}
        }
        for (i, by) in self.reviewers(owner, needed).into_iter().enumerate() {
            self.at(t + i as i64 * DAY, Step::Approve { request: r, by });
        }
        t += needed as i64 * DAY + DAY;
        match fate {
            Fate::Approved => {}
            Fate::Cancelled => self.at(
                t,
                Step::Cancel {
                    request: r,
                    by: owner,
                },
            ),
            Fate::Paid => self.pay(r, t, granted, false),
            Fate::PaidInParts => {
                let first = self.half(pool, granted);
                self.pay(r, t, first, false);
                self.pay(r, t + 7 * DAY, granted - first, false);
            }
            Fate::PartlyPaid { failed } => {
                let first = self.half(pool, granted);
                self.pay(r, t, first, failed);
                if failed {
                    self.pay(r, t + 3 * DAY, first, false);
                }
            }
            _ => {}
        }
    }

    /// About half of `amount`, in whole units, leaving something to pay.
    fn half(&self, pool: usize, amount: i64) -> i64 {
        let unit = self.plan.pools[pool].unit;
        ((amount / 2) / unit * unit).clamp(1, amount - 1)
    }

    fn pay(&mut self, request: usize, at: i64, amount: i64, fails: bool) {
        let payout = self.plan.payouts;
        self.plan.payouts += 1;
        self.at(
            at,
            Step::Pay {
                request,
                payout,
                amount,
            },
        );
        let settled = at + self.rng.gen_range(2 * 60..DAY);
        self.at(
            settled,
            Step::Settle {
                payout,
                failed: fails,
            },
        );
    }

    fn conversation(&mut self, r: usize, coordinator: usize, requester: usize, from: i64) {
        use super::names::{ASK_FOR_DETAILS, INTERNAL_NOTES, REPLIES};
        let i = self.rng.gen_range(0..ASK_FOR_DETAILS.len());
        let note = self.rng.gen_range(0..INTERNAL_NOTES.len());
        self.at(
            from + 60,
            Step::Comment {
                request: r,
                by: coordinator,
                internal: false,
                text: ASK_FOR_DETAILS[i],
            },
        );
        self.at(
            from + 5 * 60,
            Step::Comment {
                request: r,
                by: requester,
                internal: false,
                text: REPLIES[i],
            },
        );
        self.at(
            from + 8 * 60,
            Step::Comment {
                request: r,
                by: coordinator,
                internal: true,
                text: INTERNAL_NOTES[note],
            },
        );
    }

    fn rounds(&mut self) {
        let candidates = |fate: Fate, plan: &Plan| -> Vec<usize> {
            (0..plan.requests.len())
                .filter(|r| plan.requests[*r].fate == fate)
                .collect()
        };
        let enacted = candidates(Fate::Candidate(0), &self.plan);
        let open = candidates(Fate::Candidate(1), &self.plan);
        let budget = |plan: &Plan, list: &[usize], pool: usize| {
            let total: i64 = list.iter().map(|r| plan.requests[*r].amount).sum();
            let unit = plan.pools[pool].unit * 5;
            (total * 11 / 20) / unit * unit
        };
        self.plan.rounds.push(RoundPlan {
            pool: 0,
            title: "Spring round: who gets help first",
            budget: budget(&self.plan, &enacted, 0),
            ballot: serde_json::json!({"type": "approval", "max_count": 3}),
            candidates: enacted,
        });
        self.plan.rounds.push(RoundPlan {
            pool: 1,
            title: "Autumn round: family needs abroad",
            budget: budget(&self.plan, &open, 1),
            ballot: serde_json::json!({"type": "cumulative", "points": 10}),
            candidates: open,
        });
        // The enacted round: made on day 86, voted on for twelve days, then
        // counted, enacted and paid. The open one: opened a week ago.
        self.round_story(0, 86, 12, true);
        self.round_story(1, 174, 0, false);
    }

    fn round_story(&mut self, round: usize, day: i64, voting_days: i64, finished: bool) {
        self.at(day * DAY, Step::CreateRound { round });
        let opened = (day + 2) * DAY;
        self.at(opened, Step::OpenRound { round });
        let until = if finished {
            opened + voting_days * DAY
        } else {
            SPAN_DAYS * DAY - 60
        };
        let n = self.plan.rounds[round].candidates.len();
        let popularity: Vec<u32> = (0..n).map(|_| self.rng.gen_range(1..=10)).collect();
        let cumulative = self.plan.rounds[round].ballot["type"] == "cumulative";
        let share = if finished { 0.75 } else { 0.5 };
        for person in self.members() {
            if !self.rng.gen_bool(share) {
                continue;
            }
            let mut chosen: Vec<usize> = Vec::new();
            let wanted = self.rng.gen_range(1..=3.min(n));
            while chosen.len() < wanted {
                let total: u32 = popularity.iter().sum();
                let mut pick = self.rng.gen_range(0..total);
                let mut c = 0;
                while pick >= popularity[c] {
                    pick -= popularity[c];
                    c += 1;
                }
                if !chosen.contains(&c) {
                    chosen.push(c);
                }
            }
            let points: Vec<(usize, u32)> = if cumulative {
                let mut left = 10;
                let last = chosen.len() - 1;
                chosen
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let p = if i == last {
                            left
                        } else {
                            self.rng.gen_range(1..=left - (last - i) as u32)
                        };
                        left -= p;
                        (*c, p)
                    })
                    .collect()
            } else {
                chosen.iter().map(|c| (*c, 1)).collect()
            };
            let at = self.rng.gen_range(opened + 60..until);
            self.at(
                at,
                Step::Vote {
                    round,
                    person,
                    points,
                },
            );
        }
        if finished {
            self.at(until + 60, Step::CloseRound { round });
            self.at(until + 120, Step::TallyRound { round });
            self.at(until + DAY, Step::EnactRound { round });
            self.at(until + 3 * DAY, Step::PayFunded { round });
        }
    }

    /// Outside funders give what the approvals will hold — one gift at the
    /// start for the first three months, one for the rest — so the pools
    /// never run short; members' gifts come on top.
    fn founding_gifts(&mut self) {
        const FUNDERS: [&str; 2] = ["Neighbourhood Foundation", "St. Anne's parish"];
        let halfway = 85 * DAY;
        for pool in 0..self.plan.pools.len() {
            let mut early = 0;
            let mut late = 0;
            for r in &self.plan.requests {
                let holds = matches!(
                    r.fate,
                    Fate::Approved
                        | Fate::Cancelled
                        | Fate::Paid
                        | Fate::PaidInParts
                        | Fate::PartlyPaid { .. }
                        | Fate::Emergency
                );
                if r.pool == pool && holds {
                    late += r.granted();
                }
            }
            for round in &self.plan.rounds {
                if round.pool == pool {
                    early += round.budget;
                }
            }
            // Requests before day 85 need the first gift; their share of
            // all holds is taken generously.
            let first_share = self.early_holds(pool, halfway);
            early += first_share;
            late -= first_share;
            let round_up = |amount: i64, unit: i64| (amount / (unit * 100) + 1) * unit * 100;
            let unit = self.plan.pools[pool].unit;
            for (i, (at, amount)) in [(DAY, early), (halfway - DAY, late.max(0))]
                .into_iter()
                .enumerate()
            {
                let gift = self.plan.gifts.len();
                self.plan.gifts.push(GiftPlan {
                    pool,
                    giver: Giver::Donor {
                        name: FUNDERS[i],
                        anonymous: false,
                    },
                    amount: round_up(amount + amount / 10, unit),
                    fee: 0,
                    method: "bank_transfer",
                    by_partner: false,
                    pledge: None,
                });
                self.at(at + 10 * 60, Step::Gift { gift });
            }
        }
    }

    fn early_holds(&self, pool: usize, before: i64) -> i64 {
        let mut asked_before = std::collections::HashSet::new();
        for (at, step) in &self.plan.steps {
            if let Step::Ask { request } = step {
                if *at < before {
                    asked_before.insert(*request);
                }
            }
        }
        self.plan
            .requests
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                r.pool == pool
                    && asked_before.contains(i)
                    && !matches!(
                        r.fate,
                        Fate::Draft
                            | Fate::Submitted
                            | Fate::InReview
                            | Fate::Conflict
                            | Fate::Rejected
                            | Fate::Withdrawn
                            | Fate::Candidate(_)
                    )
            })
            .map(|(_, r)| r.granted())
            .sum()
    }

    fn fee(&self, pool: usize, amount: i64) -> i64 {
        match self.plan.pools[pool].currency {
            "JPY" => amount * 36 / 1000,
            _ => amount * 15 / 1000 + 25,
        }
    }

    fn gift(&mut self, at: i64, pool: usize, giver: Giver, amount: i64, pledge: Option<usize>) {
        let card = at > 10 * DAY && self.rng.gen_bool(0.6);
        let method = if card {
            "card"
        } else if self.rng.gen_bool(0.7) {
            "bank_transfer"
        } else {
            "cash"
        };
        let gift = self.plan.gifts.len();
        self.plan.gifts.push(GiftPlan {
            pool,
            giver,
            amount,
            fee: if card { self.fee(pool, amount) } else { 0 },
            method,
            by_partner: card,
            pledge,
        });
        self.at(at, Step::Gift { gift });
    }

    fn member_gifts(&mut self) {
        for person in self.members() {
            for _ in 0..self.rng.gen_range(1..=5) {
                let pool = *[0, 0, 0, 1, 2].choose(&mut self.rng).unwrap_or(&0);
                let range = self.plan.pools[pool].gifts;
                let amount = self.amount(pool, range);
                let at = self.between(22, SPAN_DAYS - 1);
                self.gift(at, pool, Giver::Member(person), amount, None);
            }
        }
    }

    /// One gift refunded (paid twice by mistake) and one charged back with a
    /// dispute fee, both card payments to the EUR pool.
    fn refund_and_chargeback(&mut self) {
        for (day, amount, chargeback) in [(45, 5_000, false), (60, 8_000, true)] {
            let person = self.member();
            let gift = self.plan.gifts.len();
            self.plan.gifts.push(GiftPlan {
                pool: 0,
                giver: Giver::Member(person),
                amount,
                fee: self.fee(0, amount),
                method: "card",
                by_partner: true,
                pledge: None,
            });
            self.at(day * DAY, Step::Gift { gift });
            let later = if chargeback { 25 } else { 3 };
            self.at((day + later) * DAY, Step::Refund { gift, chargeback });
        }
    }

    fn donors(&mut self, scale: usize) {
        const DONORS: [&str; 4] = [
            "Corner bakery",
            "Anonymous",
            "Choir of the old mill",
            "Anonymous",
        ];
        for i in 0..4 * scale {
            let name = DONORS[i % DONORS.len()];
            let pool = i % 3;
            let amount = self.amount(pool, (10, 50));
            let at = self.between(15, SPAN_DAYS - 2);
            let giver = Giver::Donor {
                name,
                anonymous: name == "Anonymous",
            };
            self.gift(at, pool, giver, amount, None);
        }
    }

    /// Once, weekly and monthly pledges; kept (fulfilled or running) or
    /// lapsed.
    fn pledges(&mut self, scale: usize) {
        // (frequency, installments, paid installments, start day)
        let kinds: [(&str, u32, u32, (i64, i64)); 8] = [
            ("once", 1, 1, (22, 120)),
            ("once", 1, 1, (30, 150)),
            ("weekly", 8, 8, (25, 100)),
            ("weekly", 8, 8, (30, 110)),
            ("weekly", 12, 12, (150, 152)),
            ("weekly", 10, 3, (40, 60)),
            ("monthly", 3, 3, (22, 60)),
            ("monthly", 12, 2, (22, 40)),
        ];
        let monthly_running = 3;
        for _ in 0..scale {
            for (frequency, installments, paid, days) in kinds {
                self.pledge(frequency, installments, paid, days);
            }
            for _ in 0..monthly_running {
                self.pledge("monthly", 12, 12, (22, 35));
            }
            // Promised for next month: not due yet.
            let pledge = self.plan.pledges.len();
            let person = self.member();
            let amount = self.amount(0, (5, 20));
            self.plan.pledges.push(PledgePlan {
                pool: 0,
                person,
                amount,
                frequency: "once",
                installments: None,
                starts_after_days: 25,
            });
            let at = self.between(SPAN_DAYS - 10, SPAN_DAYS - 2);
            self.at(at, Step::Pledge { pledge });
        }
    }

    fn pledge(&mut self, frequency: &'static str, installments: u32, paid: u32, days: (i64, i64)) {
        let pledge = self.plan.pledges.len();
        let person = self.member();
        let pool = if self.rng.gen_bool(0.8) { 0 } else { 2 };
        let amount = match frequency {
            "once" => self.amount(pool, (5, 20)),
            _ => self.amount(pool, (1, 3)),
        };
        self.plan.pledges.push(PledgePlan {
            pool,
            person,
            amount,
            frequency,
            installments: (frequency != "once").then_some(installments),
            starts_after_days: 0,
        });
        let start = self.between(days.0, days.1);
        self.at(start, Step::Pledge { pledge });
        let period = match frequency {
            "weekly" => 7 * DAY,
            // A month's installment is paid a day or two after it falls due.
            _ => 30 * DAY + DAY / 2,
        };
        for i in 0..i64::from(paid) {
            let at = start + i * period + DAY + self.rng.gen_range(0..DAY);
            if at >= SPAN_DAYS * DAY - 60 {
                break;
            }
            self.gift(at, pool, Giver::Member(person), amount, Some(pledge));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(plan: &Plan) -> Vec<String> {
        let mut lines: Vec<String> = plan
            .people
            .iter()
            .map(|p| format!("{} {} {:?} {:?}", p.name, p.email, p.role, p.declarations))
            .collect();
        lines.extend(
            plan.requests
                .iter()
                .map(|r| format!("{} {} {} {:?}", r.pool, r.requester, r.amount, r.fate)),
        );
        lines.extend(
            plan.gifts
                .iter()
                .map(|g| format!("{} {} {}", g.pool, g.amount, g.method)),
        );
        lines.extend(
            plan.steps
                .iter()
                .map(|(at, step)| format!("{at} {}", step_name(step))),
        );
        lines
    }

    fn step_name(step: &Step) -> &'static str {
        super::super::run::describe(step)
    }

    #[test]
    fn a_seed_always_tells_the_same_story_and_another_seed_another() {
        assert_eq!(fingerprint(&plan(7, 1)), fingerprint(&plan(7, 1)));
        assert_ne!(fingerprint(&plan(7, 1)), fingerprint(&plan(8, 1)));
    }

    #[test]
    fn scale_multiplies_members_and_requests_and_keeps_every_fate() {
        for scale in [1, 3] {
            let plan = plan(5, scale);
            let n = scale as usize;
            assert_eq!(plan.people.len(), 1 + COORDINATORS + MEMBERS * n);
            assert_eq!(plan.requests.len(), REQUESTS * n);
            for (fate, count) in FATES {
                let planned = plan.requests.iter().filter(|r| r.fate == *fate).count();
                assert_eq!(planned, count * n, "{fate:?}");
            }
            assert!(plan.requests.iter().any(|r| r.fate == Fate::Paid));
            let with_password = plan.people.iter().filter(|p| p.has_password).count();
            assert_eq!(
                with_password,
                1 + COORDINATORS + MEMBERS,
                "scaled members have none"
            );
            let last = plan.steps.last().map(|(at, _)| *at).unwrap_or(0);
            assert!(
                last < SPAN_DAYS * DAY,
                "the story ends before now: {last} {}",
                plan.steps.last().map_or("", |(_, s)| step_name(s))
            );
            assert!(
                plan.steps.windows(2).all(|w| w[0].0 <= w[1].0),
                "in time order"
            );
        }
    }

    /// Who acts in a step, if a member or coordinator other than the admin.
    fn actor(plan: &Plan, step: &Step) -> Option<usize> {
        match step {
            Step::Verify { person, .. } | Step::Vote { person, .. } => Some(*person),
            Step::Ask { request } | Step::Withdraw { request } => {
                Some(plan.requests[*request].requester)
            }
            Step::Take { by, .. }
            | Step::Conflict { by, .. }
            | Step::Comment { by, .. }
            | Step::Approve { by, .. }
            | Step::Reject { by, .. }
            | Step::Cancel { by, .. } => Some(*by),
            Step::Pledge { pledge } => Some(plan.pledges[*pledge].person),
            Step::Gift { gift } => match plan.gifts[*gift].giver {
                Giver::Member(person) => Some(person),
                Giver::Donor { .. } => None,
            },
            _ => None,
        }
        .filter(|p| *p != ADMIN)
    }

    #[test]
    fn nobody_acts_before_joining() {
        for seed in 0..20 {
            let plan = plan(seed, 2);
            let mut joined = vec![false; plan.people.len()];
            joined[ADMIN] = true;
            for (at, step) in &plan.steps {
                if let Step::Join { person } = step {
                    joined[*person] = true;
                }
                if let Some(person) = actor(&plan, step) {
                    assert!(
                        joined[person],
                        "seed {seed}: person {person} acts at {at} before joining"
                    );
                }
            }
        }
    }
}
