//! Dates in a collective's time zone. Due dates and statement periods are
//! calendar dates where the collective lives; the database stores UTC
//! instants. Everything here is pure: callers pass "now".

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};

/// A stored IANA zone name as a zone. Names are checked when collectives are
/// created or changed, so a bad one here is a bug.
pub fn zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>()
        .map_err(|_| Error::Internal(format!("stored time zone {name:?} is not an IANA zone")))
}

/// The date it is at `now` in `tz`.
pub fn today(tz: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// The local date of a stored UTC instant.
pub fn local_date(tz: Tz, at: NaiveDateTime) -> NaiveDate {
    at.and_utc().with_timezone(&tz).date_naive()
}

/// The first instant of `date` in `tz`, as a stored (UTC) timestamp. Where a
/// daylight-saving change skips local midnight, the day starts at the first
/// local time that exists.
pub fn start_of_day(tz: Tz, date: NaiveDate) -> NaiveDateTime {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    // Gaps are at most a few hours; step through them a quarter hour at a time.
    (0..=24 * 4)
        .map(|quarter| midnight + chrono::TimeDelta::minutes(15 * quarter))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map(|at| at.naive_utc())
        .unwrap_or(midnight)
}

/// The UTC instants `[start, end)` covering the local dates `from..=to`.
pub fn period(tz: Tz, from: NaiveDate, to: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let after = to.checked_add_days(Days::new(1)).unwrap_or(to);
    (start_of_day(tz, from), start_of_day(tz, after))
}

/// `date` plus `n` months, keeping the day of the month where it exists and
/// using the month's last day where it does not (Jan 31 → Feb 28 → Mar 31
/// when each is counted from Jan 31).
pub fn add_months(date: NaiveDate, n: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(n))
}

/// The first day of the month `date` is in.
pub fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// `YYYY-MM` of a date.
pub fn month_label(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_local_day_starts_at_local_midnight() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Winter: UTC+1.
        assert_eq!(
            start_of_day(berlin, d(2026, 1, 15)),
            d(2026, 1, 14).and_hms_opt(23, 0, 0).unwrap()
        );
        // Summer: UTC+2.
        assert_eq!(
            start_of_day(berlin, d(2026, 7, 15)),
            d(2026, 7, 14).and_hms_opt(22, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_clock_resumes() {
        // Santiago moves its clocks from 00:00 to 01:00 in September.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let start = start_of_day(santiago, d(2026, 9, 6));
        let local = start.and_utc().with_timezone(&santiago);
        assert_eq!(local.date_naive(), d(2026, 9, 6));
        assert_eq!(local.format("%H:%M").to_string(), "01:00");
    }

    #[test]
    fn periods_are_half_open_and_adjacent() {
        let tz: Tz = "Pacific/Auckland".parse().unwrap();
        let (_, end) = period(tz, d(2026, 3, 1), d(2026, 3, 31));
        let (start, _) = period(tz, d(2026, 4, 1), d(2026, 4, 30));
        assert_eq!(end, start);
    }

    #[test]
    fn months_clamp_to_the_last_day() {
        assert_eq!(add_months(d(2026, 1, 31), 1), Some(d(2026, 2, 28)));
        assert_eq!(add_months(d(2026, 1, 31), 2), Some(d(2026, 3, 31)));
        assert_eq!(add_months(d(2028, 1, 31), 1), Some(d(2028, 2, 29)));
        assert_eq!(month_label(d(2026, 3, 9)), "2026-03");
        assert_eq!(first_of_month(d(2026, 3, 9)), d(2026, 3, 1));
    }

    #[test]
    fn today_depends_on_the_zone() {
        let at = d(2026, 5, 1).and_hms_opt(23, 30, 0).unwrap().and_utc();
        assert_eq!(today("UTC".parse().unwrap(), at), d(2026, 5, 1));
        assert_eq!(today("Europe/Berlin".parse().unwrap(), at), d(2026, 5, 2));
        assert_eq!(
            today("America/Los_Angeles".parse().unwrap(), at),
            d(2026, 5, 1)
        );
    }
}
