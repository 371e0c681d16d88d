//! A small line-echo server that never shuts down its tasks, checked by
//! taskleak. Run it with `cargo run --example leaky_server`.
//!
//! The accept loop runs forever, and each connection's handler lives as
//! long as its client keeps the connection open: the classic way a test of
//! a server leaves tasks behind.

use std::time::Duration;

use taskleak::BuilderExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections forever; nothing ever tells it to stop.
async fn serve(listener: TcpListener) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(handle(socket));
    }
}

/// Echoes lines until the client hangs up.
async fn handle(socket: TcpStream) {
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
}

/// Starts the server and returns its address.
async fn start() -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener));
    Ok(addr)
}

/// One request over a kept-alive connection, like a pooled client.
async fn ping(addr: std::net::SocketAddr) -> std::io::Result<(String, TcpStream)> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(b"ping\n").await?;
    let mut reply = String::new();
    BufReader::new(&mut conn).read_line(&mut reply).await?;
    Ok((reply.trim().to_owned(), conn))
}

fn main() -> std::io::Result<()> {
    // Current-thread: a check inside its `block_on` can take a task dump
    // of it (`stuck in`, with the `taskdump` feature). taskleak never
    // dumps a multi-thread runtime it did not build (docs/bounds.md).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .track_tasks()
        .build()?;

    let guard = taskleak::Options::new()
        .grace(Duration::from_millis(200))
        .verify_none();
    rt.block_on(async {
        let addr = start().await?;
        let mut pool = Vec::new();
        for _ in 0..3 {
            let (reply, conn) = ping(addr).await?;
            assert_eq!(reply, "ping");
            pool.push(conn); // a client pool keeps its connections open
        }
        println!("3 requests answered; the test body is done.\n");

        match guard.check_async().await {
            Ok(()) => println!("no leaked tasks"),
            Err(leaks) => println!("{leaks}"),
        }
        drop(pool);
        Ok(())
    })
}
