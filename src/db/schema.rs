//! The diesel schema, written by hand for the subset both backends share.
//!
//! Tables owned by a collective have `(collective_id, id)` as their real
//! primary key (so the data can be sharded by collective); ids are globally
//! unique UUIDs, so diesel is told `id` alone is the key, which is what
//! lookups use.

diesel::table! {
    collectives (id) {
        id -> Text,
        name -> Text,
        time_zone -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        demo -> Bool,
        require_second_factor_for_coordinators -> Bool,
        retention_days -> Integer,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        display_name -> Text,
        password_hash -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    memberships (id) {
        collective_id -> Text,
        id -> Text,
        user_id -> Text,
        role -> Text,
        status -> Text,
        invitation_hash -> Nullable<Text>,
        invitation_expires_at -> Nullable<Timestamp>,
        invited_by -> Nullable<Text>,
        joined_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        invited_name -> Nullable<Text>,
    }
}

diesel::table! {
    clients (id) {
        collective_id -> Text,
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        scopes -> Text,
        status -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        user_id -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        window_started_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_records (id) {
        collective_id -> Text,
        id -> Text,
        occurred_at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Text,
        action -> Text,
        object_kind -> Text,
        object_id -> Text,
        details -> Text,
    }
}

diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> collectives (collective_id));
diesel::joinable!(clients -> collectives (collective_id));

diesel::allow_tables_to_appear_in_same_query!(
    collectives,
    users,
    memberships,
    clients,
    refresh_tokens,
    login_throttle,
    audit_records,
    web_sessions,
);

diesel::table! {
    web_sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(web_sessions -> users (user_id));

diesel::table! {
    pools (id) {
        collective_id -> Text,
        id -> Text,
        name -> Text,
        description -> Text,
        currency -> Text,
        exponent -> Integer,
        goal_minor -> Nullable<BigInt>,
        max_request_minor -> Nullable<BigInt>,
        approvals_needed -> Integer,
        fast_track_limit_minor -> Nullable<BigInt>,
        requesters -> Text,
        public -> Bool,
        available_minor -> BigInt,
        held_minor -> BigInt,
        deficit_minor -> BigInt,
        received_minor -> BigInt,
        refunded_minor -> BigInt,
        fees_minor -> BigInt,
        paid_minor -> BigInt,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    ledger_entries (id) {
        collective_id -> Text,
        id -> Text,
        pool_id -> Text,
        kind -> Text,
        reference_kind -> Text,
        reference_id -> Text,
        reverses_entry_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ledger_postings (id) {
        collective_id -> Text,
        id -> Text,
        entry_id -> Text,
        pool_id -> Text,
        account -> Text,
        amount_minor -> BigInt,
        currency -> Text,
    }
}

diesel::table! {
    contributions (id) {
        collective_id -> Text,
        id -> Text,
        pool_id -> Text,
        amount_minor -> BigInt,
        fee_minor -> BigInt,
        refunded_minor -> BigInt,
        method -> Text,
        external_reference -> Nullable<Text>,
        member_id -> Nullable<Text>,
        donor_name -> Nullable<Text>,
        donor_email -> Nullable<Text>,
        anonymous -> Bool,
        note -> Nullable<Text>,
        status -> Text,
        entry_id -> Text,
        recorded_by -> Text,
        received_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        pledge_id -> Nullable<Text>,
        pledge_applied_minor -> BigInt,
        dispute_fee_minor -> BigInt,
    }
}

diesel::table! {
    holds (id) {
        collective_id -> Text,
        id -> Text,
        pool_id -> Text,
        parent_hold_id -> Nullable<Text>,
        purpose -> Text,
        reference_id -> Nullable<Text>,
        amount_minor -> BigInt,
        remaining_minor -> BigInt,
        pending_minor -> BigInt,
        paid_minor -> BigInt,
        released_minor -> BigInt,
        split_minor -> BigInt,
        status -> Text,
        note -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    disbursements (id) {
        collective_id -> Text,
        id -> Text,
        pool_id -> Text,
        hold_id -> Text,
        amount_minor -> BigInt,
        status -> Text,
        external_reference -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        entry_id -> Nullable<Text>,
        created_by -> Text,
        resolved_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (caller, endpoint, key) {
        caller -> Text,
        endpoint -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    pools,
    ledger_entries,
    ledger_postings,
    contributions,
    holds,
    disbursements,
    collectives,
);

diesel::table! {
    aid_requests (id) {
        collective_id -> Text,
        id -> Text,
        pool_id -> Text,
        requester_membership_id -> Nullable<Text>,
        submitted_by -> Text,
        beneficiary_name -> Nullable<Text>,
        beneficiary_contact -> Nullable<Text>,
        amount_requested_minor -> BigInt,
        amount_approved_minor -> Nullable<BigInt>,
        category -> Text,
        urgency -> Text,
        needed_by -> Nullable<Date>,
        public_summary -> Text,
        private_details -> Text,
        payout_reference -> Nullable<Text>,
        shared_project -> Bool,
        state -> Text,
        owner_user_id -> Nullable<Text>,
        rejection_reason -> Nullable<Text>,
        hold_id -> Nullable<Text>,
        paid_minor -> BigInt,
        approval_round -> Integer,
        round_id -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        withdrawal_reason -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        redacted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    request_approvals (id) {
        collective_id -> Text,
        id -> Text,
        request_id -> Text,
        approval_round -> Integer,
        approver_user_id -> Text,
        amount_minor -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    request_conflicts (collective_id, request_id, user_id) {
        collective_id -> Text,
        request_id -> Text,
        user_id -> Text,
        note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    request_comments (id) {
        collective_id -> Text,
        id -> Text,
        request_id -> Text,
        author_kind -> Text,
        author_id -> Text,
        visibility -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        collective_id -> Text,
        id -> Text,
        seq -> Nullable<BigInt>,
        kind -> Text,
        object_kind -> Text,
        object_id -> Text,
        data -> Text,
        private_data -> Nullable<Text>,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    event_sequences (collective_id) {
        collective_id -> Text,
        last_seq -> BigInt,
        purged_through -> BigInt,
    }
}

diesel::table! {
    issues (id) {
        collective_id -> Text,
        id -> Text,
        name -> Text,
        description -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    affectedness (collective_id, membership_id, issue_id) {
        collective_id -> Text,
        membership_id -> Text,
        issue_id -> Text,
        tier -> Text,
        verified_by -> Nullable<Text>,
        verified_at -> Nullable<Timestamp>,
        declared_at -> Timestamp,
    }
}

diesel::table! {
    rounds (id) {
        collective_id -> Text,
        id -> Text,
        pool_id -> Text,
        title -> Text,
        budget_minor -> BigInt,
        ballot -> Text,
        rule -> Text,
        policy -> Text,
        phase -> Text,
        hold_id -> Nullable<Text>,
        result -> Nullable<Text>,
        created_by -> Text,
        opened_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        tallied_at -> Nullable<Timestamp>,
        enacted_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        min_support -> Nullable<BigInt>,
        participation -> Nullable<Text>,
    }
}

diesel::table! {
    round_candidates (collective_id, round_id, request_id) {
        collective_id -> Text,
        round_id -> Text,
        request_id -> Text,
        position -> Integer,
    }
}

diesel::table! {
    ballots (id) {
        collective_id -> Text,
        id -> Text,
        round_id -> Text,
        membership_id -> Text,
        choices -> Text,
        weight -> Nullable<Integer>,
        tier -> Nullable<Text>,
        set_aside -> Bool,
        cast_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    pledges (id) {
        collective_id -> Text,
        id -> Text,
        pool_id -> Text,
        member_id -> Nullable<Text>,
        donor_name -> Nullable<Text>,
        donor_email -> Nullable<Text>,
        anonymous -> Bool,
        amount_minor -> BigInt,
        frequency -> Text,
        installments -> Integer,
        starts_on -> Date,
        grace_days -> Integer,
        status -> Text,
        paused_on -> Nullable<Date>,
        note -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    pledge_installments (id) {
        collective_id -> Text,
        id -> Text,
        pledge_id -> Text,
        seq -> Integer,
        due_on -> Date,
        amount_minor -> BigInt,
        paid_minor -> BigInt,
        status -> Text,
        updated_at -> Timestamp,
        due_announced -> Bool,
    }
}

diesel::table! {
    pledge_payments (id) {
        collective_id -> Text,
        id -> Text,
        pledge_id -> Text,
        installment_id -> Text,
        contribution_id -> Text,
        amount_minor -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(pledges, pledge_installments, pledge_payments,);

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        collective_id -> Text,
        client_id -> Text,
        url -> Text,
        event_types -> Text,
        description -> Text,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        cursor_seq -> BigInt,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        collective_id -> Text,
        event_id -> Text,
        event_seq -> BigInt,
        event_type -> Text,
        object_key -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        endpoint_id -> Text,
        attempt -> Integer,
        replica -> Text,
        started_at -> Timestamp,
        duration_ms -> BigInt,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        response_start -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts
);

// Field encryption (#24): the key ids values may be sealed with.
diesel::table! {
    field_keys (id) {
        id -> Text,
        added_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

// Which key ids each running service holds (#24).
diesel::table! {
    key_holders (replica) {
        replica -> Text,
        key_ids -> Text,
        seen_at -> Timestamp,
    }
}

// A person's own account (#26).
diesel::table! {
    user_contacts (user_id) {
        user_id -> Text,
        phone -> Nullable<Text>,
        other -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    email_changes (id) {
        id -> Text,
        user_id -> Text,
        new_email -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    password_resets (collective_id, id) {
        collective_id -> Text,
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        issued_by -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

// A second factor (#26).
diesel::table! {
    second_factors (user_id) {
        user_id -> Text,
        secret -> Text,
        state -> Text,
        last_step -> Nullable<BigInt>,
        created_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Text,
        code_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}
