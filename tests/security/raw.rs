//! HTTP/1.1 by hand, for what an attacker does and reqwest will not: declare one length and send
//! another, trickle bytes, hold a connection half-written.
use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A response as read off the wire.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

pub async fn connect(base: &str) -> TcpStream {
    let addr = base.strip_prefix("http://").expect("an http:// base");
    let s = TcpStream::connect(addr)
        .await
        .expect("hubsync accepts a connection");
    s.set_nodelay(true).unwrap();
    s
}

/// The head of a webhook POST that declares `length` body bytes.
pub fn webhook_head(length: usize, delivery: &str, signature: &str) -> String {
    format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: hubsync\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: push\r\nX-GitHub-Delivery: {delivery}\r\n\
         X-Hub-Signature-256: {signature}\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// Reads one response (head, then a `Content-Length` body). Gives up after `patience`: the
/// tests wait on hubsync's answer, and this only stops a broken build from hanging the suite.
pub async fn answer(s: &mut TcpStream, patience: Duration) -> Option<Answer> {
    tokio::time::timeout(patience, read_answer(s))
        .await
        .ok()
        .flatten()
}

async fn read_answer(s: &mut TcpStream) -> Option<Answer> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut answer = Answer {
        status,
        head,
        body: String::new(),
    };
    let length: usize = answer
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end..].to_vec();
    while body.len() < length {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    answer.body = String::from_utf8_lossy(&body).into_owned();
    Some(answer)
}

/// Whether the server has closed the connection (a read sees the end, or an error).
pub async fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_millis(10), s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// Writes `bytes` and says whether the connection took them.
pub async fn send(s: &mut TcpStream, bytes: &[u8]) -> bool {
    s.write_all(bytes).await.is_ok()
}
