//! A line-echo server whose connection handler leaks one task per client
//! disconnect, and the growth check that catches it. Run it with
//! `cargo run --example growing_server`.
//!
//! The server legitimately keeps tasks (its accept loop, a fixed set of
//! workers), so an exact "no task survives" check cannot apply; a growth
//! check can: its handler's leak grows with the number of clients served.

use std::sync::Arc;
use std::time::Duration;

use taskleak::BuilderExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Accepts connections forever, beside a fixed set of workers.
async fn serve(listener: TcpListener) {
    let shutdown = Arc::new(Notify::new());
    for _ in 0..4 {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { shutdown.notified().await }); // a worker
    }
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(handle(socket, shutdown.clone()));
    }
}

/// Echoes lines until the client hangs up, then "cleans up" its session
/// in a task that waits for a shutdown that never comes: one task per
/// disconnect, forever.
async fn handle(socket: TcpStream, shutdown: Arc<Notify>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
    tokio::spawn(async move {
        shutdown.notified().await; // the leak: nobody ever notifies
    });
}

/// One client: connect, one request, hang up.
async fn ping(addr: std::net::SocketAddr) -> std::io::Result<()> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(b"ping\n").await?;
    let mut reply = String::new();
    BufReader::new(&mut conn).read_line(&mut reply).await?;
    assert_eq!(reply, "ping\n");
    Ok(())
}

fn main() -> std::io::Result<()> {
    // Current-thread: a check inside its `block_on` can take a task dump
    // of it (`stuck in`, with the `taskdump` feature).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .track_tasks()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(serve(listener));

        let growth = taskleak::Options::new()
            .grace(Duration::from_millis(300))
            .growth();
        for _ in 0..200 {
            ping(addr).await?;
            growth.round();
        }
        println!("200 clients served; checking growth.\n");
        match growth.check_async().await {
            Ok(()) => println!("no spawn site grew with the clients"),
            Err(growing) => println!("{growing}"),
        }
        Ok(())
    })
}
