//! commonpot: a mutual aid ledger service.
//!
//! Where things are: a request enters in [`http`] (the route table is
//! `http::routes`); each business area (`collectives`, `auth`, …) owns its
//! handlers, rules and queries; money moves only in `ledger`; votes are
//! counted by the `commonpot-tally` crate; [`db`] is the only place that
//! knows about the two databases; [`web`] is the web app, whose pages call
//! the same services as the API.

pub mod affectedness;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod collectives;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod error;
pub mod events;
pub mod flows;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod pagination;
pub mod personal_data;
pub mod pledges;
pub mod pools;
pub mod reports;
pub mod requests;
pub mod rounds;
pub mod startup;
pub mod telemetry;
pub mod web;
pub mod webhooks;
