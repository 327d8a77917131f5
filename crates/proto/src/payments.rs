//! Messages of the payment protocol: account operations and voucher delivery.
//!
//! Vouchers travel as base64 BOCs (TON's bag-of-cells), the exact bytes a TON contract takes;
//! `cocoon-voucher` parses and verifies them. Amounts are integer nanotons.

use serde::{Deserialize, Serialize};

/// Body of a deposit, stake or withdrawal request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountRequest {
    /// Nanotons (1 TON = 10^9).
    pub amount: u64,
}

/// One committed cumulative voucher, pushed to the account it settles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherEvent {
    /// Base64 BOC of the signed voucher.
    pub voucher: String,
}
