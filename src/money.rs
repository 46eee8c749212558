//! Money: integer minor units of an ISO 4217 currency, never floating point.
//!
//! The API speaks decimal strings in major units (`"12.50"`). Parsing is
//! strict and never rounds: more decimals than the currency has, signs,
//! exponents, underscores or values beyond [`MAX_MINOR`] are refused with the
//! field named.

use std::fmt;

use crate::error::{Error, Result};

/// Largest amount accepted anywhere, in minor units (10^15: ten trillion
/// euros). Far below `i64::MAX`, so sums of many amounts cannot overflow.
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// Largest running total a pool keeps (received, refunded, fees, paid, and
/// each balance), in minor units: ten times [`MAX_MINOR`], a hundred
/// trillion euros. Every total stays at or below it, so even the sum of
/// nine hundred pools' totals fits in an `i64`; a movement that would pass
/// it is refused as an impossible amount (422), never an overflow.
pub const MAX_TOTAL_MINOR: i64 = 10 * MAX_MINOR;

/// A currency and its minor-unit exponent, fixed by ISO 4217.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    pub code: &'static str,
    pub exponent: u8,
}

/// ISO 4217 currencies in use, with their exponents. Those not listed have
/// two decimals except the ones marked here.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

impl Currency {
    /// The currency with this ISO 4217 code (upper case), if we know it.
    pub fn from_code(code: &str) -> Option<Self> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(code, exponent)| Currency {
                code,
                exponent: *exponent,
            })
    }

    pub fn check(field: &str, code: &str) -> Result<Self> {
        Self::from_code(code).ok_or_else(|| {
            Error::invalid(field, format!("{code:?} is not an ISO 4217 currency code"))
        })
    }

    fn scale(self) -> i64 {
        10_i64.pow(u32::from(self.exponent))
    }
}

/// An amount of one currency, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// Parses a decimal string in major units. `field` names the field in
    /// the error; negative amounts are never accepted.
    pub fn parse(field: &str, text: &str, currency: Currency) -> Result<Self> {
        let invalid = |message: String| Error::invalid(field, message);
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
            return Err(invalid(format!(
                "{text:?} is not an amount; write it like \"12.50\" (digits, at most one point, no sign or exponent)"
            )));
        }
        if whole.len() > 1 && whole.starts_with('0') {
            return Err(invalid(format!("{text:?} has a leading zero")));
        }
        let fraction = fraction.unwrap_or("");
        if fraction.len() > usize::from(currency.exponent) {
            return Err(invalid(format!(
                "{text:?} has more decimals than {} allows ({})",
                currency.code, currency.exponent
            )));
        }
        let too_large = || invalid(format!("{text:?} is too large"));
        let whole: i64 = whole.parse().map_err(|_| too_large())?;
        let padded = format!(
            "{fraction:0<width$}",
            width = usize::from(currency.exponent)
        );
        let fraction: i64 = if padded.is_empty() {
            0
        } else {
            padded.parse().map_err(|_| too_large())?
        };
        let minor = whole
            .checked_mul(currency.scale())
            .and_then(|m| m.checked_add(fraction))
            .filter(|m| *m <= MAX_MINOR)
            .ok_or_else(too_large)?;
        Ok(Self::new(minor, currency))
    }

    /// Like [`Money::parse`], and more than zero.
    pub fn parse_positive(field: &str, text: &str, currency: Currency) -> Result<Self> {
        let money = Self::parse(field, text, currency)?;
        if money.minor == 0 {
            return Err(Error::invalid(field, "must be more than zero"));
        }
        Ok(money)
    }

    /// The amount as the API shows it: major units with exactly the
    /// currency's decimals.
    pub fn to_decimal_string(self) -> String {
        format_minor(self.minor, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency.code)
    }
}

/// Minor units as a decimal string of major units.
pub fn format_minor(minor: i64, currency: Currency) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if currency.exponent == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10_u64.pow(u32::from(currency.exponent));
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = usize::from(currency.exponent)
    )
}

/// `part` as a percentage of `whole`, with two decimals, floored, exact in
/// integers (basis points); `None` when `whole` is not positive.
pub fn percent(part: i64, whole: i64) -> Option<String> {
    if whole <= 0 {
        return None;
    }
    let bp = (i128::from(part.max(0)) * 10_000) / i128::from(whole);
    Some(format!("{}.{:02}", bp / 100, bp % 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn exponents_come_from_iso_4217() {
        assert_eq!(Currency::from_code("JPY").unwrap().exponent, 0);
        assert_eq!(Currency::from_code("EUR").unwrap().exponent, 2);
        assert_eq!(Currency::from_code("BHD").unwrap().exponent, 3);
        assert!(Currency::from_code("XXX").is_none());
        assert!(Currency::from_code("eur").is_none());
    }

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(Money::parse("a", "12.50", eur()).unwrap().minor, 1250);
        assert_eq!(Money::parse("a", "12.5", eur()).unwrap().minor, 1250);
        assert_eq!(Money::parse("a", "12", eur()).unwrap().minor, 1200);
        assert_eq!(Money::parse("a", "0.01", eur()).unwrap().minor, 1);
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Money::parse("a", "500", jpy).unwrap().minor, 500);
        let bhd = Currency::from_code("BHD").unwrap();
        assert_eq!(Money::parse("a", "1.005", bhd).unwrap().minor, 1005);
    }

    #[test]
    fn bad_amounts_are_refused_never_rounded() {
        for text in [
            "12.345",
            "-1",
            "+1",
            "1e3",
            "1_000",
            "1,50",
            "",
            ".5",
            "5.",
            "abc",
            " 1",
            "0x10",
            "01",
            "NaN",
            "12.5.0",
            "99999999999999999999999",
        ] {
            assert!(
                Money::parse("amount", text, eur()).is_err(),
                "{text:?} accepted"
            );
        }
        let jpy = Currency::from_code("JPY").unwrap();
        assert!(Money::parse("amount", "1.5", jpy).is_err());
        assert!(
            Money::parse("amount", "10000000000000.01", eur()).is_err(),
            "beyond MAX_MINOR"
        );
        assert!(Money::parse_positive("amount", "0.00", eur()).is_err());
        match Money::parse("amount", "1.234", eur()) {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "amount"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn percentages_are_exact_and_floored() {
        assert_eq!(percent(1, 3), Some("33.33".into()));
        assert_eq!(percent(2, 3), Some("66.66".into()));
        assert_eq!(percent(3, 3), Some("100.00".into()));
        assert_eq!(percent(-5, 3), Some("0.00".into()));
        assert_eq!(percent(0, 0), None);
    }

    #[test]
    fn amounts_print_with_the_currency_decimals() {
        assert_eq!(format_minor(1250, eur()), "12.50");
        assert_eq!(format_minor(5, eur()), "0.05");
        assert_eq!(format_minor(-5, eur()), "-0.05");
        assert_eq!(
            format_minor(500, Currency::from_code("JPY").unwrap()),
            "500"
        );
        assert_eq!(
            format_minor(1005, Currency::from_code("BHD").unwrap()),
            "1.005"
        );
    }
}
