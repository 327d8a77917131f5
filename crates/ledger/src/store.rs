//! Durable storage of the books in redb.
//!
//! Why redb: it is a pure-Rust, ACID, copy-on-write B-tree store whose commits are durable by
//! default (one fsync per commit), with no C toolchain and no schema migrations to manage. The
//! proxy is its only writer, which is exactly redb's model (one writer, many readers). SQLite
//! would work too, but would bring a C build and SQL for four small tables.
//!
//! Rows are JSON so the format can grow fields without a migration; a batch of rows (one
//! group commit) is written in a single transaction, so the books on disk always balance.

use crate::books::{AccountId, ClientAccount, WorkerAccount};
use crate::prices::Nanotons;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::{collections::BTreeMap, path::Path};

const CLIENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("clients");
const WORKERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("workers");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

const COMMISSION: &str = "commission";
const SEQNO: &str = "seqno";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    #[error("corrupt row in {table}: {why}")]
    Corrupt { table: &'static str, why: String },
}

fn dberr<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(e.into())
}

/// One group commit: the rows that changed and the proxy's totals after them.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub seqno: u64,
    pub commission: Nanotons,
    pub clients: Vec<(AccountId, ClientAccount)>,
    pub workers: Vec<(AccountId, WorkerAccount)>,
}

/// Everything on disk, as loaded at start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub seqno: u64,
    pub commission: Nanotons,
    pub clients: BTreeMap<AccountId, ClientAccount>,
    pub workers: BTreeMap<AccountId, WorkerAccount>,
}

pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(dberr)?;
        let txn = db.begin_write().map_err(dberr)?;
        {
            txn.open_table(CLIENTS).map_err(dberr)?;
            txn.open_table(WORKERS).map_err(dberr)?;
            txn.open_table(META).map_err(dberr)?;
        }
        txn.commit().map_err(dberr)?;
        Ok(Store { db })
    }

    /// Reads every row.
    pub fn load(&self) -> Result<Loaded, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let meta = txn.open_table(META).map_err(dberr)?;
        let get = |k: &str| -> Result<u64, StoreError> { Ok(meta.get(k).map_err(dberr)?.map_or(0, |v| v.value())) };
        let mut out = Loaded { seqno: get(SEQNO)?, commission: get(COMMISSION)?, ..Loaded::default() };
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
            let row = ClientAccount { deposited: 10, balance: 10, ..Default::default() };
            let w = WorkerAccount { earned: 3, paid_out: 1 };
            s.write(&Batch { seqno: 7, commission: 4, clients: vec![([1; 32], row)], workers: vec![([2; 32], w)] })
                .unwrap();
        }
        let l = Store::open(&path).unwrap().load().unwrap();
        assert_eq!((l.seqno, l.commission), (7, 4));
        assert_eq!(l.clients[&[1; 32]].deposited, 10);
        assert_eq!(l.workers[&[2; 32]].earned, 3);
    }
}
