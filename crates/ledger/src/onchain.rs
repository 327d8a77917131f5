//! The books' side of settlement on chain: reading a client contract's state back into its
//! account ([`Books::sync_client`]). With the TON backend the client moves money in and out of
//! its contract with its own wallet; the proxy learns of it only from the chain.

use crate::books::{add, AccountId, AccountState, Books, BooksError};
use crate::prices::Nanotons;

/// A client contract as the chain shows it (one getter call, so the fields agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainClient {
    /// Spendable funds in the contract.
    pub balance: Nanotons,
    /// The stake in the contract.
    pub stake: Nanotons,
    /// Cumulative tokens the contract has been charged for.
    pub tokens_used: u64,
    /// Open, closing (with the time the books should treat as the end of the delay) or closed.
    pub state: AccountState,
}

/// What [`Books::sync_client`] found changed on chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// Money that arrived in the contract (top-ups and stake increases, net).
    pub credited: Nanotons,
    /// Money that left it to the client (withdrawals and refunds, net).
    pub returned: Nanotons,
    /// Newly unpaid: served usage the chain can no longer collect.
    pub unpaid: Nanotons,
}

impl Books {
    /// Brings one client's account in line with its contract on chain, the source of truth for
    /// money in and out when settlement is on chain (top-ups, stake increases, withdrawals and
    /// refunds are the client's own messages to its contract; the proxy only sees their effect).
    ///
    /// The books' charges run ahead of the chain's by the usage not yet charged there; the
    /// contract will take it from its balance first, then its stake. So the account's balance
    /// is the contract's less that usage, and where the balance cannot cover it the stake
    /// does; what neither covers is `unpaid`. The net change of balance plus stake is booked
    /// as deposited (more) or withdrawn (less), which keeps
    /// `deposited = balance + stake + charged + withdrawn`. A new account is created for a
    /// contract with money in it. Refuses (changing nothing) if the chain charged more
    /// tokens than the books ever did. An account the books closed waits for its contract to
    /// close too (the grant refund on its way) and is left as it is until then.
    pub fn sync_client(
        &mut self,
        client: AccountId,
        chain: &ChainClient,
        price: Nanotons,
    ) -> Result<Synced, BooksError> {
        let mut a = self.clients.get(&client).cloned().unwrap_or_default();
        if a.state == AccountState::Closed && chain.state != AccountState::Closed {
            // The books closed it and refunded; the grant refund is on its way to the chain.
            return Ok(Synced::default());
        }
        if chain.tokens_used > a.charged_tokens {
            return Err(BooksError::ChainAhead { chain: chain.tokens_used, books: a.charged_tokens });
        }
        let uncharged = u128::from(a.charged_tokens - chain.tokens_used) * u128::from(price);
        let uncharged = Nanotons::try_from(uncharged).map_err(|_| BooksError::Overflow)?;
        let balance = chain.balance.saturating_sub(uncharged);
        let deficit = uncharged - chain.balance.min(uncharged);
        let from_stake = deficit.min(chain.stake);
        let stake = chain.stake - from_stake;
        let unpaid = deficit - from_stake;
        let before = u128::from(a.balance) + u128::from(a.stake);
        let after = u128::from(balance) + u128::from(stake);
        let mut synced = Synced::default();
        // Both sides fit in u64 (they are balances), so the differences do too.
        if after > before {
            synced.credited = Nanotons::try_from(after - before).map_err(|_| BooksError::Overflow)?;
            a.deposited = add(a.deposited, synced.credited)?;
        } else {
            synced.returned = Nanotons::try_from(before - after).map_err(|_| BooksError::Overflow)?;
            a.withdrawn = add(a.withdrawn, synced.returned)?;
        }
        synced.unpaid = unpaid.saturating_sub(a.unpaid);
        a.unpaid = a.unpaid.max(unpaid);
        a.balance = balance;
        a.stake = stake;
        a.state = chain.state;
        if self.clients.contains_key(&client) || a.deposited > 0 {
            self.clients.insert(client, a);
        }
        Ok(synced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::Prices;

    const C: AccountId = [1; 32];
    const W: AccountId = [2; 32];

    fn prices() -> Prices {
        Prices { price_per_token: 2, worker_fee_per_token: 1, ..Prices::default() }
    }

    fn chain(balance: Nanotons, stake: Nanotons, tokens_used: u64) -> ChainClient {
        ChainClient { balance, stake, tokens_used, state: AccountState::Open }
    }

    fn serve(b: &mut Books, tokens: u64) {
        let h = b.reserve(C, tokens * 2, 0).unwrap();
        let charge = b.settle(h, Some((tokens, W)), &prices());
        assert_eq!(charge.tokens, tokens);
    }

    fn balanced(b: &Books) {
        b.audit().unwrap();
        b.audit_prices(&prices()).unwrap();
    }

    #[test]
    fn top_ups_and_stake_on_chain_become_deposits() {
        let mut b = Books::default();
        assert_eq!(b.sync_client(C, &chain(0, 0, 0), 2).unwrap(), Synced::default());
        assert!(b.clients.is_empty(), "an empty contract opens no account");
        let s = b.sync_client(C, &chain(1000, 100, 0), 2).unwrap();
        assert_eq!(s, Synced { credited: 1100, ..Synced::default() });
        let a = &b.clients[&C];
        assert_eq!((a.deposited, a.balance, a.stake), (1100, 1000, 100));
        // Seen again: nothing new.
        assert_eq!(b.sync_client(C, &chain(1000, 100, 0), 2).unwrap(), Synced::default());
        balanced(&b);
    }

    #[test]
    fn usage_not_yet_charged_stays_off_the_balance_until_the_charge_lands() {
        let mut b = Books::default();
        b.sync_client(C, &chain(1000, 100, 0), 2).unwrap();
        serve(&mut b, 10);
        assert_eq!(b.clients[&C].balance, 980);
        // The chain has not been charged yet: the contract still shows 1000.
        assert_eq!(b.sync_client(C, &chain(1000, 100, 0), 2).unwrap(), Synced::default());
        assert_eq!(b.clients[&C].balance, 980);
        // The charge for the 10 tokens lands.
        assert_eq!(b.sync_client(C, &chain(980, 100, 10), 2).unwrap(), Synced::default());
        assert_eq!(b.clients[&C].balance, 980);
        // A top-up in between is credited exactly.
        assert_eq!(b.sync_client(C, &chain(1480, 100, 10), 2).unwrap().credited, 500);
        balanced(&b);
    }

    #[test]
    fn withdrawals_on_chain_are_booked_and_past_the_balance_come_out_of_the_stake() {
        let mut b = Books::default();
        b.sync_client(C, &chain(1000, 100, 0), 2).unwrap();
        serve(&mut b, 30); // 60 uncharged
        let s = b.sync_client(C, &chain(500, 100, 0), 2).unwrap();
        assert_eq!(s.returned, 500);
        assert_eq!(b.clients[&C].balance, 440);
        // The client takes all but 40 of its balance: the last 20 of the charge will come
        // from the stake.
        let s = b.sync_client(C, &chain(40, 100, 0), 2).unwrap();
        assert_eq!((s.returned, s.unpaid), (460, 0));
        let a = &b.clients[&C];
        assert_eq!((a.balance, a.stake), (0, 80));
        balanced(&b);
        // The charge lands: 40 from the balance, 20 from the stake.
        assert_eq!(b.sync_client(C, &chain(0, 80, 30), 2).unwrap(), Synced::default());
        balanced(&b);
    }

    #[test]
    fn a_forced_refund_leaves_the_uncharged_usage_unpaid() {
        let mut b = Books::default();
        b.sync_client(C, &chain(1000, 100, 0), 2).unwrap();
        serve(&mut b, 30);
        let closed = ChainClient { balance: 0, stake: 0, tokens_used: 0, state: AccountState::Closed };
        let s = b.sync_client(C, &closed, 2).unwrap();
        assert_eq!(s, Synced { credited: 0, returned: 1040, unpaid: 60 });
        let a = &b.clients[&C];
        assert_eq!((a.balance, a.stake, a.unpaid, a.state), (0, 0, 60, AccountState::Closed));
        balanced(&b);
        // Seeing it again changes nothing and counts the loss once.
        assert_eq!(b.sync_client(C, &closed, 2).unwrap(), Synced::default());
        assert_eq!(b.clients[&C].unpaid, 60);
    }

    #[test]
    fn a_chain_ahead_of_the_books_is_refused_and_changes_nothing() {
        let mut b = Books::default();
        b.sync_client(C, &chain(1000, 100, 0), 2).unwrap();
        serve(&mut b, 10);
        let before = b.clients[&C].clone();
        assert_eq!(b.sync_client(C, &chain(0, 0, 11), 2), Err(BooksError::ChainAhead { chain: 11, books: 10 }));
        assert_eq!(b.clients[&C], before);
    }

    #[test]
    fn reservations_keep_uncharged_usage_under_the_stake() {
        let mut b = Books::default();
        b.sync_client(C, &chain(1000, 100, 0), 2).unwrap();
        serve(&mut b, 30); // 60 uncharged
        let cap = Some((0, 2));
        let h = b.reserve_within(C, 40, 0, cap).unwrap(); // 60 + 40 = 100: at the stake
        assert_eq!(b.reserve_within(C, 1, 0, cap), Err(BooksError::UnchargedOverStake { uncharged: 101, stake: 100 }));
        b.settle(h, None, &prices());
        // Once the chain has charged the 30 tokens, the room is back.
        assert!(b.reserve_within(C, 100, 0, Some((30, 2))).is_ok());
        // Without the cap (embedded settlement) only the balance counts.
        assert!(b.reserve_within(C, 500, 0, None).is_ok());
    }

    #[test]
    fn holds_above_a_balance_withdrawn_on_chain_still_balance() {
        let mut b = Books::default();
        b.sync_client(C, &chain(1000, 100, 0), 2).unwrap();
        let h = b.reserve(C, 600, 0).unwrap();
        b.sync_client(C, &chain(100, 100, 0), 2).unwrap();
        assert_eq!(b.available(&C), 0);
        balanced(&b);
        // The hold charges at most what is left.
        let charge = b.settle(h, Some((300, W)), &prices());
        assert_eq!(charge.tokens, 50);
        balanced(&b);
    }
}
