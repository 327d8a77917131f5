//! Binding a listening socket, with an error that tells an operator what to do.

use std::net::SocketAddr;
use tokio::net::TcpListener;

/// A failed listen, with a hint for the operator when the address is already in use.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}{hint}")]
pub struct BindError {
    /// The address we tried to listen on.
    pub addr: SocketAddr,
    /// The operating system's error.
    pub source: std::io::Error,
    hint: &'static str,
}

/// Binds `addr`; "address in use" becomes an error that says so and what to do.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| {
        let hint = if source.kind() == std::io::ErrorKind::AddrInUse {
            " (address already in use: is another instance running? pick another port)"
        } else {
            ""
        };
        BindError { addr, source, hint }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_says_so() {
        let taken = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let err = bind(taken.local_addr().unwrap()).await.unwrap_err();
        assert!(err.to_string().contains("already in use"), "{err}");
    }
}
