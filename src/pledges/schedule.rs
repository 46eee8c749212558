//! The pure rules of a pledge: when its installments fall due, what a
//! payment fulfils, what is owed, and when the pledge has lapsed. No
//! database and no clock: callers pass the stored facts and today's date in
//! the collective's time zone, so the API (on read) and the scheduled task
//! (on write) reach the same answer from the same facts.

use chrono::{Days, NaiveDate};

use super::{Frequency, PledgeStatus};
use crate::calendar::add_months;

/// Most installments one pledge may have: ten years of monthly, or over two
/// years of weekly installments.
pub const MAX_INSTALLMENTS: u32 = 120;

/// What a pledge promises: `count` installments of `amount_minor`, the first
/// due on `starts_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub frequency: Frequency,
    pub starts_on: NaiveDate,
    pub count: u32,
    pub amount_minor: i64,
}

/// The due date of installment `seq` (1-based). Monthly installments keep
/// the starting day of the month, or the month's last day where it has none.
pub fn due_on(frequency: Frequency, starts_on: NaiveDate, seq: u32) -> Option<NaiveDate> {
    let k = seq.checked_sub(1)?;
    match frequency {
        Frequency::Once if k == 0 => Some(starts_on),
        Frequency::Once => None,
        Frequency::Weekly => starts_on.checked_add_days(Days::new(7 * u64::from(k))),
        Frequency::Monthly => add_months(starts_on, k),
    }
}

/// How many installments fall on or before `ends_on`; at most
/// `MAX_INSTALLMENTS + 1`, so callers can tell "too many".
pub fn count_until(frequency: Frequency, starts_on: NaiveDate, ends_on: NaiveDate) -> u32 {
    (1..=MAX_INSTALLMENTS + 1)
        .take_while(|seq| due_on(frequency, starts_on, *seq).is_some_and(|d| d <= ends_on))
        .count() as u32
}

/// What people have said about the pledge: it runs, it is paused (since a
/// date), or it is cancelled (since a date). Fulfilled and lapsed are not
/// stances: they follow from the installments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stance {
    Active,
    Paused { since: NaiveDate },
    Cancelled,
}

/// One installment as stored, or as the schedule says it will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub seq: u32,
    pub due_on: NaiveDate,
    pub amount_minor: i64,
    pub paid_minor: i64,
    /// Forgiven: it fell due while the pledge was paused, or after it was
    /// cancelled.
    pub waived: bool,
}

impl Slot {
    /// What is still owed on it.
    pub fn unpaid(&self) -> i64 {
        if self.waived {
            0
        } else {
            self.amount_minor - self.paid_minor
        }
    }

    pub fn settled(&self) -> bool {
        self.unpaid() == 0
    }
}

/// What the stored rows say about installment `seq`: paid so far and waived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub seq: u32,
    pub paid_minor: i64,
    pub waived: bool,
}

/// Every installment of a pledge: the stored ones as stored, the rest as the
/// schedule makes them (unpaid).
pub fn slots(terms: &Terms, stored: &[Stored]) -> Vec<Slot> {
    (1..=terms.count)
        .filter_map(|seq| {
            let due_on = due_on(terms.frequency, terms.starts_on, seq)?;
            let row = stored.iter().find(|s| s.seq == seq);
            Some(Slot {
                seq,
                due_on,
                amount_minor: terms.amount_minor,
                paid_minor: row.map_or(0, |r| r.paid_minor),
                waived: row.is_some_and(|r| r.waived),
            })
        })
        .collect()
}

/// The lapse rule: a pledge has lapsed when an installment is still unpaid
/// more than `grace_days` after it fell due. (Due on the 1st with 3 days of
/// grace: still fine on the 4th, lapsed on the 5th.)
pub fn lapsed(slots: &[Slot], today: NaiveDate, grace_days: u32) -> bool {
    slots.iter().any(|slot| {
        slot.unpaid() > 0
            && slot
                .due_on
                .checked_add_days(Days::new(u64::from(grace_days)))
                .is_some_and(|last_day| last_day < today)
    })
}

/// The status of a pledge, from its stance and its installments, today.
pub fn status(stance: Stance, slots: &[Slot], today: NaiveDate, grace_days: u32) -> PledgeStatus {
    if stance == Stance::Cancelled {
        return PledgeStatus::Cancelled;
    }
    if slots.iter().all(Slot::settled) {
        return PledgeStatus::Fulfilled;
    }
    match stance {
        Stance::Paused { .. } => PledgeStatus::Paused,
        _ if lapsed(slots, today, grace_days) => PledgeStatus::Lapsed,
        _ => PledgeStatus::Active,
    }
}

/// Where one installment stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    Paid,
    Waived,
    /// Falls due while the pledge is paused: not owed now.
    Suspended,
    /// Unpaid when the pledge was cancelled past its due date.
    Missed,
    Overdue,
    /// Due today.
    Due,
    Upcoming,
}

impl SlotState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Waived => "waived",
            Self::Suspended => "suspended",
            Self::Missed => "missed",
            Self::Overdue => "overdue",
            Self::Due => "due",
            Self::Upcoming => "upcoming",
        }
    }
}

pub fn slot_state(slot: &Slot, stance: Stance, today: NaiveDate) -> SlotState {
    if slot.waived {
        return SlotState::Waived;
    }
    if slot.settled() {
        return SlotState::Paid;
    }
    match stance {
        Stance::Cancelled => SlotState::Missed,
        Stance::Paused { since } if slot.due_on >= since => SlotState::Suspended,
        _ if slot.due_on < today => SlotState::Overdue,
        _ if slot.due_on == today => SlotState::Due,
        _ => SlotState::Upcoming,
    }
}

/// What a pledge adds up to today.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Everything promised.
    pub total: i64,
    pub paid: i64,
    /// Forgiven by pausing or cancelling.
    pub waived: i64,
    /// Still expected: all unpaid installments, now or later (nothing once
    /// cancelled).
    pub outstanding: i64,
    /// Owed now: unpaid installments due today or earlier.
    pub due_now: i64,
    /// The first unpaid installment after today, and what is left of it.
    pub next_due: Option<(NaiveDate, i64)>,
}

pub fn totals(slots: &[Slot], stance: Stance, today: NaiveDate) -> Totals {
    let mut t = Totals::default();
    for slot in slots {
        t.total += slot.amount_minor;
        t.paid += slot.paid_minor;
        if slot.waived {
            t.waived += slot.amount_minor - slot.paid_minor;
        }
        if stance == Stance::Cancelled {
            continue;
        }
        t.outstanding += slot.unpaid();
        match slot_state(slot, stance, today) {
            SlotState::Overdue | SlotState::Due => t.due_now += slot.unpaid(),
            SlotState::Upcoming if t.next_due.is_none() => {
                t.next_due = Some((slot.due_on, slot.unpaid()));
            }
            _ => {}
        }
    }
    t
}

/// Amount fallen due by `today` and the part of it paid, for the fulfilment
/// rate: installments waived or suspended by a pause are not counted; what
/// was paid ahead on later installments is not counted either.
pub fn fallen_due(slots: &[Slot], stance: Stance, today: NaiveDate) -> (i64, i64) {
    slots
        .iter()
        .filter(|s| s.due_on <= today && !s.waived)
        .filter(|s| slot_state(s, stance, today) != SlotState::Suspended)
        .fold((0, 0), |(due, paid), s| {
            (due + s.amount_minor, paid + s.paid_minor)
        })
}

/// Spreads a payment over the installments, oldest unpaid first (paying off
/// arrears before paying ahead). Returns the amount per installment and what
/// did not fit because everything is paid.
pub fn allocate(slots: &[Slot], amount_minor: i64) -> (Vec<(u32, i64)>, i64) {
    let mut left = amount_minor;
    let mut parts = Vec::new();
    for slot in slots {
        if left == 0 {
            break;
        }
        let take = slot.unpaid().min(left);
        if take > 0 {
            parts.push((slot.seq, take));
            left -= take;
        }
    }
    (parts, left)
}

/// Takes back up to `amount_minor` of what a contribution paid (listed per
/// installment in the order it was applied), newest installment first.
pub fn deallocate(applied: &[(u32, i64)], amount_minor: i64) -> Vec<(u32, i64)> {
    let mut left = amount_minor;
    let mut parts = Vec::new();
    for &(seq, paid) in applied.iter().rev() {
        if left == 0 {
            break;
        }
        let take = paid.min(left);
        if take > 0 {
            parts.push((seq, take));
            left -= take;
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn monthly(count: u32) -> Terms {
        Terms {
            frequency: Frequency::Monthly,
            starts_on: d(2026, 1, 31),
            count,
            amount_minor: 1000,
        }
    }

    #[test]
    fn schedules_keep_their_day_or_the_month_end() {
        let dates: Vec<_> = slots(&monthly(4), &[]).iter().map(|s| s.due_on).collect();
        assert_eq!(
            dates,
            [
                d(2026, 1, 31),
                d(2026, 2, 28),
                d(2026, 3, 31),
                d(2026, 4, 30)
            ]
        );
        assert_eq!(
            due_on(Frequency::Weekly, d(2026, 12, 29), 2),
            Some(d(2027, 1, 5))
        );
        assert_eq!(due_on(Frequency::Once, d(2026, 1, 1), 2), None);
        assert_eq!(
            count_until(Frequency::Monthly, d(2026, 1, 31), d(2026, 4, 29)),
            3
        );
        assert_eq!(
            count_until(Frequency::Weekly, d(2026, 1, 1), d(2036, 1, 1)),
            MAX_INSTALLMENTS + 1
        );
    }

    #[test]
    fn a_pledge_lapses_only_after_its_grace_period() {
        let s = slots(&monthly(3), &[]);
        // First installment due Jan 31, three days of grace.
        assert!(!lapsed(&s, d(2026, 2, 3), 3));
        assert!(lapsed(&s, d(2026, 2, 4), 3));
        assert_eq!(
            status(Stance::Active, &s, d(2026, 2, 3), 3),
            PledgeStatus::Active
        );
        assert_eq!(
            status(Stance::Active, &s, d(2026, 2, 4), 3),
            PledgeStatus::Lapsed
        );
        // A paused pledge does not lapse; a cancelled one is cancelled.
        let paused = Stance::Paused {
            since: d(2026, 1, 1),
        };
        assert_eq!(status(paused, &s, d(2026, 6, 1), 3), PledgeStatus::Paused);
        assert_eq!(
            status(Stance::Cancelled, &s, d(2026, 6, 1), 3),
            PledgeStatus::Cancelled
        );
    }

    #[test]
    fn paying_the_arrears_ends_the_lapse() {
        let stored = [Stored {
            seq: 1,
            paid_minor: 1000,
            waived: false,
        }];
        let s = slots(&monthly(3), &stored);
        assert_eq!(
            status(Stance::Active, &s, d(2026, 2, 20), 3),
            PledgeStatus::Active
        );
    }

    #[test]
    fn payments_fill_the_oldest_installment_first_and_partly() {
        let s = slots(&monthly(3), &[]);
        let (parts, rest) = allocate(&s, 1500);
        assert_eq!((parts, rest), (vec![(1, 1000), (2, 500)], 0));
        let stored = [
            Stored {
                seq: 1,
                paid_minor: 1000,
                waived: false,
            },
            Stored {
                seq: 2,
                paid_minor: 500,
                waived: false,
            },
        ];
        let s = slots(&monthly(3), &stored);
        assert_eq!(allocate(&s, 400), (vec![(2, 400)], 0));
        // More than is left: the rest does not fit.
        assert_eq!(allocate(&s, 2000), (vec![(2, 500), (3, 1000)], 500));
        assert_eq!(
            deallocate(&[(2, 500), (3, 1000)], 1200),
            [(3, 1000), (2, 200)]
        );
    }

    #[test]
    fn a_fully_paid_pledge_is_fulfilled() {
        let stored: Vec<Stored> = (1..=3)
            .map(|seq| Stored {
                seq,
                paid_minor: 1000,
                waived: seq == 2,
            })
            .collect();
        let s = slots(&monthly(3), &stored);
        assert_eq!(
            status(Stance::Active, &s, d(2030, 1, 1), 0),
            PledgeStatus::Fulfilled
        );
    }

    #[test]
    fn totals_say_what_is_owed_now_and_next() {
        let stored = [Stored {
            seq: 1,
            paid_minor: 400,
            waived: false,
        }];
        let s = slots(&monthly(3), &stored);
        let t = totals(&s, Stance::Active, d(2026, 2, 28));
        assert_eq!(t.total, 3000);
        assert_eq!(t.paid, 400);
        assert_eq!(t.outstanding, 2600);
        assert_eq!(t.due_now, 600 + 1000);
        assert_eq!(t.next_due, Some((d(2026, 3, 31), 1000)));
        // While paused, what falls due after the pause began is not owed.
        let paused = Stance::Paused {
            since: d(2026, 2, 1),
        };
        let t = totals(&s, paused, d(2026, 2, 28));
        assert_eq!(t.due_now, 600);
        assert_eq!(fallen_due(&s, paused, d(2026, 2, 28)), (1000, 400));
        assert_eq!(totals(&s, Stance::Cancelled, d(2026, 2, 28)).outstanding, 0);
        assert_eq!(
            slot_state(&s[1], Stance::Cancelled, d(2026, 3, 1)),
            SlotState::Missed
        );
    }
}
