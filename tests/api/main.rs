//! The API, tested over real HTTP against the real application, on SQLite by
//! default and on PostgreSQL when `TEST_DATABASE_URL` is set.

mod helpers;

mod accounts;
mod accounts_recovery;
mod auth;
mod clock;
mod collectives;
mod contract;
mod demo;
mod erasure;
mod errors;
mod events;
mod export;
mod ledger;
mod ledger_concurrency;
mod ledger_properties;
mod nul_text;
mod ops;
mod pabutools;
mod permissions;
mod pledges;
mod privacy;
mod reports;
mod requests;
mod retention;
pub(crate) mod rounds;
mod rounds_support;
mod second_factor;
mod second_look;
mod sign_in;
mod summary_properties;
pub(crate) mod web;
mod webhooks;
mod webhooks_delivery;
mod writer;
