//! Property test: random sequences of ledger operations, with every
//! invariant checked after every step.

use commonpot::auth::access::Principal;
use commonpot::db::{DatabaseUrl, DbConnection};
use commonpot::error::Error;
use commonpot::ledger::contributions::{self, Method, NewContribution, NewRefund, RefundKind};
use commonpot::ledger::holds::{
    self, DisbursementOutcome, NewDisbursement, NewHold, Outcome, ReleaseHold, SplitHold,
};
use commonpot::money::{format_minor, Currency};
use commonpot::pools::NewPool;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::helpers::{fresh_database, PASSWORD};

#[derive(Debug, Clone)]
enum Op {
    Contribute {
        cents: i64,
        fee: i64,
    },
    Hold {
        cents: i64,
    },
    Release {
        hold: usize,
        cents: Option<i64>,
    },
    Split {
        hold: usize,
        parts: Vec<i64>,
    },
    Disburse {
        hold: usize,
        cents: i64,
    },
    Resolve {
        disbursement: usize,
        paid: bool,
    },
    Refund {
        contribution: usize,
        cents: i64,
        dispute_fee: Option<i64>,
    },
    Reverse {
        contribution: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1i64..20_000, 0i64..300).prop_map(|(cents, fee)| Op::Contribute { cents, fee: fee.min(cents - 1) }),
        3 => (1i64..15_000).prop_map(|cents| Op::Hold { cents }),
        1 => (any::<usize>(), proptest::option::of(1i64..10_000)).prop_map(|(hold, cents)| Op::Release { hold, cents }),
        1 => (any::<usize>(), proptest::collection::vec(1i64..5_000, 1..4)).prop_map(|(hold, parts)| Op::Split { hold, parts }),
        3 => (any::<usize>(), 1i64..10_000).prop_map(|(hold, cents)| Op::Disburse { hold, cents }),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(disbursement, paid)| Op::Resolve { disbursement, paid }),
        1 => (any::<usize>(), 1i64..10_000, proptest::option::of(0i64..2_000)).prop_map(|(contribution, cents, dispute_fee)| Op::Refund { contribution, cents, dispute_fee }),
        1 => any::<usize>().prop_map(|contribution| Op::Reverse { contribution }),
    ]
}

struct State {
    holds: Vec<String>,
    disbursements: Vec<String>,
    contributions: Vec<(String, String)>,
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

/// Business refusals are fine; anything else is a bug.
fn allowed(result: Result<(), Error>) -> Result<(), TestCaseError> {
    match result {
        Ok(()) | Err(Error::Conflict { .. }) | Err(Error::Invalid { .. }) => Ok(()),
        Err(other) => Err(TestCaseError::fail(format!("unexpected error: {other:?}"))),
    }
}

fn apply(
    conn: &mut DbConnection,
    who: &Principal,
    pool: &str,
    state: &mut State,
    op: &Op,
) -> Result<(), TestCaseError> {
    let eur = Currency::from_code("EUR").unwrap();
    let money = |cents: i64| format_minor(cents, eur);
    let result: Result<(), Error> = match op.clone() {
        Op::Contribute { cents, fee } => contributions::record_contribution(
            conn,
            who,
            pool,
            NewContribution {
                amount: money(cents),
                fee: Some(money(fee)),
                method: Method::Card,
                external_reference: None,
                contributor: None,
                note: None,
                received_at: None,
                pledge_id: None,
            },
        )
        .map(|c| state.contributions.push((c.id, c.entry_id))),
        Op::Hold { cents } => holds::place_manual(
            conn,
            who,
            pool,
            NewHold {
                amount: money(cents),
                note: None,
            },
        )
        .map(|h| state.holds.push(h.id)),
        Op::Release { hold, cents } => match pick(&state.holds, hold) {
            Some(id) => holds::release_manual(
                conn,
                who,
                &id,
                ReleaseHold {
                    amount: cents.map(money),
                },
            )
            .map(drop),
            None => Ok(()),
        },
        Op::Split { hold, parts } => match pick(&state.holds, hold) {
            Some(id) => holds::split_manual(
                conn,
                who,
                &id,
                SplitHold {
                    amounts: parts.into_iter().map(money).collect(),
                },
            )
            .map(|children| state.holds.extend(children.into_iter().map(|c| c.id))),
            None => Ok(()),
        },
        Op::Disburse { hold, cents } => match pick(&state.holds, hold) {
            Some(id) => holds::disburse_manual(
                conn,
                who,
                &id,
                NewDisbursement {
                    amount: money(cents),
                    external_reference: None,
                },
            )
            .map(|d| state.disbursements.push(d.id)),
            None => Ok(()),
        },
        Op::Resolve { disbursement, paid } => match pick(&state.disbursements, disbursement) {
            Some(id) => holds::resolve_manual(
                conn,
                who,
                &id,
                DisbursementOutcome {
                    outcome: if paid { Outcome::Paid } else { Outcome::Failed },
                    external_reference: None,
                    reason: None,
                },
            )
            .map(drop),
            None => Ok(()),
        },
        Op::Refund {
            contribution,
            cents,
            dispute_fee,
        } => match pick(&state.contributions, contribution) {
            Some((id, _)) => contributions::refund(
                conn,
                who,
                &id,
                NewRefund {
                    amount: money(cents),
                    // A chargeback when the processor charges a dispute fee.
                    kind: if dispute_fee.is_some() {
                        RefundKind::Chargeback
                    } else {
                        RefundKind::Refund
                    },
                    reason: None,
                    dispute_fee: dispute_fee.map(money),
                },
            )
            .map(drop),
            None => Ok(()),
        },
        Op::Reverse { contribution } => match pick(&state.contributions, contribution) {
            Some((_, entry)) => contributions::reverse_entry(conn, who, &entry, None).map(drop),
            None => Ok(()),
        },
    };
    allowed(result)
}

#[test]
fn random_operation_sequences_keep_every_invariant() {
    let (_database, url) = fresh_database();
    let db = commonpot::db::open(&DatabaseUrl::parse(&url).unwrap(), 2).unwrap();
    let mut conn = db.get().unwrap();
    let (collective, membership) = commonpot::collectives::service::bootstrap(
        &mut conn,
        "props@example.org",
        "Prop Admin",
        PASSWORD,
        "Props",
        "UTC",
    )
    .unwrap();
    let who = Principal::User {
        user_id: membership
            .user_id
            .expect("an active membership shows its user"),
    };
    let conn = std::cell::RefCell::new(conn);
    let cases = if crate::helpers::postgres_url().is_some() {
        16
    } else {
        32
    };
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..30), |ops| {
            let mut conn = conn.borrow_mut();
            let conn = &mut *conn;
            let pool = commonpot::pools::service::create(
                conn,
                &who,
                &collective.id,
                NewPool {
                    name: "Prop pool".into(),
                    description: String::new(),
                    currency: "EUR".into(),
                    goal: None,
                    rules: None,
                    public: false,
                },
            )
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let mut state = State {
                holds: vec![],
                disbursements: vec![],
                contributions: vec![],
            };
            for op in &ops {
                apply(conn, &who, &pool.id, &mut state, op)?;
                let report = commonpot::ledger::verify::verify(conn)
                    .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                prop_assert!(report.is_clean(), "after {op:?}: {report}");
                let p = commonpot::pools::store::find(conn, &pool.id)
                    .unwrap()
                    .unwrap();
                prop_assert!(p.available_minor >= 0);
                prop_assert_eq!(
                    p.received_minor - p.refunded_minor - p.fees_minor - p.paid_minor,
                    p.available_minor + p.held_minor - p.deficit_minor,
                    "money appeared or disappeared after {:?}",
                    op
                );
            }
            Ok(())
        })
        .unwrap();
}
