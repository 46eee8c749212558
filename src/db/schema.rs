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
);
