//! Payments on the proxy: prices, the books of client accounts and worker earnings, their
//! durable store with group commit, signed cumulative vouchers, and the settlement backends
//! (the contracts' state machine) that money moves through.
//!
//! - [`prices`]: network prices and exact integer cost arithmetic;
//! - [`books`]: the accounting state machine, pure and checked by [`books::Books::audit`];
//! - [`onchain`]: reading a client contract's state on chain back into the books;
//! - [`store`]: the books on disk (redb);
//! - [`ledger`]: books + store + group commit + vouchers, what the proxy uses;
//! - [`settlement`]: the [`settlement::Settlement`] trait and its embedded, persistent backend.

pub mod books;
pub mod ledger;
pub mod onchain;
pub mod prices;
pub mod settlement;
pub mod store;

pub use books::{AccountId, AccountState, BooksError, Charge, ClientAccount, Hold, Totals, WorkerAccount};
pub use ledger::{Accounts, AnchorState, ClientView, ContractAddressOf, Ledger, LedgerError};
pub use onchain::{ChainClient, Synced};
pub use prices::{Cost, Nanotons, PriceError, Prices, TokenCounts, TON};
