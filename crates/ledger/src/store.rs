//! Durable storage of the books in redb.
//!
//! Why redb: it is a pure-Rust, ACID, copy-on-write B-tree store whose commits are durable by
//! default (one fsync per commit), with no C toolchain and no schema migrations to manage. The
//! proxy is its only writer, which is exactly redb's model (one writer, many readers). SQLite
//! would work too, but would bring a C build and SQL for four small tables.
//!
//! Rows are JSON so the format can grow fields without a migration; a batch of rows (one
//! group commit) is written in a single transaction, so the books on disk always balance.
//!
//! A `format` marker in `meta` says which rows to expect. Format 2 rows carry the token
//! counters (`charged_tokens`, `earned_tokens`) that vouchers are signed for; a database from
//! before them (format 1, written without a marker) cannot be given those counters after the
//! fact, so it is refused with [`StoreError::Format`] rather than guessed at.

use crate::books::{AccountId, ClientAccount, WorkerAccount};
use crate::prices::Nanotons;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::{collections::BTreeMap, path::Path};

const CLIENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("clients");
const WORKERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("workers");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

const COMMISSION: &str = "commission";
const SEQNO: &str = "seqno";
/// The number of the last anchor the proxy was about to put on chain (settlement on TON).
const ANCHOR: &str = "anchor";
const FORMAT_KEY: &str = "format";

/// The row format this version reads and writes (see the module doc).
pub const FORMAT: u64 = 2;

/// Why the store could not read or write.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed.
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// A row does not decode.
    #[error("corrupt row in {table}: {why}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong with the row.
        why: String,
    },
    /// The database was written by a version with another row format.
    #[error("{0}")]
    Format(String),
}

fn dberr<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(e.into())
}

/// One group commit: the rows that changed and the proxy's totals after them.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The commit's sequence number (the vouchers' query id).
    pub seqno: u64,
    /// The proxy's commission after the batch.
    pub commission: Nanotons,
    /// Client rows that changed.
    pub clients: Vec<(AccountId, ClientAccount)>,
    /// Worker rows that changed.
    pub workers: Vec<(AccountId, WorkerAccount)>,
}

/// Everything on disk, as loaded at start.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The last commit's sequence number.
    pub seqno: u64,
    /// The proxy's commission.
    pub commission: Nanotons,
    /// The last anchor number recorded ([`Store::write_anchor`]).
    pub anchor: u64,
    /// Every client row.
    pub clients: BTreeMap<AccountId, ClientAccount>,
    /// Every worker row.
    pub workers: BTreeMap<AccountId, WorkerAccount>,
}

/// The ledger's redb database.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the database at `path`; refuses one of another row format.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(dberr)?;
        let txn = db.begin_write().map_err(dberr)?;
        {
            let clients = txn.open_table(CLIENTS).map_err(dberr)?;
            let workers = txn.open_table(WORKERS).map_err(dberr)?;
            let mut meta = txn.open_table(META).map_err(dberr)?;
            let format = meta.get(FORMAT_KEY).map_err(dberr)?.map(|v| v.value());
            let empty = clients.is_empty().map_err(dberr)?
                && workers.is_empty().map_err(dberr)?
                && meta.is_empty().map_err(dberr)?;
            match format {
                Some(FORMAT) => {}
                None if empty => {
                    meta.insert(FORMAT_KEY, FORMAT).map_err(dberr)?;
                }
                found => return Err(format_error(path, found)),
            }
        }
        txn.commit().map_err(dberr)?;
        Ok(Store { db })
    }

    /// Reads every row.
    pub fn load(&self) -> Result<Loaded, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let meta = txn.open_table(META).map_err(dberr)?;
        let get = |k: &str| -> Result<u64, StoreError> { Ok(meta.get(k).map_err(dberr)?.map_or(0, |v| v.value())) };
        let mut out =
            Loaded { seqno: get(SEQNO)?, commission: get(COMMISSION)?, anchor: get(ANCHOR)?, ..Loaded::default() };
        out.clients = read_rows(&txn.open_table(CLIENTS).map_err(dberr)?, "clients")?;
        out.workers = read_rows(&txn.open_table(WORKERS).map_err(dberr)?, "workers")?;
        Ok(out)
    }

    /// Writes one batch in a single durable transaction.
    pub fn write(&self, batch: &Batch) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(dberr)?;
        {
            let mut clients = txn.open_table(CLIENTS).map_err(dberr)?;
            for (id, row) in &batch.clients {
                clients.insert(id.as_slice(), encode(row).as_slice()).map_err(dberr)?;
            }
            let mut workers = txn.open_table(WORKERS).map_err(dberr)?;
            for (id, row) in &batch.workers {
                workers.insert(id.as_slice(), encode(row).as_slice()).map_err(dberr)?;
            }
            let mut meta = txn.open_table(META).map_err(dberr)?;
            meta.insert(SEQNO, batch.seqno).map_err(dberr)?;
            meta.insert(COMMISSION, batch.commission).map_err(dberr)?;
        }
        txn.commit().map_err(dberr)
    }

    /// Records durably that anchor `n` is about to be sent to the chain: the database then
    /// always knows of every anchor the chain can hold.
    pub fn write_anchor(&self, n: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(dberr)?;
        txn.open_table(META).map_err(dberr)?.insert(ANCHOR, n).map_err(dberr)?;
        txn.commit().map_err(dberr)
    }
}

/// Why a ledger of format `found` (`None`: unmarked, i.e. format 1) cannot be opened.
fn format_error(path: &Path, found: Option<u64>) -> StoreError {
    let path = path.display();
    StoreError::Format(match found {
        None => format!(
            "{path} is a ledger from before token counters (format 1); this version needs format {FORMAT} and \
             cannot rebuild the counters its vouchers are signed for. Settle and close its accounts with the \
             version that wrote it, or move it away to start empty books"
        ),
        Some(other) => format!("{path} has ledger format {other}; this version reads format {FORMAT}"),
    })
}

fn encode<T: serde::Serialize>(row: &T) -> Vec<u8> {
    // Serializing plain structs of integers cannot fail.
    serde_json::to_vec(row).unwrap_or_default()
}

fn read_rows<T: serde::de::DeserializeOwned>(
    table: &redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    name: &'static str,
) -> Result<BTreeMap<AccountId, T>, StoreError> {
    let mut out = BTreeMap::new();
    for item in table.iter().map_err(dberr)? {
        let (k, v) = item.map_err(dberr)?;
        let id: AccountId = k
            .value()
            .try_into()
            .map_err(|_| StoreError::Corrupt { table: name, why: format!("key of {} bytes", k.value().len()) })?;
        let row =
            serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt { table: name, why: e.to_string() })?;
        out.insert(id, row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        {
            let s = Store::open(&path).unwrap();
            let row = ClientAccount { deposited: 10, balance: 4, charged: 6, charged_tokens: 3, ..Default::default() };
            let w = WorkerAccount { earned: 3, earned_tokens: 3, paid_out: 1 };
            s.write(&Batch { seqno: 7, commission: 4, clients: vec![([1; 32], row)], workers: vec![([2; 32], w)] })
                .unwrap();
        }
        let l = Store::open(&path).unwrap().load().unwrap();
        assert_eq!((l.seqno, l.commission), (7, 4));
        assert_eq!((l.clients[&[1; 32]].deposited, l.clients[&[1; 32]].charged_tokens), (10, 3));
        assert_eq!((l.workers[&[2; 32]].earned, l.workers[&[2; 32]].earned_tokens), (3, 3));
    }

    #[test]
    fn a_ledger_from_before_token_counters_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        {
            // What the previous version wrote: rows without token counters and no format marker.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let row = br#"{"deposited":10,"withdrawn":0,"charged":4,"balance":6,"stake":0,"state":"open"}"#;
                txn.open_table(CLIENTS).unwrap().insert([1u8; 32].as_slice(), row.as_slice()).unwrap();
                txn.open_table(META).unwrap().insert(SEQNO, 3).unwrap();
            }
            txn.commit().unwrap();
        }
        match Store::open(&path) {
            Err(StoreError::Format(why)) => assert!(why.contains("before token counters"), "{why}"),
            other => panic!("expected a format error, got {:?}", other.err()),
        }
        // A fresh database is marked, and opens again.
        let fresh = dir.path().join("fresh.redb");
        drop(Store::open(&fresh).unwrap());
        Store::open(&fresh).unwrap();
    }
}
