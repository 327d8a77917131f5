//! Prints `contracts/tests/vectors/vouchers.json` for the contracts' `targets.json`:
//!
//! ```text
//! cargo run -p cocoon-voucher --example vectors > contracts/tests/vectors/vouchers.json
//! ```
//!
//! See `cocoon_voucher::vectors` for what the file holds.

use std::process::ExitCode;

use cocoon_voucher::vectors::{generate, workspace_root, TARGETS_PATH};

fn main() -> ExitCode {
    let path = workspace_root().join(TARGETS_PATH);
    let targets = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    match generate(&targets) {
        Ok(json) => {
            print!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
