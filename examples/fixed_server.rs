//! The server of `leaky_server`, with graceful shutdown: the same check
//! passes. Run it with `cargo run --example fixed_server`.
//!
//! The accept loop stops on a `CancellationToken`, each handler stops on a
//! child token, and a `TaskTracker` waits until every task has ended.

use std::time::Duration;

use taskleak::BuilderExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A running server and what it takes to stop it.
struct Server {
    addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Server {
    async fn start() -> std::io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let server = Server {
            addr: listener.local_addr()?,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        };
        let (stop, tasks) = (server.shutdown.clone(), server.tasks.clone());
        server.tasks.spawn(serve(listener, stop, tasks));
        Ok(server)
    }

    /// Stops accepting, closes every connection, and waits for all tasks.
    async fn shutdown(self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

async fn serve(listener: TcpListener, stop: CancellationToken, tasks: TaskTracker) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => {
                if let Ok((socket, _)) = accepted {
                    tasks.spawn(handle(socket, stop.child_token()));
                }
            }
        }
    }
}

async fn handle(socket: TcpStream, stop: CancellationToken) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    loop {
        let line = tokio::select! {
            _ = stop.cancelled() => return,
            line = lines.next_line() => line,
        };
        let Ok(Some(line)) = line else { return };
        if write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn ping(addr: std::net::SocketAddr) -> std::io::Result<(String, TcpStream)> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(b"ping\n").await?;
    let mut reply = String::new();
    BufReader::new(&mut conn).read_line(&mut reply).await?;
    Ok((reply.trim().to_owned(), conn))
}

fn main() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .track_tasks()
        .build()?;

    let guard = taskleak::Options::new()
        .grace(Duration::from_millis(200))
        .verify_none();
    rt.block_on(async {
        let server = Server::start().await?;
        let mut pool = Vec::new();
        for _ in 0..3 {
            let (reply, conn) = ping(server.addr).await?;
            assert_eq!(reply, "ping");
            pool.push(conn);
        }
        println!("3 requests answered; shutting the server down.\n");
        server.shutdown().await;

        match guard.check_async().await {
            Ok(()) => println!("taskleak: no leaked tasks"),
            Err(leaks) => {
                println!("{leaks}");
                std::process::exit(1);
            }
        }
        drop(pool);
        Ok(())
    })
}
