//! Telling partner apps that an installment fell due: the sweep announces
//! each installment once (`pledge.installment_due`), on or after its due
//! date, if it is then owed — not one paid ahead, waived, or falling due
//! while the pledge is paused or after it was cancelled.
//!
//! Safe with several replicas: the sweep holds the pledge's lock, and the
//! guarded update of `due_announced` lets only one of them announce.

use diesel::prelude::*;

use super::schedule::{slot_state, SlotState, Stance};
use super::view::View;
use crate::db::schema::pledge_installments;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::events::{self, types::PledgeInstallment, EventType};

/// Announces the installments of the pledge that fell due by `view.today`
/// and were not announced yet. Returns how many were announced.
pub fn announce_due(conn: &mut DbConnection, view: &View) -> Result<usize> {
    let unannounced: Vec<(String, i32)> = pledge_installments::table
        .filter(pledge_installments::pledge_id.eq(&view.row.id))
        .filter(pledge_installments::due_announced.eq(false))
        .filter(pledge_installments::due_on.le(view.today))
        .order(pledge_installments::seq.asc())
        .select((pledge_installments::id, pledge_installments::seq))
        .load(conn)?;
    let mut announced = 0;
    for (id, seq) in unannounced {
        let marked = diesel::update(
            pledge_installments::table
                .filter(pledge_installments::collective_id.eq(&view.row.collective_id))
                .filter(pledge_installments::id.eq(&id))
                .filter(pledge_installments::due_announced.eq(false)),
        )
        .set(pledge_installments::due_announced.eq(true))
        .execute(conn)?;
        let owed = view
            .slots
            .iter()
            .find(|s| s.seq as i32 == seq)
            .is_some_and(|slot| {
                view.stance == Stance::Active
                    && matches!(
                        slot_state(slot, view.stance, view.today),
                        SlotState::Due | SlotState::Overdue
                    )
            });
        if marked == 0 || !owed {
            continue;
        }
        let currency = crate::pools::store::find(conn, &view.row.pool_id)?
            .ok_or(Error::NotFound { what: "pool" })?
            .currency()?;
        let pledge = view.to_pledge(currency, true);
        let installment = view
            .to_pledge(currency, true)
            .schedule
            .into_iter()
            .flatten()
            .find(|i| i.seq as i32 == seq)
            .ok_or_else(|| Error::Internal(format!("installment {seq} of {}", view.row.id)))?;
        let snapshot = PledgeInstallment {
            pledge,
            installment,
        };
        events::record(
            conn,
            &view.row.collective_id,
            EventType::PledgeInstallmentDue,
            &snapshot,
        )?;
        announced += 1;
    }
    Ok(announced)
}
