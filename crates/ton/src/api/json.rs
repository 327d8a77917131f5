//! The answers of the TON HTTP API v2, typed, and their parsing from toncenter's JSON (which
//! the devnet serves too). Amounts and logical times come as strings or numbers, hashes as
//! base64 (hex accepted), addresses user-friendly or raw; each parser says what was wrong.

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use serde_json::Value;
use tycho_types::boc::Boc;
use tycho_types::cell::{Cell, HashBytes};
use tycho_types::models::{ComputePhase, StdAddr, TxInfo};

use super::stack::StackEntry;

/// An account's state as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// Deployed: it has code and data.
    Active,
    /// Never deployed (or deleted): may hold a balance, has no code.
    Uninit,
    /// Frozen for storage debt.
    Frozen,
}

/// A transaction's id: logical time and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionId {
    /// Logical time.
    pub lt: u64,
    /// Representation hash of the transaction cell.
    pub hash: HashBytes,
}

/// `getAddressInformation`'s answer.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    /// State.
    pub state: AccountState,
    /// Balance in nanotons.
    pub balance: u128,
    /// Code (active accounts).
    pub code: Option<Cell>,
    /// Data (active accounts).
    pub data: Option<Cell>,
    /// The last transaction, `None` if there is none.
    pub last_transaction: Option<TransactionId>,
    /// The state hash of a frozen account.
    pub frozen_hash: Option<HashBytes>,
}

/// `getWalletInformation`'s answer.
#[derive(Debug, Clone)]
pub struct WalletInfo {
    /// Whether the code is a wallet the API knows.
    pub is_wallet: bool,
    /// Balance in nanotons.
    pub balance: u128,
    /// State.
    pub state: AccountState,
    /// E.g. `wallet v4 r2`.
    pub wallet_type: Option<String>,
    /// The wallet's seqno (known wallets only).
    pub seqno: Option<u32>,
    /// The wallet (subwallet) id (known wallets only).
    pub wallet_id: Option<u32>,
    /// The last transaction, `None` if there is none.
    pub last_transaction: Option<TransactionId>,
}

/// `runGetMethod`'s answer.
#[derive(Debug, Clone)]
pub struct GetMethodResult {
    /// TVM exit code (0 and 1 are success; -13 on toncenter and the devnet: no code).
    pub exit_code: i32,
    /// Gas used.
    pub gas_used: u64,
    /// The result stack, bottom first.
    pub stack: Vec<StackEntry>,
}

/// `sendBocReturnHash`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtMessageHash {
    /// Hash of the message cell.
    pub hash: HashBytes,
    /// TEP-467 normalized hash, if the API gives it.
    pub hash_norm: Option<HashBytes>,
}

/// A message in a transaction.
#[derive(Debug, Clone)]
pub struct TxMessage {
    /// Hash of the message cell.
    pub hash: Option<HashBytes>,
    /// Source (`None` for external inbound messages).
    pub source: Option<StdAddr>,
    /// Destination (`None` for external outbound messages).
    pub destination: Option<StdAddr>,
    /// Value in nanotons.
    pub value: u128,
    /// Forwarding fee.
    pub fwd_fee: u128,
    /// Creation logical time.
    pub created_lt: u64,
    /// Hash of the body cell.
    pub body_hash: Option<HashBytes>,
    /// The body (absent when the API sends only a text comment).
    pub body: Option<Cell>,
    /// The StateInit the message carried.
    pub init_state: Option<Cell>,
    /// The text comment, or toncenter's `message` field otherwise.
    pub message: Option<String>,
}

/// A transaction as `getTransactions` lists it, with its BOC.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// Id (lt and hash; the hash is checked against the BOC).
    pub id: TransactionId,
    /// Unix time.
    pub utime: u32,
    /// Total fees.
    pub fee: u128,
    /// Storage part of the fees.
    pub storage_fee: u128,
    /// The inbound message.
    pub in_msg: Option<TxMessage>,
    /// The outbound messages, in order.
    pub out_msgs: Vec<TxMessage>,
    /// The transaction cell (`data`).
    pub cell: Cell,
}

/// What the compute and action phases of a transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxOutcome {
    /// The transaction was aborted (its state changes discarded).
    pub aborted: bool,
    /// The compute phase ran (`false`: skipped, e.g. no state or no gas).
    pub computed: bool,
    /// TVM succeeded.
    pub compute_success: bool,
    /// TVM exit code (0 when skipped).
    pub exit_code: i32,
    /// The action phase ran and succeeded (`None`: no action phase).
    pub action_success: Option<bool>,
}

impl TxOutcome {
    /// Computed, succeeded, not aborted, and the actions (if any) went through.
    pub fn is_success(&self) -> bool {
        !self.aborted && self.computed && self.compute_success && self.action_success != Some(false)
    }
}

impl Transaction {
    /// Decodes the phases from the transaction's BOC.
    pub fn outcome(&self) -> Result<TxOutcome, tycho_types::error::Error> {
        let tx = self.cell.parse::<tycho_types::models::Transaction>()?;
        match tx.load_info()? {
            TxInfo::Ordinary(info) => {
                let (computed, compute_success, exit_code) = match &info.compute_phase {
                    ComputePhase::Executed(c) => (true, c.success, c.exit_code),
                    ComputePhase::Skipped(_) => (false, false, 0),
                };
                Ok(TxOutcome {
                    aborted: info.aborted,
                    computed,
                    compute_success,
                    exit_code,
                    action_success: info.action_phase.as_ref().map(|a| a.success),
                })
            }
            TxInfo::TickTock(info) => Ok(TxOutcome {
                aborted: info.aborted,
                computed: matches!(info.compute_phase, ComputePhase::Executed(_)),
                compute_success: matches!(&info.compute_phase, ComputePhase::Executed(c) if c.success),
                exit_code: match &info.compute_phase {
                    ComputePhase::Executed(c) => c.exit_code,
                    ComputePhase::Skipped(_) => 0,
                },
                action_success: info.action_phase.as_ref().map(|a| a.success),
            }),
        }
    }
}

/// A block id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockId {
    /// Workchain.
    pub workchain: i32,
    /// Shard (as a signed 64-bit integer, toncenter's form).
    pub shard: i64,
    /// Seqno.
    pub seqno: u32,
    /// Root hash.
    pub root_hash: HashBytes,
    /// File hash.
    pub file_hash: HashBytes,
}

/// `getMasterchainInfo`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterchainInfo {
    /// The last masterchain block.
    pub last: BlockId,
    /// The zerostate (genesis) block.
    pub init: BlockId,
    /// The last block's state root hash.
    pub state_root_hash: HashBytes,
}

/// `estimateFee`'s `source_fees`, in nanotons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fees {
    /// Import fee of the inbound external message.
    pub in_fwd_fee: u128,
    /// Storage fee.
    pub storage_fee: u128,
    /// Gas fee.
    pub gas_fee: u128,
    /// Forwarding fees of the outbound messages.
    pub fwd_fee: u128,
}

impl Fees {
    /// The sum of all four.
    pub fn total(&self) -> u128 {
        self.in_fwd_fee + self.storage_fee + self.gas_fee + self.fwd_fee
    }
}

type R<T> = Result<T, String>;

fn field<'a>(v: &'a Value, name: &str) -> R<&'a Value> {
    v.get(name).ok_or_else(|| format!("missing field {name:?}"))
}

/// A non-negative integer given as a number or a decimal string.
pub(crate) fn uint(v: &Value, name: &str) -> R<u128> {
    match v {
        Value::Number(n) => {
            n.as_u64().map(u128::from).ok_or_else(|| format!("{name}: {n} is not a non-negative integer"))
        }
        Value::String(s) => {
            s.trim().parse::<u128>().map_err(|_| format!("{name}: {s:?} is not a non-negative integer"))
        }
        other => Err(format!("{name}: expected an integer, got {other}")),
    }
}

fn uint_field(v: &Value, name: &str) -> R<u128> {
    uint(field(v, name)?, name)
}

fn uint_or_zero(v: &Value, name: &str) -> R<u128> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(x) => uint(x, name),
    }
}

fn small<T: TryFrom<u128>>(v: &Value, name: &str) -> R<T> {
    T::try_from(uint_field(v, name)?).map_err(|_| format!("{name}: out of range"))
}

fn signed(v: &Value, name: &str) -> R<i64> {
    match field(v, name)? {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{name}: {n} is not an integer")),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| format!("{name}: {s:?} is not an integer")),
        other => Err(format!("{name}: expected an integer, got {other}")),
    }
}

fn string<'a>(v: &'a Value, name: &str) -> R<&'a str> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("{name}: expected a string, got {other}")),
    }
}

/// A 32-byte hash in base64 (either alphabet) or hex.
pub(crate) fn hash(s: &str, name: &str) -> R<HashBytes> {
    let t = s.trim();
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(t).map_err(|e| format!("{name}: {e}"))?
    } else if t.contains(['-', '_']) {
        URL_SAFE.decode(t).map_err(|e| format!("{name}: {e}"))?
    } else {
        STANDARD.decode(t).map_err(|e| format!("{name}: {e}"))?
    };
    let arr: [u8; 32] = bytes.try_into().map_err(|_| format!("{name}: not 32 bytes"))?;
    Ok(HashBytes(arr))
}

fn opt_hash(v: &Value, name: &str) -> R<Option<HashBytes>> {
    let s = string(v, name)?;
    if s.is_empty() {
        Ok(None)
    } else {
        hash(s, name).map(Some)
    }
}

fn opt_boc(v: &Value, name: &str) -> R<Option<Cell>> {
    let s = string(v, name)?;
    if s.is_empty() {
        return Ok(None);
    }
    Boc::decode_base64(s).map(Some).map_err(|e| format!("{name}: bad BOC: {e}"))
}

fn opt_address(v: &Value, name: &str) -> R<Option<StdAddr>> {
    let s = match v.get(name) {
        // toncenter v2 sometimes wraps it: {"@type": "accountAddress", "account_address": ".."}
        Some(Value::Object(o)) => o.get("account_address").and_then(Value::as_str).unwrap_or(""),
        _ => string(v, name)?,
    };
    if s.is_empty() {
        return Ok(None);
    }
    crate::address::parse_std(s).map(Some).map_err(|e| format!("{name}: {e}"))
}

/// toncenter's state names, and tonlib's short ones.
pub(crate) fn account_state(s: &str) -> R<AccountState> {
    match s {
        "active" => Ok(AccountState::Active),
        "uninitialized" | "uninit" | "nonexist" | "" => Ok(AccountState::Uninit),
        "frozen" => Ok(AccountState::Frozen),
        other => Err(format!("unknown account state {other:?}")),
    }
}

/// `internal.transactionId`; the all-zero id (lt 0) means none.
fn transaction_id(v: &Value) -> R<Option<TransactionId>> {
    let lt = u64::try_from(uint_field(v, "lt")?).map_err(|_| "lt out of range".to_owned())?;
    let h = hash(string(v, "hash")?, "hash")?;
    Ok((lt != 0).then_some(TransactionId { lt, hash: h }))
}

fn last_tx(v: &Value) -> R<Option<TransactionId>> {
    match v.get("last_transaction_id") {
        None | Some(Value::Null) => Ok(None),
        Some(t) => transaction_id(t),
    }
}

pub(crate) fn account_info(v: &Value) -> R<AccountInfo> {
    Ok(AccountInfo {
        state: account_state(string(v, "state")?)?,
        balance: uint_field(v, "balance")?,
        code: opt_boc(v, "code")?,
        data: opt_boc(v, "data")?,
        last_transaction: last_tx(v)?,
        frozen_hash: opt_hash(v, "frozen_hash")?,
    })
}

pub(crate) fn wallet_info(v: &Value) -> R<WalletInfo> {
    let is_wallet = field(v, "wallet")?.as_bool().ok_or("wallet: expected a boolean")?;
    let opt_u32 = |name: &str| -> R<Option<u32>> {
        match v.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => u32::try_from(uint(x, name)?).map(Some).map_err(|_| format!("{name}: out of range")),
        }
    };
    let wallet_type = string(v, "wallet_type")?;
    Ok(WalletInfo {
        is_wallet,
        balance: uint_field(v, "balance")?,
        state: account_state(string(v, "account_state")?)?,
        wallet_type: (!wallet_type.is_empty()).then(|| wallet_type.to_owned()),
        seqno: opt_u32("seqno")?,
        wallet_id: opt_u32("wallet_id")?,
        last_transaction: last_tx(v)?,
    })
}

pub(crate) fn get_method_result(v: &Value) -> R<GetMethodResult> {
    let exit_code = i32::try_from(signed(v, "exit_code")?).map_err(|_| "exit_code out of range".to_owned())?;
    let gas_used = match v.get("gas_used") {
        None | Some(Value::Null) => 0,
        Some(g) => u64::try_from(uint(g, "gas_used")?).unwrap_or(u64::MAX),
    };
    let stack = match v.get("stack") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(StackEntry::from_json).collect::<R<Vec<_>>>()?,
        Some(other) => return Err(format!("stack: expected an array, got {other}")),
    };
    Ok(GetMethodResult { exit_code, gas_used, stack })
}

pub(crate) fn ext_message_hash(v: &Value) -> R<ExtMessageHash> {
    Ok(ExtMessageHash { hash: hash(string(v, "hash")?, "hash")?, hash_norm: opt_hash(v, "hash_norm")? })
}

fn tx_message(v: &Value) -> R<TxMessage> {
    let data = v.get("msg_data").unwrap_or(&Value::Null);
    let (body, init_state, text) = match data.get("@type").and_then(Value::as_str) {
        Some("msg.dataText") => {
            let t = STANDARD.decode(string(data, "text")?).ok().and_then(|b| String::from_utf8(b).ok());
            (None, None, t)
        }
        _ => (opt_boc(data, "body")?, opt_boc(data, "init_state")?, None),
    };
    let message =
        text.or_else(|| v.get("message").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned));
    Ok(TxMessage {
        hash: opt_hash(v, "hash")?,
        source: opt_address(v, "source")?,
        destination: opt_address(v, "destination")?,
        value: uint_or_zero(v, "value")?,
        fwd_fee: uint_or_zero(v, "fwd_fee")?,
        created_lt: u64::try_from(uint_or_zero(v, "created_lt")?).map_err(|_| "created_lt out of range".to_owned())?,
        body_hash: opt_hash(v, "body_hash")?,
        body,
        init_state,
        message,
    })
}

pub(crate) fn transaction(v: &Value) -> R<Transaction> {
    let id = transaction_id(field(v, "transaction_id")?)?.ok_or("transaction with lt 0")?;
    let cell = opt_boc(v, "data")?.ok_or("transaction without data (its BOC)")?;
    if *cell.repr_hash() != id.hash {
        return Err(format!("transaction {}: its BOC hashes to {}", id.hash, cell.repr_hash()));
    }
    let in_msg = match v.get("in_msg") {
        None | Some(Value::Null) => None,
        Some(m) => Some(tx_message(m)?),
    };
    let out_msgs = match v.get("out_msgs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ms)) => ms.iter().map(tx_message).collect::<R<Vec<_>>>()?,
        Some(other) => return Err(format!("out_msgs: expected an array, got {other}")),
    };
    Ok(Transaction {
        id,
        utime: small(v, "utime")?,
        fee: uint_or_zero(v, "fee")?,
        storage_fee: uint_or_zero(v, "storage_fee")?,
        in_msg,
        out_msgs,
        cell,
    })
}

fn block_id(v: &Value) -> R<BlockId> {
    Ok(BlockId {
        workchain: i32::try_from(signed(v, "workchain")?).map_err(|_| "workchain out of range".to_owned())?,
        shard: signed(v, "shard")?,
        seqno: small(v, "seqno")?,
        root_hash: hash(string(v, "root_hash")?, "root_hash")?,
        file_hash: hash(string(v, "file_hash")?, "file_hash")?,
    })
}

pub(crate) fn masterchain_info(v: &Value) -> R<MasterchainInfo> {
    Ok(MasterchainInfo {
        last: block_id(field(v, "last")?)?,
        init: block_id(field(v, "init")?)?,
        state_root_hash: hash(string(v, "state_root_hash")?, "state_root_hash")?,
    })
}

pub(crate) fn fees(v: &Value) -> R<Fees> {
    let f = field(v, "source_fees")?;
    Ok(Fees {
        in_fwd_fee: uint_or_zero(f, "in_fwd_fee")?,
        storage_fee: uint_or_zero(f, "storage_fee")?,
        gas_fee: uint_or_zero(f, "gas_fee")?,
        fwd_fee: uint_or_zero(f, "fwd_fee")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn account_info_accepts_toncenter_shapes() {
        let v = json!({
            "@type": "raw.fullAccountState", "balance": "1234", "code": "", "data": "",
            "last_transaction_id": {"@type": "internal.transactionId", "lt": "0", "hash": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
            "frozen_hash": "", "state": "uninitialized"
        });
        let a = account_info(&v).unwrap();
        assert_eq!(a.state, AccountState::Uninit);
        assert_eq!(a.balance, 1234);
        assert!(a.code.is_none() && a.last_transaction.is_none());
        let v = json!({"balance": 5, "state": "active", "last_transaction_id": {"lt": 7, "hash": "11".repeat(32)}});
        let a = account_info(&v).unwrap();
        assert_eq!(a.last_transaction.map(|t| t.lt), Some(7));
        assert!(account_info(&json!({"balance": "-1", "state": "active"})).is_err());
    }

    #[test]
    fn fees_and_wallet_info() {
        let f =
            fees(&json!({"source_fees": {"in_fwd_fee": 1, "storage_fee": "2", "gas_fee": 3, "fwd_fee": 4}})).unwrap();
        assert_eq!(f.total(), 10);
        let w = wallet_info(&json!({"wallet": true, "balance": "9", "account_state": "active", "wallet_type": "wallet v4 r2", "seqno": 3, "wallet_id": 698983191})).unwrap();
        assert_eq!((w.seqno, w.wallet_id, w.wallet_type.as_deref()), (Some(3), Some(698983191), Some("wallet v4 r2")));
    }
}
