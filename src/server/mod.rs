//! Sockets and frames. Knows a frame's length, the request header and the correlation id; never an
//! API's meaning (it hands the frame to `handler::handle`).
pub mod connection;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::broker::BrokerState;

/// Accepts connections until `shutdown` flips, one task per connection.
pub async fn accept_loop(listener: TcpListener, state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let (st, sd) = (state.clone(), shutdown.clone());
                    tokio::spawn(async move { connection::serve(st, stream, peer, sd).await });
                }
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}
