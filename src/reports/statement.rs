//! A pool's statement for a period of dates in the collective's time zone:
//! the opening position, one line per journal entry written in the period
//! (tied to it by its id), totals, and the closing position. Entries are
//! dated when they were written to the journal (a contribution's
//! `received_at` may be earlier). The closing position of one period is the
//! opening position of the next: both are sums of the postings before one
//! instant, the start of a local day.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Flows;
use crate::auth::access::Principal;
use crate::auth::policy::Permission;
use crate::calendar;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::ids::utc;
use crate::ledger::{self, Account};
use crate::money::{format_minor, Currency};
use crate::pools::service::load_authorized;

/// The longest period one statement covers.
pub const MAX_PERIOD_DAYS: i64 = 366;

/// A pool's money at an instant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Position {
    pub available: String,
    pub held: String,
    /// Owed from refunds of money already spent.
    pub deficit: String,
    /// The pool's money: available + held − deficit.
    #[schema(example = "1250.00")]
    pub balance: String,
}

/// One journal entry of the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLine {
    /// The entry's date in the collective's time zone.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
    pub entry_id: String,
    /// `contribution`, `refund`, `chargeback`, `hold`, `release`,
    /// `disbursement` or `reversal`.
    pub kind: String,
    pub reference_kind: String,
    pub reference_id: String,
    /// Received from outside (gross).
    pub inflow: String,
    /// Paid out or given back.
    pub outflow: String,
    pub fees: String,
    /// Change of the held part (holds placed, released, paid out).
    pub held: String,
    /// Change of the balance: inflow − outflow − fees.
    pub change: String,
    /// The balance after this entry.
    pub balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementTotals {
    pub inflows: String,
    /// `paid_out` + `returned`.
    pub outflows: String,
    /// Paid out to requests.
    pub paid_out: String,
    /// Refunded, charged back or reversed.
    pub returned: String,
    pub fees: String,
    pub holds_placed: String,
    pub holds_released: String,
    /// Held money that left the pool as payouts.
    pub holds_paid_out: String,
    /// closing balance − opening balance.
    pub net_change: String,
}

/// A pool's statement for the dates `from` to `to`, both included.
#[derive(Debug, Serialize, ToSchema)]
pub struct Statement {
    pub pool_id: String,
    pub currency: String,
    /// The collective's time zone, which the dates are in.
    pub time_zone: String,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The period in UTC: from `starts_at` up to, not including, `ends_at`.
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub opening: Position,
    pub totals: StatementTotals,
    pub closing: Position,
    pub lines: Vec<StatementLine>,
}

/// Balances of the pool's own accounts, in minor units (deficit as the
/// account holds it: negative when owing).
#[derive(Debug, Default, Clone, Copy)]
struct Own {
    available: i64,
    held: i64,
    deficit: i64,
}

impl Own {
    fn add(&mut self, postings: &[(Account, i64)]) {
        for &(account, amount) in postings {
            match account {
                Account::Available => self.available += amount,
                Account::Held => self.held += amount,
                Account::Deficit => self.deficit += amount,
                _ => {}
            }
        }
    }

    fn balance(self) -> i64 {
        self.available + self.held + self.deficit
    }

    fn show(self, currency: Currency) -> Position {
        Position {
            available: format_minor(self.available, currency),
            held: format_minor(self.held, currency),
            deficit: format_minor(-self.deficit, currency),
            balance: format_minor(self.balance(), currency),
        }
    }
}

/// Checks a period: `from` not after `to`, at most [`MAX_PERIOD_DAYS`].
pub fn check_period(from: NaiveDate, to: NaiveDate) -> Result<()> {
    if to < from {
        return Err(Error::invalid("to", "must not be before from"));
    }
    if (to - from).num_days() + 1 > MAX_PERIOD_DAYS {
        return Err(Error::invalid(
            "to",
            format!("a statement covers at most {MAX_PERIOD_DAYS} days"),
        ));
    }
    Ok(())
}

pub fn statement(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Statement> {
    check_period(from, to)?;
    let (_, pool) = load_authorized(conn, principal, pool_id, Permission::ReadLedger)?;
    let currency = pool.currency()?;
    let tz = crate::collectives::store::time_zone(conn, &pool.collective_id)?;
    let (start, end) = calendar::period(tz, from, to);
    let mut own = Own::default();
    own.add(&minor(&ledger::sums_before(conn, &pool, start)?));
    let opening = own;
    let show = |m: i64| format_minor(m, currency);
    let mut total = Flows::default();
    let (mut placed, mut released, mut held_paid) = (0_i64, 0_i64, 0_i64);
    let mut lines = Vec::new();
    for entry in ledger::entries_between(conn, &pool, start, end)? {
        let postings = minor(&entry.postings);
        let flows = Flows::of(&postings);
        own.add(&postings);
        total.received += flows.received;
        total.returned += flows.returned;
        total.paid_out += flows.paid_out;
        total.fees += flows.fees;
        match flows.held {
            h if h > 0 => placed += h,
            h if h < 0 && entry.kind == ledger::EntryKind::Release => released -= h,
            h => held_paid -= h,
        }
        lines.push(StatementLine {
            date: calendar::local_date(tz, entry.created_at),
            at: utc(entry.created_at),
            kind: entry.kind.as_str().to_owned(),
            reference_kind: entry.reference.kind().to_owned(),
            reference_id: entry.reference.id().to_owned(),
            entry_id: entry.id.into_string(),
            inflow: show(flows.received),
            outflow: show(flows.returned + flows.paid_out),
            fees: show(flows.fees),
            held: show(flows.held),
            change: show(flows.change),
            balance: show(own.balance()),
        });
    }
    Ok(Statement {
        pool_id: pool.id.clone(),
        currency: currency.code.to_owned(),
        time_zone: tz.name().to_owned(),
        from,
        to,
        starts_at: utc(start),
        ends_at: utc(end),
        opening: opening.show(currency),
        totals: StatementTotals {
            inflows: show(total.received),
            outflows: show(total.returned + total.paid_out),
            paid_out: show(total.paid_out),
            returned: show(total.returned),
            fees: show(total.fees),
            holds_placed: show(placed),
            holds_released: show(released),
            holds_paid_out: show(held_paid),
            net_change: show(own.balance() - opening.balance()),
        },
        closing: own.show(currency),
        lines,
    })
}

/// The columns of the CSV form, in order.
pub const CSV_HEADER: [&str; 12] = [
    "date",
    "at",
    "entry_id",
    "kind",
    "reference_kind",
    "reference_id",
    "inflow",
    "outflow",
    "fees",
    "held",
    "change",
    "balance",
];

/// The statement as CSV: a header, an `opening_balance` row, one row per
/// entry, and a `closing_balance` row (those two carry only the balance, so
/// summing a column gives the period's total). Every cell is an id, a date,
/// a fixed word or an amount: nothing needs quoting, and no cell can start a
/// formula.
pub fn to_csv(statement: &Statement) -> String {
    let balance_row = |date: NaiveDate, at: DateTime<Utc>, kind: &str, balance: &str| {
        format!("{date},{},,{kind},,,,,,,,{balance}\r\n", at.to_rfc3339())
    };
    let mut out = String::with_capacity(128 * (statement.lines.len() + 3));
    out.push_str(&CSV_HEADER.join(","));
    out.push_str("\r\n");
    out.push_str(&balance_row(
        statement.from,
        statement.starts_at,
        "opening_balance",
        &statement.opening.balance,
    ));
    for line in &statement.lines {
        let cells = [
            &line.date.to_string(),
            &line.at.to_rfc3339(),
            &line.entry_id,
            &line.kind,
            &line.reference_kind,
            &line.reference_id,
            &line.inflow,
            &line.outflow,
            &line.fees,
            &line.held,
            &line.change,
            &line.balance,
        ];
        out.push_str(&cells.map(String::as_str).join(","));
        out.push_str("\r\n");
    }
    out.push_str(&balance_row(
        statement.to,
        statement.ends_at,
        "closing_balance",
        &statement.closing.balance,
    ));
    out
}

/// Postings in minor units, as the statement adds them up.
fn minor(postings: &[(Account, crate::money::Money)]) -> Vec<(Account, i64)> {
    postings.iter().map(|(a, m)| (*a, m.minor)).collect()
}
