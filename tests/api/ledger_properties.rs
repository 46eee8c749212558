//! Property test: random sequences of ledger operations, with every
//! invariant checked after every step.

use commonpot::auth::access::Principal;
use commonpot::db::{DatabaseUrl, DbConnection};
use commonpot::error::Error;
use commonpot::flows;
use commonpot::ledger::contributions::{Method, NewContribution, NewRefund, RefundKind};
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
    /// Contributions with a refund or chargeback, and reversed ones: the
    /// test's own record of what may no longer be reversed or refunded.
    refunded: Vec<String>,
    reversed: Vec<String>,
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

/// What the test knows before an operation, to judge its answer by.
struct Before {
    available: i64,
    deficit: i64,
    /// The hold the operation names: whether it is active, and what remains.
    hold: Option<(bool, i64)>,
    /// Whether the disbursement the operation names is still pending.
    pending: Option<bool>,
}

fn before(conn: &mut DbConnection, pool: &str, state: &State, op: &Op) -> Before {
    use commonpot::db::schema::{disbursements, holds};
    use diesel::prelude::*;
    let p = commonpot::pools::store::find(conn, pool).unwrap().unwrap();
    let hold_index = match op {
        Op::Release { hold, .. } | Op::Split { hold, .. } | Op::Disburse { hold, .. } => {
            Some(*hold)
        }
        _ => None,
    };
    let hold = hold_index.and_then(|i| pick(&state.holds, i)).map(|id| {
        let (status, remaining): (String, i64) = holds::table
            .find(id)
            .select((holds::status, holds::remaining_minor))
            .first(conn)
            .unwrap();
        (status == "active", remaining)
    });
    let pending = match op {
        Op::Resolve { disbursement, .. } => pick(&state.disbursements, *disbursement).map(|id| {
            disbursements::table
                .find(id)
                .select(disbursements::status)
                .first::<String>(conn)
                .unwrap()
                == "pending"
        }),
        _ => None,
    };
    Before {
        available: p.available_minor,
        deficit: p.deficit_minor,
        hold,
        pending,
    }
}

/// Whether the answer is the one the operation deserves: each operation may
/// be refused only with its own refusals, and only when the state before it
/// justifies the refusal (and some must succeed when nothing does). Any
/// other error — another conflict, an invalid input, storage — is a bug.
fn judge(
    op: &Op,
    before: &Before,
    state: &State,
    result: &Result<(), Error>,
) -> Result<(), String> {
    let code = match result {
        Ok(()) => None,
        Err(Error::Conflict { code, .. }) => Some(*code),
        Err(other) => return Err(format!("{op:?}: unexpected error {other:?}")),
    };
    let hold_short = |amount: i64| {
        before
            .hold
            .is_some_and(|(active, remaining)| !active || remaining < amount)
    };
    let justified = match (op, code) {
        (Op::Contribute { .. }, None) => true,
        (Op::Hold { cents }, None) => before.deficit == 0 && before.available >= *cents,
        (Op::Hold { .. }, Some("pool_in_deficit")) => before.deficit > 0,
        (Op::Hold { cents }, Some("insufficient_funds")) => before.available < *cents,
        (Op::Release { cents, .. }, result) => {
            // Without an amount, what remains is released: never too much.
            let short = cents.is_some_and(hold_short);
            match result {
                None => !short,
                Some(code) => code == "hold_exceeded" && short,
            }
        }
        (Op::Split { parts, .. }, result) => {
            let short = hold_short(parts.iter().sum());
            match result {
                None => !short,
                Some(code) => code == "hold_exceeded" && short,
            }
        }
        (Op::Disburse { cents, .. }, result) => {
            let short = hold_short(*cents);
            match result {
                None => !short,
                Some(code) => code == "hold_exceeded" && short,
            }
        }
        (Op::Resolve { .. }, None) => before.pending != Some(false),
        (Op::Resolve { .. }, Some("disbursement_resolved")) => before.pending == Some(false),
        (Op::Refund { contribution, .. }, result) => {
            let reversed = pick(&state.contributions, *contribution)
                .is_some_and(|(id, _)| state.reversed.contains(&id));
            match result {
                None => !reversed,
                Some("contribution_reversed") => reversed,
                // More than is left of it: the service's figure is checked
                // by the invariants after the step.
                Some("refund_exceeds_contribution") => !reversed,
                Some(_) => false,
            }
        }
        (Op::Reverse { contribution }, result) => {
            let (reversed, refunded) = pick(&state.contributions, *contribution)
                .map(|(id, _)| (state.reversed.contains(&id), state.refunded.contains(&id)))
                .unwrap_or_default();
            match result {
                None => !reversed && !refunded,
                Some("already_reversed") => reversed,
                Some("not_reversible") => refunded && !reversed,
                Some(_) => false,
            }
        }
        _ => false,
    };
    if justified {
        Ok(())
    } else {
        Err(format!(
            "{op:?}: answered {:?}, which the state before does not justify \
             (available {}, deficit {}, hold {:?}, disbursement pending {:?})",
            code.unwrap_or("success"),
            before.available,
            before.deficit,
            before.hold,
            before.pending
        ))
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
    let before = before(conn, pool, state, op);
    let mut refunded = None;
    let mut reversed = None;
    let result: Result<(), Error> = match op.clone() {
        Op::Contribute { cents, fee } => flows::record_contribution(
            conn,
            who,
            &pool.into(),
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
            &pool.into(),
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
                &id.as_str().into(),
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
                &id.as_str().into(),
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
                &id.as_str().into(),
                NewDisbursement {
                    amount: money(cents),
                    external_reference: None,
                },
            )
            .map(|d| state.disbursements.push(d.id)),
            None => Ok(()),
        },
        Op::Resolve { disbursement, paid } => match pick(&state.disbursements, disbursement) {
            Some(id) => flows::resolve_manual(
                conn,
                who,
                &id.as_str().into(),
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
            Some((id, _)) => flows::refund(
                conn,
                who,
                &id.as_str().into(),
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
            .map(|_| refunded = Some(id)),
            None => Ok(()),
        },
        Op::Reverse { contribution } => match pick(&state.contributions, contribution) {
            Some((id, entry)) => flows::reverse_entry(conn, who, &entry.as_str().into(), None)
                .map(|_| reversed = Some(id)),
            None => Ok(()),
        },
    };
    judge(op, &before, state, &result).map_err(TestCaseError::fail)?;
    state.refunded.extend(refunded);
    state.reversed.extend(reversed);
    Ok(())
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
                refunded: vec![],
                reversed: vec![],
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
