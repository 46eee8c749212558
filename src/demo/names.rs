//! The demo's people and words: fixed lists, picked from by the seeded
//! random generator, so a seed always gives the same names.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::Rng;

const FIRST: &[&str] = &[
    "Amara", "Bruno", "Chiara", "Dmitri", "Esi", "Farid", "Greta", "Hiroshi", "Ines", "Jonas",
    "Kemal", "Lena", "Malik", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Samir", "Tove", "Ugo",
    "Valeria", "Wanjiru", "Xavier", "Yara", "Zeynep", "Aiko", "Bilal", "Carmen", "Dario", "Elif",
    "Fatou", "Gustavo", "Hana", "Idris", "Julia", "Kofi", "Leila", "Mateo", "Noor", "Olu", "Paula",
    "Rafael", "Sofia", "Tariq", "Uma", "Vera", "Wen", "Yusuf", "Zoe",
];

const LAST: &[&str] = &[
    "Okafor",
    "Rossi",
    "Novak",
    "Haddad",
    "Lindqvist",
    "Tanaka",
    "Mensah",
    "García",
    "Kowalski",
    "Yilmaz",
    "Dubois",
    "Andersen",
    "Nakamura",
    "Costa",
    "Mwangi",
    "Fischer",
    "Ivanova",
    "Patel",
    "Moreau",
    "Schmidt",
    "Oyelaran",
    "Kaya",
    "Silva",
    "Berg",
    "Hosseini",
    "Castillo",
    "Wójcik",
    "Nguyen",
    "Ahmadi",
    "Lopes",
    "Richter",
    "Sato",
    "Diallo",
    "Horvat",
    "Jensen",
    "Keller",
    "Popescu",
    "Romero",
    "Suzuki",
    "Weber",
];

/// Unique display names and the email addresses made from them.
pub struct NameBook {
    taken: HashSet<String>,
}

impl NameBook {
    pub fn new() -> Self {
        Self {
            taken: HashSet::new(),
        }
    }

    /// A name nobody in the book has yet, and its email address.
    pub fn next(&mut self, rng: &mut impl Rng) -> (String, String) {
        loop {
            let first = FIRST.choose(rng).copied().unwrap_or("Alex");
            let last = LAST.choose(rng).copied().unwrap_or("Doe");
            let name = format!("{first} {last}");
            let base = format!("{}.{}", ascii(first), ascii(last));
            let email = if self.taken.insert(base.clone()) {
                format!("{base}@example.org")
            } else {
                // Beyond the lists' 2,000 pairs (scaled demos): number them.
                let n = self.taken.len();
                let numbered = format!("{base}{n}");
                if !self.taken.insert(numbered.clone()) {
                    continue;
                }
                format!("{numbered}@example.org")
            };
            return (name, email);
        }
    }
}

/// Lowercase ASCII for an email address ("García" → "garcia").
fn ascii(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' => 'a',
            'é' | 'è' => 'e',
            'í' => 'i',
            'ó' | 'ö' => 'o',
            'ú' | 'ü' => 'u',
            other => other,
        })
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_lowercase()
}

/// What people ask for: category, a public summary, private details.
pub const NEEDS: &[(&str, &str, &str)] = &[
    (
        "rent",
        "Help with this month's rent after a cut in hours",
        "Landlord has sent a final notice; the shortfall is the amount asked.",
    ),
    (
        "utilities",
        "Heating bill arrears before winter",
        "Supplier threatens disconnection; payment plan refused.",
    ),
    (
        "groceries",
        "Groceries for a family of four for two weeks",
        "Partner's wages are late; the food bank is closed on weekends.",
    ),
    (
        "medical",
        "Prescription costs not covered by insurance",
        "Monthly medication; the pharmacy will not defer payment again.",
    ),
    (
        "transport",
        "Bus pass to keep getting to work",
        "New job starts Monday, first wage in four weeks.",
    ),
    (
        "childcare",
        "Childcare fees while starting a training course",
        "Course ends in March; the nursery needs the deposit now.",
    ),
    (
        "moving",
        "Moving costs after an eviction",
        "Van and deposit for a room found through the housing group.",
    ),
    (
        "repairs",
        "Repair of a wheelchair ramp at home",
        "The council repair is months away; a carpenter in the group quoted this.",
    ),
    (
        "legal",
        "Court fees to contest an eviction",
        "Hearing in three weeks; legal aid covers the lawyer only.",
    ),
    (
        "funeral",
        "Funeral costs for a family member",
        "Family abroad; the rest is collected by the community.",
    ),
    (
        "education",
        "Laptop for school work",
        "The school's loan laptops are all out.",
    ),
    (
        "community",
        "Shared pantry shelves and a fridge for the street",
        "For the weekly food share in the community room.",
    ),
];

/// What coordinators and requesters say to each other.
pub const ASK_FOR_DETAILS: &[&str] = &[
    "Thanks for asking. Could you send a photo of the bill or notice?",
    "We have your request. Is the date you need it by firm?",
    "Could you tell us where the payment should go?",
];
pub const REPLIES: &[&str] = &[
    "Sent it by email just now, thank you.",
    "Yes, the date is firm. Thank you for looking at it so quickly.",
    "The details are in the payout field now.",
];
pub const INTERNAL_NOTES: &[&str] = &[
    "Checked the notice; amount matches.",
    "Second request this year; still well within the rules.",
    "Spoke with them on the phone, all clear.",
];
