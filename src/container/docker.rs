//! A Docker Engine API client over a Unix socket, for docker and for podman's
//! Docker-compatible service: list running containers, inspect one, follow the event
//! stream. Hand-written HTTP/1.1 (three GETs and chunked decoding, measured: both engines
//! answer `Transfer-Encoding: chunked`, inspect included) rather than a client crate:
//! bollard would add 52 crates to the build for these three calls.

use super::Container;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// An answer larger than this is refused (a list of a few thousand containers fits).
const MAX_BODY: usize = 16 << 20;
/// A request that has not answered by then is given up (the engine is wedged).
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("{socket}: {source}")]
    Io {
        socket: String,
        source: std::io::Error,
    },
    #[error("{socket}: no answer within {}s", TIMEOUT.as_secs())]
    Timeout { socket: String },
    #[error("{socket}: malformed HTTP answer: {what}")]
    Protocol { socket: String, what: String },
    #[error("{socket}: {path}: HTTP {status}")]
    Status {
        socket: String,
        path: String,
        status: u16,
    },
}

/// Decodes `Transfer-Encoding: chunked` incrementally: bytes go in as they arrive, the
/// body comes out as soon as each chunk is complete.
#[derive(Debug, Default)]
pub struct Chunked {
    pending: Vec<u8>,
    /// Bytes of the current chunk still to come, and whether its CRLF is still due.
    state: ChunkState,
}

#[derive(Debug, Default, PartialEq)]
enum ChunkState {
    #[default]
    Size,
    Data(usize),
    DataEnd,
    Done,
}

impl Chunked {
    /// Feeds `input`, appending what it completes of the body to `out`. Errors on a
    /// malformed size line.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.pending.extend_from_slice(input);
        let mut at = 0;
        loop {
            match self.state {
                ChunkState::Done => break,
                ChunkState::Size => {
                    let Some(nl) = self.pending[at..].iter().position(|&b| b == b'\n') else {
                        if self.pending.len() - at > 1024 {
                            return Err("chunk size line too long".into());
                        }
                        break;
                    };
                    let line = String::from_utf8_lossy(&self.pending[at..at + nl]).to_string();
                    at += nl + 1;
                    // `size[;extension]\r`
                    let hex = line
                        .trim_end_matches('\r')
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim();
                    let size = usize::from_str_radix(hex, 16)
                        .map_err(|_| format!("bad chunk size {hex:?}"))?;
                    self.state = if size == 0 {
                        ChunkState::Done
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    let take = left.min(self.pending.len() - at);
                    if take == 0 {
                        break;
                    }
                    out.extend_from_slice(&self.pending[at..at + take]);
                    at += take;
                    self.state = if take == left {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - take)
                    };
                }
                ChunkState::DataEnd => {
                    let rest = &self.pending[at..];
                    if rest.starts_with(b"\r\n") {
                        at += 2;
                    } else if rest.starts_with(b"\n") {
                        at += 1;
                    } else if rest.len() < 2 && (rest.is_empty() || rest[0] == b'\r') {
                        break;
                    } else {
                        return Err("chunk not followed by CRLF".into());
                    }
                    self.state = ChunkState::Size;
                }
            }
        }
        self.pending.drain(..at);
        Ok(())
    }

    /// The last (empty) chunk has been read.
    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }
}

/// How a response body is delimited.
enum Framing {
    Chunked(Chunked),
    Length(usize),
    Close,
}

/// One engine's API socket.
#[derive(Clone, Debug)]
pub struct Client {
    pub socket: PathBuf,
}

/// An open response whose body is read as it comes.
pub struct Body {
    stream: UnixStream,
    framing: Framing,
    decoded: Vec<u8>,
    socket: String,
    eof: bool,
}

impl Body {
    /// More of the body; false at its end.
    async fn more(&mut self) -> Result<bool, DockerError> {
        if self.eof {
            return Ok(false);
        }
        let mut buf = [0u8; 16 * 1024];
        let n = self
            .stream
            .read(&mut buf)
            .await
            .map_err(|source| DockerError::Io {
                socket: self.socket.clone(),
                source,
            })?;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        match &mut self.framing {
            Framing::Chunked(c) => {
                c.feed(&buf[..n], &mut self.decoded)
                    .map_err(|what| DockerError::Protocol {
                        socket: self.socket.clone(),
                        what,
                    })?;
                if c.done() {
                    self.eof = true;
                }
            }
            Framing::Length(left) => {
                let take = n.min(*left);
                self.decoded.extend_from_slice(&buf[..take]);
                *left -= take;
                if *left == 0 {
                    self.eof = true;
                }
            }
            Framing::Close => self.decoded.extend_from_slice(&buf[..n]),
        }
        Ok(true)
    }

    /// The whole body.
    async fn all(mut self) -> Result<Vec<u8>, DockerError> {
        while self.more().await? {
            if self.decoded.len() > MAX_BODY {
                return Err(DockerError::Protocol {
                    socket: self.socket,
                    what: "answer too large".into(),
                });
            }
        }
        Ok(self.decoded)
    }

    /// The next newline-delimited JSON value of a streaming body (the events); None at its
    /// end. Lines that are not JSON are skipped.
    pub async fn next_json(&mut self) -> Result<Option<Value>, DockerError> {
        loop {
            while let Some(nl) = self.decoded.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.decoded.drain(..=nl).collect();
                if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                    return Ok(Some(v));
                }
            }
            if self.decoded.len() > MAX_BODY {
                return Err(DockerError::Protocol {
                    socket: self.socket.clone(),
                    what: "event too large".into(),
                });
            }
            if !self.more().await? {
                // A last value without a newline.
                let rest = std::mem::take(&mut self.decoded);
                return Ok(serde_json::from_slice(&rest).ok());
            }
        }
    }
}

/// Percent-encodes a query value.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Client {
    pub fn new(socket: &Path) -> Client {
        Client {
            socket: socket.to_path_buf(),
        }
    }

    fn name(&self) -> String {
        self.socket.display().to_string()
    }

    /// Sends `GET path` and reads the status line and headers.
    async fn get(&self, path: &str) -> Result<Body, DockerError> {
        let socket = self.name();
        let io = |source| DockerError::Io {
            socket: socket.clone(),
            source,
        };
        let mut stream = UnixStream::connect(&self.socket).await.map_err(io)?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: knoxctl\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        let end = loop {
            if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if head.len() > 64 * 1024 {
                return Err(DockerError::Protocol {
                    socket,
                    what: "headers too long".into(),
                });
            }
            let n = stream.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                return Err(DockerError::Protocol {
                    socket,
                    what: "connection closed before the headers ended".into(),
                });
            }
            head.extend_from_slice(&buf[..n]);
        };
        let rest = head.split_off(end + 4);
        let head = String::from_utf8_lossy(&head).to_string();
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| DockerError::Protocol {
                socket: socket.clone(),
                what: "no status line".into(),
            })?;
        let mut framing = Framing::Close;
        for l in lines {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                framing = Framing::Chunked(Chunked::default());
            } else if k == "content-length"
                && !matches!(framing, Framing::Chunked(_))
                && let Ok(n) = v.parse()
            {
                framing = Framing::Length(n);
            }
        }
        if !(200..300).contains(&status) {
            return Err(DockerError::Status {
                socket,
                path: path.to_string(),
                status,
            });
        }
        let mut body = Body {
            stream,
            eof: matches!(framing, Framing::Length(0)),
            framing,
            decoded: Vec::new(),
            socket,
        };
        // What came with the headers.
        match &mut body.framing {
            Framing::Chunked(c) => {
                c.feed(&rest, &mut body.decoded)
                    .map_err(|what| DockerError::Protocol {
                        socket: body.socket.clone(),
                        what,
                    })?;
                body.eof = c.done();
            }
            Framing::Length(left) => {
                let take = rest.len().min(*left);
                body.decoded.extend_from_slice(&rest[..take]);
                *left -= take;
                body.eof = *left == 0;
            }
            Framing::Close => body.decoded.extend_from_slice(&rest),
        }
        Ok(body)
    }

    async fn get_json(&self, path: &str) -> Result<Value, DockerError> {
        let socket = self.name();
        let body = tokio::time::timeout(TIMEOUT, async { self.get(path).await?.all().await })
            .await
            .map_err(|_| DockerError::Timeout {
                socket: socket.clone(),
            })??;
        serde_json::from_slice(&body).map_err(|e| DockerError::Protocol {
            socket,
            what: e.to_string(),
        })
    }

    /// Whether an engine answers on the socket (`GET /_ping`).
    pub async fn ping(&self) -> bool {
        tokio::time::timeout(TIMEOUT, async { self.get("/_ping").await?.all().await })
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The running containers, as the list shows them.
    pub async fn list(&self) -> Result<Vec<Listed>, DockerError> {
        let v = self.get_json("/containers/json").await?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(Listed::from_json).collect())
            .unwrap_or_default())
    }

    /// One container by id or name; None when it no longer exists.
    pub async fn inspect(&self, id: &str) -> Result<Option<Inspected>, DockerError> {
        match self
            .get_json(&format!("/containers/{}/json", query_escape(id)))
            .await
        {
            Ok(v) => Ok(Some(Inspected::from_json(&v))),
            Err(DockerError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The container events from `since` (unix seconds) on, as a stream.
    pub async fn events(&self, since: i64) -> Result<Body, DockerError> {
        let filters = query_escape(r#"{"type":["container"]}"#);
        let socket = self.name();
        tokio::time::timeout(
            TIMEOUT,
            self.get(&format!("/events?since={since}&filters={filters}")),
        )
        .await
        .map_err(|_| DockerError::Timeout { socket })?
    }
}

/// A running container as `GET /containers/json` lists it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl Listed {
    fn from_json(v: &Value) -> Option<Listed> {
        Some(Listed {
            id: v.get("Id")?.as_str()?.to_string(),
            name: v
                .pointer("/Names/0")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim_start_matches('/')
                .to_string(),
            labels: string_map(v.get("Labels")),
        })
    }
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// What an inspect says of a container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inspected {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub pid: u32,
    pub running: bool,
}

impl Inspected {
    pub fn from_json(v: &Value) -> Inspected {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let labels = string_map(v.pointer("/Config/Labels"));
        Inspected {
            id: s("/Id"),
            name: s("/Name").trim_start_matches('/').to_string(),
            image: s("/Config/Image"),
            labels,
            pid: v
                .pointer("/State/Pid")
                .and_then(Value::as_u64)
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(0),
            running: v
                .pointer("/State/Running")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    pub fn into_container(self, runtime: &str) -> Container {
        Container {
            id: self.id,
            name: self.name,
            image: self.image,
            labels: self.labels,
            runtime: runtime.to_string(),
            pid: self.pid,
            ..Container::default()
        }
    }
}

/// A container event: its id and action (`start`, `die`, `rename`, …).
pub fn event_of(v: &Value) -> Option<(String, String)> {
    if v.get("Type")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "container")
    {
        return None;
    }
    let id = v
        .pointer("/Actor/ID")
        .or_else(|| v.get("id"))
        .and_then(Value::as_str)?;
    let action = v
        .get("Action")
        .or_else(|| v.get("status"))
        .and_then(Value::as_str)?;
    Some((id.to_string(), action.to_string()))
}

/// Actions after which the container runs no more.
pub fn ends(action: &str) -> bool {
    // docker: `die`, `stop`, `destroy`; podman adds `cleanup`, `remove`. `kill` is only a
    // signal, the container may live on.
    matches!(
        action.split(':').next().unwrap_or(action),
        "die" | "stop" | "destroy" | "remove" | "cleanup" | "died"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> (Vec<u8>, bool) {
        let mut c = Chunked::default();
        let mut out = Vec::new();
        for p in input.chunks(piece) {
            c.feed(p, &mut out).unwrap();
        }
        (out, c.done())
    }

    #[test]
    fn chunked_decoding_whole_and_byte_by_byte() {
        let wire = b"7\r\n{\"a\":1}\r\n1;ext=x\r\n\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        for piece in [1, 2, 3, 5, wire.len()] {
            let (out, done) = decode_in_pieces(wire, piece);
            assert_eq!(out, b"{\"a\":1}\n0123456789abcdef", "piece {piece}");
            assert!(done, "piece {piece}");
        }
        // A stream still open: what is complete comes out, the rest waits.
        let (out, done) = decode_in_pieces(b"5\r\nhello\r\n3\r\nwo", 4);
        assert_eq!(out, b"hellowo");
        assert!(!done);
        let mut c = Chunked::default();
        assert!(c.feed(b"zz\r\n", &mut Vec::new()).is_err());
        let mut c = Chunked::default();
        assert!(c.feed(b"2\r\nabXY", &mut Vec::new()).is_err());
    }

    #[test]
    fn inspect_and_events_as_docker_and_podman_send_them() {
        let v: Value = serde_json::from_str(
            r#"{"Id":"abc","Name":"/ubuntu","Config":{"Image":"busybox:local","Labels":{"app":"demo"}},"State":{"Pid":42,"Running":true}}"#,
        )
        .unwrap();
        let i = Inspected::from_json(&v);
        assert_eq!(
            (i.name.as_str(), i.image.as_str(), i.pid, i.running),
            ("ubuntu", "busybox:local", 42, true)
        );
        assert_eq!(i.labels["app"], "demo");
        let docker: Value = serde_json::from_str(
            r#"{"status":"start","id":"abc","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"name":"x"}}}"#,
        )
        .unwrap();
        assert_eq!(event_of(&docker), Some(("abc".into(), "start".into())));
        let network: Value =
            serde_json::from_str(r#"{"Type":"network","Action":"connect","Actor":{"ID":"n"}}"#)
                .unwrap();
        assert_eq!(event_of(&network), None);
        assert!(ends("die") && ends("destroy") && !ends("kill") && !ends("rename"));
        assert!(!ends("exec_die") && !ends("health_status: healthy"));
        assert_eq!(query_escape(r#"{"a":1}"#), "%7B%22a%22%3A1%7D");
    }
}
