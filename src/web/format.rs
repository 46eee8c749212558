//! How pages show money and time to people: `€1,250.00`, `¥970`, and
//! dates and times in the collective's time zone. The API's decimal strings
//! are reformatted as text, never through a float.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// Symbols people read at a glance; other currencies show their code.
fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" => "¥",
        "INR" => "₹",
        "KRW" => "₩",
        "ILS" => "₪",
        "NGN" => "₦",
        "PHP" => "₱",
        "UAH" => "₴",
        "TRY" => "₺",
        "VND" => "₫",
        "BRL" => "R$",
        "CAD" => "CA$",
        "AUD" => "A$",
        "NZD" => "NZ$",
        "MXN" => "MX$",
        _ => return None,
    })
}

/// A decimal amount in major units (`"1250.00"`, `"-3.5"`) with thousands
/// separators and the currency's symbol: `€1,250.00`. Text that is not a
/// plain decimal is shown as it came.
pub fn money(decimal: &str, code: &str) -> String {
    let (sign, digits) = match decimal.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", decimal),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{decimal} {code}");
    }
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = match fraction {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    };
    match symbol(code) {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{code} {number}"),
    }
}

/// A moment as people in the collective read it: `3 Dec 2026, 14:05`.
pub fn datetime(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%-d %b %Y, %H:%M")
        .to_string()
}

/// A date: `3 Dec 2026`.
pub fn date(day: NaiveDate) -> String {
    day.format("%-d %b %Y").to_string()
}

/// A state or code (`in_review`) as words (`in review`).
pub fn words(code: &str) -> String {
    code.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(money("1250.00", "EUR"), "€1,250.00");
        assert_eq!(money("970", "JPY"), "¥970");
        assert_eq!(money("1234567.891", "BHD"), "BHD 1,234,567.891");
        assert_eq!(money("0.50", "USD"), "$0.50");
        assert_eq!(money("-12.00", "GBP"), "-£12.00");
        assert_eq!(money("100", "CLP"), "CLP 100");
        assert_eq!(money("999.99", "EUR"), "€999.99");
        assert_eq!(money("1000", "JPY"), "¥1,000");
    }

    #[test]
    fn times_are_shown_in_the_collectives_zone() {
        let at = DateTime::parse_from_rfc3339("2026-12-03T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(datetime(at, chrono_tz::Europe::Berlin), "4 Dec 2026, 00:30");
        assert_eq!(
            datetime(at, chrono_tz::America::New_York),
            "3 Dec 2026, 18:30"
        );
    }
}
