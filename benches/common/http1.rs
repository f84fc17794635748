//! The ingest bench's sender: one keep-alive HTTP/1.1 connection writing a prepared request and
//! reading the status and body. The load generator shares the two cores with the server and the
//! database; reqwest cost about 40 µs of CPU per request (URL parsing, header maps, pooling),
//! which GitHub's senders, on their own machines, do not take from hubsync.
use std::io;

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

pub struct Conn {
    addr: String,
    stream: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    line: String,
    body: Vec<u8>,
}

impl Conn {
    /// `base` is `http://host:port`.
    pub fn new(base: &str) -> Self {
        let addr = base.strip_prefix("http://").expect("an http:// base");
        Self {
            addr: addr.trim_end_matches('/').to_owned(),
            stream: None,
            request: Vec::new(),
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// Posts `body` to `path` with these headers; returns the response status. A failed
    /// connection is reopened on the next request; its request counts as status 0.
    pub async fn post(&mut self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
        match self.try_post(path, headers, body).await {
            Ok(status) => status,
            Err(_) => {
                self.stream = None;
                0
            }
        }
    }

    /// Opens the connection unless it is open.
    pub async fn connect(&mut self) -> io::Result<()> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(BufReader::new(stream));
        }
        Ok(())
    }

    async fn try_post(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<u16> {
        self.connect().await?;
        let stream = self.stream.as_mut().expect("connected above");
        self.request.clear();
        self.request.extend_from_slice(
            format!("POST {path} HTTP/1.1\r\nHost: {}\r\n", self.addr).as_bytes(),
        );
        for (name, value) in headers {
            self.request
                .extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        self.request
            .extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.request.extend_from_slice(body);
        stream.get_mut().write_all(&self.request).await?;

        let status = read_line(stream, &mut self.line)
            .await?
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad("no status line"))?;
        let (mut length, mut close) = (0usize, false);
        loop {
            let line = read_line(stream, &mut self.line)
                .await?
                .to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("content-length:") {
                length = v.trim().parse().map_err(|_| bad("content-length"))?;
            } else if line.starts_with("transfer-encoding:") {
                return Err(bad("chunked responses are not expected here"));
            } else if line == "connection: close" {
                close = true;
            }
        }
        self.body.resize(length, 0);
        stream.read_exact(&mut self.body).await?;
        if close {
            self.stream = None;
        }
        Ok(status)
    }
}

async fn read_line<'a>(
    stream: &mut BufReader<TcpStream>,
    line: &'a mut String,
) -> io::Result<&'a str> {
    line.clear();
    if stream.read_line(line).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end())
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}
