//! Redacting a person out of copies: the JSON documents other tables keep
//! (stored idempotent answers, event snapshots, audit details).
//!
//! A [`Redaction`] knows the person's texts (name, email, contacts, private
//! details, payout references, comments, notes) and the ids of what is
//! theirs (user, membership, requests, pledges, contributions). In any
//! document, a text holding one of their texts becomes the tombstone; in a
//! document about something of theirs, so does every text under a personal
//! field (`private`, `note`, `tier`, `declarations` …), since some personal
//! values (a tier such as `direct`) are too common to find by their text.
//! Ids, amounts, dates and states stay.

use std::collections::BTreeSet;

use serde_json::Value;

use super::TOMBSTONE;

/// Fields whose texts are personal data wherever they appear in a document
/// about the person.
const PERSONAL_FIELDS: &[&str] = &[
    "private",
    "private_details",
    "payout_reference",
    "beneficiary",
    "beneficiary_name",
    "beneficiary_contact",
    "contact",
    "withdrawal_reason",
    "rejection_reason",
    "reason",
    "note",
    "body",
    "tier",
    "declarations",
    "display_name",
    "email",
    "donor_name",
    "donor_email",
    "phone",
    "other_contact",
    "external_reference",
];

/// Texts shorter than this are not searched for (they would match
/// unrelated words); they are reached through [`PERSONAL_FIELDS`].
const SHORTEST: usize = 4;

#[derive(Debug, Default, Clone)]
pub struct Redaction {
    texts: BTreeSet<String>,
    ids: BTreeSet<String>,
}

impl Redaction {
    /// Adds a text of the person's to search for.
    pub fn text(&mut self, text: &str) {
        let text = text.trim();
        if text.chars().count() >= SHORTEST && text != TOMBSTONE {
            self.texts.insert(text.to_owned());
        }
    }

    pub fn text_opt(&mut self, text: Option<&str>) {
        if let Some(t) = text {
            self.text(t);
        }
    }

    /// Adds an aid request's private texts: its details, payout reference,
    /// beneficiary, and the reasons given for withdrawing or rejecting it.
    pub fn request_texts(&mut self, request: &crate::requests::store::RequestRow) {
        self.text(&request.private_details);
        self.text_opt(request.payout_reference.as_deref());
        self.text_opt(request.beneficiary_name.as_deref());
        self.text_opt(request.beneficiary_contact.as_deref());
        self.text_opt(request.withdrawal_reason.as_deref());
        self.text_opt(request.rejection_reason.as_deref());
    }

    /// Adds the id of something of the person's.
    pub fn id(&mut self, id: &str) {
        self.ids.insert(id.to_owned());
    }

    /// Adds everything `other` searches for.
    pub fn merge(&mut self, other: &Redaction) {
        self.texts.extend(other.texts.iter().cloned());
        self.ids.extend(other.ids.iter().cloned());
    }

    pub fn owns(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Whether `text` holds one of the person's texts.
    pub fn mentions(&self, text: &str) -> bool {
        self.texts.iter().any(|t| text.contains(t.as_str()))
    }

    /// Whether the document names something of the person's by its id.
    pub fn is_about(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => self.ids.contains(s),
            Value::Array(items) => items.iter().any(|v| self.is_about(v)),
            Value::Object(fields) => fields.values().any(|v| self.is_about(v)),
            _ => false,
        }
    }

    /// Redacts the document in place; answers whether anything changed.
    /// `about`: the document is about the person (see the module's doc).
    pub fn apply(&self, value: &mut Value, about: bool) -> bool {
        self.walk(value, about, false)
    }

    fn walk(&self, value: &mut Value, about: bool, personal: bool) -> bool {
        match value {
            Value::String(s) if s != TOMBSTONE && ((about && personal) || self.mentions(s)) => {
                *s = TOMBSTONE.to_owned();
                true
            }
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, v| self.walk(v, about, personal) | changed),
            Value::Object(fields) => fields.iter_mut().fold(false, |changed, (key, v)| {
                let personal = personal || PERSONAL_FIELDS.contains(&key.as_str());
                // Ids inside a personal field (an issue's id beside its
                // tier) are not personal texts.
                let personal = personal && !(key == "id" || key.ends_with("_id"));
                self.walk(v, about, personal) | changed
            }),
            _ => false,
        }
    }

    /// Redacts a stored text that may or may not be JSON; `None` when
    /// nothing changed.
    pub fn apply_to_text(&self, text: &str, about: bool) -> Option<String> {
        match serde_json::from_str::<Value>(text) {
            Ok(mut value) => {
                let about = about || self.is_about(&value);
                self.apply(&mut value, about).then(|| value.to_string())
            }
            Err(_) => self.mentions(text).then(|| TOMBSTONE.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ada() -> Redaction {
        let mut r = Redaction::default();
        r.text("Ada Lovelace");
        r.text("ada@example.org");
        r.text("ab"); // too short to search for
        r.id("req-1");
        r
    }

    #[test]
    fn a_text_holding_the_persons_text_is_replaced_anywhere() {
        let mut doc = json!({"id": "other", "display_name": "Ada Lovelace",
                             "list": [{"email": "Mail: ada@example.org"}], "amount": "10.00",
                             "state": "paid", "label": "ab"});
        assert!(ada().apply(&mut doc, false));
        assert_eq!(
            doc,
            json!({"id": "other", "display_name": TOMBSTONE,
                   "list": [{"email": TOMBSTONE}], "amount": "10.00", "state": "paid",
                   "label": "ab"})
        );
    }

    #[test]
    fn in_a_document_about_the_person_personal_fields_go_but_ids_stay() {
        let mut doc = json!({"id": "req-1", "state": "paid",
                             "private": {"details": "x", "payout_reference": "y"},
                             "declarations": [{"issue_id": "i1", "tier": "direct"}]});
        let r = ada();
        assert!(r.is_about(&doc));
        assert!(r.apply(&mut doc, true));
        assert_eq!(
            doc,
            json!({"id": "req-1", "state": "paid",
                   "private": {"details": TOMBSTONE, "payout_reference": TOMBSTONE},
                   "declarations": [{"issue_id": "i1", "tier": TOMBSTONE}]})
        );
        // Applying again changes nothing.
        assert!(!r.apply(&mut doc, true));
    }

    #[test]
    fn a_document_about_someone_else_keeps_its_personal_fields() {
        let mut doc = json!({"id": "req-2", "private": {"details": "someone else's"}});
        let r = ada();
        assert!(!r.is_about(&doc));
        assert!(!r.apply(&mut doc, false));
    }
}
