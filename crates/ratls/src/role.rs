//! The role a party plays in the network.
//!
//! The role is part of the signed claims so a policy can insist, for
//! example, that a proxy only accepts *workers* on its worker port.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Role of an RA-TLS party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A client sending inference requests.
    Client,
    /// A proxy routing requests to workers.
    Proxy,
    /// A worker running the model.
    Worker,
}

impl Role {
    /// Lowercase name, as used in serde and `Display`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Proxy => "proxy",
            Role::Worker => "worker",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "client" => Ok(Role::Client),
            "proxy" => Ok(Role::Proxy),
            "worker" => Ok(Role::Worker),
            other => Err(format!("unknown role {other:?} (expected client, proxy or worker)")),
        }
    }
}
