//! A small HTTP CONNECT proxy on 127.0.0.1 for tests: it tunnels every `CONNECT host:port`
//! to 127.0.0.1:port (so a made-up host name such as `upstream.test` reaches a local fake),
//! can demand Basic credentials (answering 407 without them), and counts the connections
//! and tunnels it served, so a test can tell whether a request went through it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const MAX_HEAD: usize = 16 * 1024;

#[derive(Default)]
struct Counts {
    connections: AtomicUsize,
    tunnels: AtomicUsize,
    refused: AtomicUsize,
}

/// The proxy; stops when dropped.
pub struct ConnectProxy {
    address: SocketAddr,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConnectProxy {
    /// `credentials`: the user and password it demands (`None`: anyone may connect).
    pub async fn start(credentials: Option<(&str, &str)>) -> std::io::Result<ConnectProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let expected = credentials.map(|(user, password)| {
            format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
        });
        let task = tokio::spawn(accept_loop(listener, expected, Arc::clone(&counts)));
        Ok(ConnectProxy {
            address,
            counts,
            task,
        })
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> usize {
        self.counts.connections.load(Ordering::SeqCst)
    }

    /// Tunnels opened.
    pub fn tunnels(&self) -> usize {
        self.counts.tunnels.load(Ordering::SeqCst)
    }

    /// Requests answered 407 (or refused for another reason).
    pub fn refused(&self) -> usize {
        self.counts.refused.load(Ordering::SeqCst)
    }
}

async fn accept_loop(listener: TcpListener, expected: Option<String>, counts: Arc<Counts>) {
    while let Ok((stream, _)) = listener.accept().await {
        counts.connections.fetch_add(1, Ordering::SeqCst);
        let (expected, counts) = (expected.clone(), Arc::clone(&counts));
        tokio::spawn(async move {
            let _ = serve(stream, expected.as_deref(), &counts).await;
        });
    }
}

async fn serve(
    mut client: TcpStream,
    expected: Option<&str>,
    counts: &Counts,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let end = loop {
        let mut buffer = [0u8; 4096];
        let read = client.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
        if let Some(at) = head.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        if head.len() > MAX_HEAD {
            return Ok(());
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut words = first.split_whitespace();
    let (method, target) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let refuse = |status: &str, extra: &str| {
        format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
    };
    if !method.eq_ignore_ascii_case("CONNECT") {
        counts.refused.fetch_add(1, Ordering::SeqCst);
        client
            .write_all(refuse("501 Not Implemented", "").as_bytes())
            .await?;
        return Ok(());
    }
    if let Some(expected) = expected {
        let want_token = expected.split_once(' ').map_or("", |(_, token)| token);
        let matches = lines
            .filter_map(|line| line.split_once(':'))
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case("proxy-authorization"))
            .any(|(_, value)| {
                let (scheme, token) = value.trim().split_once(' ').unwrap_or(("", ""));
                scheme.eq_ignore_ascii_case("basic") && token.trim() == want_token
            });
        if !matches {
            counts.refused.fetch_add(1, Ordering::SeqCst);
            client
                .write_all(
                    refuse(
                        "407 Proxy Authentication Required",
                        "Proxy-Authenticate: Basic realm=\"fake\"\r\n",
                    )
                    .as_bytes(),
                )
                .await?;
            return Ok(());
        }
    }
    let port: u16 = target
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or(443);
    let mut upstream = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(upstream) => upstream,
        Err(_) => {
            counts.refused.fetch_add(1, Ordering::SeqCst);
            client
                .write_all(refuse("502 Bad Gateway", "").as_bytes())
                .await?;
            return Ok(());
        }
    };
    counts.tunnels.fetch_add(1, Ordering::SeqCst);
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    if head.len() > end {
        upstream.write_all(&head[end..]).await?;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    Ok(())
}

/// Standard base64 with padding (for the expected `Proxy-Authorization`).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(super::base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(super::base64(b"ab"), "YWI=");
        assert_eq!(super::base64(b"a"), "YQ==");
    }
}
