//! Every problem `code` the service sends, with its status and what it
//! means: the one list. The README's error table is generated from it
//! (`commonpot error-codes`) and checked against it by a test, and another
//! test reads the source for codes missing here.

/// One problem code: the `code` member, the HTTP status it comes with, and
/// what it means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemCode {
    pub code: &'static str,
    pub status: u16,
    pub meaning: &'static str,
}

const fn c(code: &'static str, status: u16, meaning: &'static str) -> ProblemCode {
    ProblemCode {
        code,
        status,
        meaning,
    }
}

/// In the order the README lists them: by status, then as a reader meets them.
pub const CODES: &[ProblemCode] = &[
    c("malformed_json", 400, "the body is not JSON (or is empty, or has trailing data)"),
    c("unreadable_body", 400, "the body could not be read"),
    c("invalid_path_parameter", 400, "a path id is not a UUID, or holds the NUL character (`%00`)"),
    c("invalid_query", 400, "a query parameter could not be parsed, or is unknown where a list names its filters"),
    c("invalid_header", 400, "`If-Match` is not text"),
    c("idempotency_key_required", 400, "a money-moving `POST` without `Idempotency-Key`"),
    c("bad_request", 400, "any other request the server could not understand"),
    c("unauthenticated", 401, "no `Authorization: Bearer` header, or a malformed one; a pool's summary read without signing in when the pool is not public"),
    c("invalid_token", 401, "the access token is not valid (signature, `iss`, `aud` …), or its partner app is disabled"),
    c("token_expired", 401, "the access token has expired: refresh it"),
    c("invalid_grant", 401, "wrong email or password; unknown, revoked or expired refresh token; the wrong password when accepting an invitation to an existing account"),
    c("invalid_client", 401, "unknown or disabled partner app, or wrong secret"),
    c("totp_required", 401, "the password is right and the account has a second factor: send `totp_code` (or a `recovery_code`) with it; on the token endpoint, OAuth error `totp_required` with 400"),
    c("refresh_token_reused", 401, "a used refresh token was presented again: the whole sign-in is revoked"),
    c("forbidden", 403, "the caller's role is too low"),
    c("insufficient_scope", 403, "the partner app lacks the scope, or the action is not open to partner apps"),
    c("users_only", 403, "a partner app called an endpoint for people (`/me`, creating or listing collectives)"),
    c("membership_suspended", 403, "the caller's membership of this collective is suspended"),
    c("membership_not_active", 403, "the caller has not accepted the invitation yet"),
    c("own_request", 403, "nobody reviews, approves or rejects their own request (or one they submitted)"),
    c("conflict_of_interest", 403, "the coordinator declared a conflict of interest on this request"),
    c("requests_by_coordinators_only", 403, "in this pool, coordinators ask on members' behalf"),
    c("not_eligible", 403, "only members who joined before the round opened may vote in it"),
    c("wrong_password", 403, "the current password sent to change it is wrong (it counts toward the sign-in throttle)"),
    c("wrong_second_factor_code", 403, "the second-factor code (or recovery code) is wrong, was used already, or is from another time (it counts toward the sign-in throttle)"),
    c("second_factor_required", 403, "a collective the caller coordinates requires a second factor, and they have none: until they enrol, their sign-in works only for `/me/second-factor` (status, start, confirm)"),
    c("webhook_url_not_allowed", 403, "a webhook endpoint's URL is not `https` (unless the service allows `http`), or its host is or resolves to a loopback, private, link-local, unique-local, multicast, reserved or metadata address not on the service's allow-list"),
    c("not_found", 404, "no such thing — or it belongs to a collective the caller is not part of; also unknown routes"),
    c("method_not_allowed", 405, "the route exists, the method does not"),
    c("already_member", 409, "the person already has a membership of the collective"),
    c("invitation_expired", 409, "the invitation has expired"),
    c("reset_link_expired", 409, "the password-reset link is older than a day: ask an admin for a new one"),
    c("email_confirmation_expired", 409, "the email change's confirmation is older than a day: ask for the change again"),
    c("email_taken", 409, "confirming an email change: another account has the address"),
    c("second_factor_enrolled", 409, "the person has a confirmed second factor; disable it before enrolling another"),
    c("no_second_factor", 409, "no second factor to confirm (start an enrolment first), or none confirmed to disable or to make recovery codes for"),
    c("last_admin", 409, "the change would leave the collective without an active admin"),
    c("invalid_transition", 409, "the state cannot change that way (an aid request or a round in the wrong state; an invitation becomes active only by accepting it) (`current_state` or `current_phase`)"),
    c("already_owned", 409, "another coordinator owns the request; an admin can reassign it (`owner_user_id`)"),
    c("already_approved", 409, "this coordinator has already approved the request"),
    c("payment_pending", 409, "a payment for the request is pending; record its outcome first"),
    c("issue_exists", 409, "the collective already has an issue of this name"),
    c("round_locked", 409, "a round's rules are fixed once it opens"),
    c("round_not_open", 409, "ballots are cast, read and withdrawn only while the round is open (`current_phase`)"),
    c("candidate_unavailable", 409, "a candidate request cannot go to a vote (its state, pool or amount)"),
    c("exceeds_largest_request", 409, "enacting would approve a request above the pool's largest request"),
    c("round_not_closed", 409, "the round can be exported once closed"),
    c("round_not_tallied", 409, "results exist once the round is tallied"),
    c("ballot_exists", 409, "the ballot was cast meanwhile; try again to replace it"),
    c("pledge_closed", 409, "the pledge is fulfilled or cancelled: it no longer changes, and contributions are recorded without `pledge_id` (`current_status`)"),
    c("pledge_lapsed", 409, "a lapsed pledge becomes active again by paying its overdue installments, not by setting it `active` (`current_status`)"),
    c("insufficient_funds", 409, "the pool's available balance is too low (`available`, `needed`, `currency`)"),
    c("pool_in_deficit", 409, "refunds of spent money left a deficit; no new holds until it is covered (`deficit`)"),
    c("hold_exceeded", 409, "more than what remains of the hold (`remaining`)"),
    c("duplicate_contribution", 409, "a contribution with this `external_reference` is already in the pool (`contribution_id`)"),
    c("contribution_reversed", 409, "the contribution was reversed; it cannot be refunded"),
    c("refund_exceeds_contribution", 409, "more than can still be refunded of the contribution (`refundable`)"),
    c("not_reversible", 409, "only contribution entries without refunds can be reversed"),
    c("already_reversed", 409, "the entry was reversed already"),
    c("disbursement_resolved", 409, "the disbursement's outcome is already recorded (`current_status`)"),
    c("cursor_expired", 409, "the events feed's `after` is older than the events kept; read the current state, then the feed without `after` (`purged_through`)"),
    c("request_redacted", 409, "a comment on a request whose private texts were redacted: it had been closed longer than the collective keeps them (`retention_days`)"),
    c("concurrent_change", 409, "the object changed meanwhile: try again"),
    c("precondition_failed", 412, "`If-Match` names an old version; the current one is in `ETag`"),
    c("payload_too_large", 413, "the body is over 64 KiB"),
    c("unsupported_media_type", 415, "send `Content-Type: application/json` (the token endpoint also takes a form)"),
    c("validation_failed", 422, "a value breaks a rule; `field` names it (also: an `Idempotency-Key` reused with another body)"),
    c("too_many_attempts", 429, "too many failed sign-ins; wait `Retry-After` seconds"),
    c("internal", 500, "a bug: no detail is given; the cause is logged with the request id, which every response carries as `x-request-id`"),
    c("undecryptable", 500, "a private value stored for the resource does not decrypt with the service's keys (copied from another row, altered, or sealed with a key the keyring lacks): nothing was changed; the log names the place"),
    c("unavailable", 503, "the database cannot be reached (answered at once while it is known to be down), a query was cut off, it stayed locked, or no connection came within 10 s; `Retry-After` says when to try again. A money-moving request retried with the same `Idempotency-Key` moves money once"),
    c("storage_full", 503, "the database cannot store more (full disk; SQLite's page limit): the write was rolled back; `Retry-After` says when to try again; `/readyz` answers it too while storage is full"),
    c("overloaded", 503, "too many writes are waiting for the writer (its queue is full): nothing was done; `Retry-After` says when to try again, with the same `Idempotency-Key`"),
    c("database_unreachable", 503, "`/readyz`: the database does not answer within 2 s"),
];

/// The entry for a code, if the service may send it.
pub fn find(code: &str) -> Option<&'static ProblemCode> {
    CODES.iter().find(|c| c.code == code)
}

/// Where the README's table begins and ends.
pub const README_BEGIN: &str = "<!-- error codes: generated by `commonpot error-codes` -->";
pub const README_END: &str = "<!-- end of error codes -->";

/// The README's table of codes, generated from [`CODES`].
pub fn markdown_table() -> String {
    let mut table = String::from("| code | status | meaning |\n|---|---|---|\n");
    for c in CODES {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.code, c.status, c.meaning
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn sources(dir: &Path, files: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path.display().to_string(), text));
            }
        }
    }

    /// The string literal right after `at` in `text`, if it starts within a
    /// few characters (spaces, newlines, a status argument).
    fn literal_after(text: &str, at: usize) -> Option<&str> {
        let rest = &text[at..];
        let open = rest.find('"')?;
        let between = &rest[..open];
        // Only whitespace, or one argument before a comma (a status).
        let plain = between.trim().is_empty()
            || (between.matches(',').count() == 1 && !between.contains(['"', ';', '{', '}']));
        if !plain {
            return None;
        }
        let body = &rest[open + 1..];
        Some(&body[..body.find('"')?])
    }

    fn is_code(word: &str) -> bool {
        !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    }

    /// Every code the source hands to a problem: `code: "…"`, the first
    /// argument of `Error::conflict`, `Problem::new`, `Problem::bad_request`
    /// and the sign-in helpers, and `("code", message)` pairs chosen by a
    /// `match`.
    fn codes_in_source() -> Vec<(String, String)> {
        let mut files = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut found = Vec::new();
        for (file, text) in &files {
            // The web app's pages (src/web) are HTML, not problems; matched
            // below src/ so a checkout in a folder named "web" still scans.
            if file.ends_with("codes.rs") || file.contains("/src/web/") {
                continue;
            }
            for marker in [
                "code: ",
                "conflict(",
                "Problem::new(",
                "bad_request(",
                "unauthenticated(",
            ] {
                for (at, _) in text.match_indices(marker) {
                    if let Some(code) = literal_after(text, at + marker.len()) {
                        if is_code(code) {
                            found.push((code.to_owned(), file.clone()));
                        }
                    }
                }
            }
            // ("code", message) pairs.
            for (at, _) in text.match_indices("=> (") {
                if let Some(code) = literal_after(text, at + 4) {
                    let after = &text[at + 4..];
                    let after = &after[after.find('"').unwrap() + code.len() + 2..];
                    if is_code(code) && after.trim_start().starts_with(',') {
                        found.push((code.to_owned(), file.clone()));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_code_the_service_sends_is_listed() {
        let found = codes_in_source();
        assert!(
            found.len() > 50,
            "the source scan found too little: {found:?}"
        );
        let missing: Vec<_> = found
            .iter()
            .filter(|(code, _)| find(code).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "codes sent but missing from http::codes::CODES (add each with its status and meaning): {missing:?}"
        );
        let unused: Vec<_> = CODES
            .iter()
            .filter(|c| !found.iter().any(|(code, _)| code == c.code))
            .map(|c| c.code)
            .collect();
        assert!(unused.is_empty(), "listed codes no code sends: {unused:?}");
    }

    #[test]
    fn the_readme_table_is_the_generated_one() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap();
        let begin = readme
            .find(README_BEGIN)
            .expect("the README marks where its error table begins");
        let rest = &readme[begin + README_BEGIN.len()..];
        let end = rest
            .find(README_END)
            .expect("the README marks where its error table ends");
        assert_eq!(
            rest[..end].trim(),
            markdown_table().trim(),
            "the README's error table is out of date: replace it with `commonpot error-codes`"
        );
    }

    #[test]
    fn codes_are_listed_once() {
        for (i, c) in CODES.iter().enumerate() {
            assert!(
                !CODES[..i].iter().any(|d| d.code == c.code),
                "{} is listed twice",
                c.code
            );
        }
    }
}
