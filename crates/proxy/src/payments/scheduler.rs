//! The background jobs of payments: group commits, closes that are due, vouchers submitted to
//! settlement past their thresholds, and (on TON) anchors.

use super::{lock, now_unix, Payments};
use cocoon_ledger::{BooksError, LedgerError};
use cocoon_voucher::VoucherKind;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

impl Payments {
    /// Ends every close whose delay has passed: the ledger refunds, settlement pays.
    pub fn finish_due_closes(&self) {
        let now = now_unix();
        for client in self.ledger.closes_due(now) {
            if self.ton.is_some() && self.ledger.unanchored(&client) {
                // The final charge must cover every committed token: anchor first.
                self.anchor();
                continue;
            }
            match self.ledger.finish_close(&client, now) {
                Ok(refund) => {
                    let last = self.ledger.voucher(VoucherKind::GrantRefund, &client).ok().flatten();
                    if let Err(e) = self.settlement.finish_close(&client, last.as_ref(), now) {
                        tracing::error!(client = %hex::encode(client), error = %e, "settlement close failed");
                    }
                    tracing::info!(client = %hex::encode(client), refund, "account closed");
                }
                Err(LedgerError::Books(BooksError::InFlight(_))) => {}
                Err(e) => tracing::warn!(client = %hex::encode(client), error = %e, "could not finish a close"),
            }
        }
    }

    /// Submits vouchers to settlement where enough is unsettled: client charges above the
    /// charge threshold, worker payouts above the payout threshold (as Cocoon commits on-chain
    /// only past 1 and 10 TON, since every operation costs a fee).
    pub fn settle_on_chain(&self) {
        if self.ton.is_some() {
            self.refresh_all();
        }
        let accounts = self.ledger.accounts();
        for (id, view) in &accounts.clients {
            let on_chain = self.settlement.client(id).ok().flatten().map_or(0, |c| c.charged);
            let unsettled = view.account.charged.saturating_sub(on_chain);
            // On chain, also charge before the unpaid usage reaches half the stake, which
            // keeps the client below the stake rule's limit (Cocoon tops up at half the stake).
            let near_stake = self.ton.is_some() && unsettled > 0 && unsettled >= view.account.stake / 2;
            // A client the stake rule refused stays marked until the chain has charged
            // everything (the voucher covers only anchored state, so it may take two runs).
            let refused = {
                let mut marked = lock(&self.charge_now);
                if unsettled == 0 {
                    marked.remove(id);
                }
                marked.contains(id)
            };
            if unsettled >= self.charge_threshold.max(1) || near_stake || (refused && unsettled > 0) {
                self.charge_latest(id);
            }
        }
        if self.ton.is_some() {
            self.regrant_closes(&accounts);
        }
        for (id, w) in &accounts.workers {
            let contract = self.settlement.worker(id).ok().flatten().unwrap_or_default();
            if w.earned.saturating_sub(contract.paid) < self.payout_threshold.max(1) {
                continue;
            }
            match self.ledger.voucher(VoucherKind::WorkerPayout, id) {
                Ok(Some(v)) if v.voucher.tokens > contract.paid_tokens => match self.settlement.payout(id, &v) {
                    Ok(c) => {
                        self.ledger.record_payout(id, c.paid);
                        tracing::info!(worker = %hex::encode(id), paid = c.paid, "worker paid out by voucher");
                    }
                    Err(e) => tracing::warn!(worker = %hex::encode(id), error = %e, "payout by voucher failed"),
                },
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "could not sign a payout voucher"),
            }
        }
    }

    /// Runs the group committer and the close finisher until `stop`.
    pub fn spawn_background(self: &Arc<Self>, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let committer = self.ledger.spawn_committer(self.commit_interval, stop.clone());
        let closer = self.every(Duration::from_secs(1), stop.clone(), |p| p.finish_due_closes());
        let settler = self.every(self.settle_interval, stop.clone(), |p| p.settle_on_chain());
        let mut tasks = vec![committer, closer, settler];
        if self.ton.is_some() {
            tasks.push(self.every(self.anchor_interval, stop, |p| p.anchor()));
        }
        tasks
    }

    /// Runs `job` off the async workers every `period` until `stop`.
    fn every(
        self: &Arc<Self>,
        period: Duration,
        stop: CancellationToken,
        job: fn(&Payments),
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.cancelled() => return,
                }
                let p = me.clone();
                let _ = tokio::task::spawn_blocking(move || job(&p)).await;
            }
        })
    }
}
