//! The API socket: listening, authorizing each peer by its kernel-reported credentials, and
//! handing requests to the core one at a time.

use super::api::{MAX_REQUEST_BYTES, Request, Response};
use super::core::Core;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("another knoxctl agent is already listening on {0}")]
    InUse(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("API group '{0}' does not exist")]
    NoSuchGroup(String),
}

/// Who may use the API: root, and members of `group` when one is configured.
#[derive(Clone, Debug)]
pub struct Access {
    pub gid: Option<u32>,
}

impl Access {
    pub fn for_group(name: Option<&str>) -> Result<Access, ServerError> {
        let Some(name) = name else {
            return Ok(Access { gid: None });
        };
        let gid = group_gid(name).ok_or_else(|| ServerError::NoSuchGroup(name.to_string()))?;
        Ok(Access { gid: Some(gid) })
    }

    fn allows(&self, uid: u32, gid: u32, pid: Option<i32>) -> bool {
        if uid == 0 {
            return true;
        }
        let Some(want) = self.gid else { return false };
        gid == want || pid.is_some_and(|p| supplementary_groups(p).contains(&want))
    }
}

fn group_gid(name: &str) -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
    })
}

fn supplementary_groups(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Groups:")).map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|g| g.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Binds the socket: refuses if a live agent answers there, replaces a stale file, and
/// restricts the file to root (and the API group).
pub fn bind(path: &Path, access: &Access) -> Result<UnixListener, ServerError> {
    let name = path.display().to_string();
    let io = |source| ServerError::Io {
        path: name.clone(),
        source,
    };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ServerError::InUse(name));
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    let mode = if access.gid.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    if let Some(gid) = access.gid {
        std::os::unix::fs::chown(path, Some(0), Some(gid)).map_err(io)?;
    }
    Ok(listener)
}

async fn read_request(stream: &mut UnixStream) -> Result<Request, Response> {
    let mut reader = BufReader::new(stream).take(MAX_REQUEST_BYTES as u64 + 1);
    let mut line = String::new();
    match reader.read_line(&mut line).await {
        Ok(n) if n > MAX_REQUEST_BYTES => Err(Response::error("bad-request", "request too large")),
        Ok(_) => serde_json::from_str(&line)
            .map_err(|e| Response::error("bad-request", format!("malformed request: {e}"))),
        Err(e) => Err(Response::error(
            "bad-request",
            format!("cannot read the request: {e}"),
        )),
    }
}

async fn serve_one(mut stream: UnixStream, core: Arc<Mutex<Core>>, access: Access) {
    let response = match stream.peer_cred() {
        Ok(cred) if access.allows(cred.uid(), cred.gid(), cred.pid()) => {
            match read_request(&mut stream).await {
                Ok(request) => {
                    let core = core.clone();
                    tokio::task::spawn_blocking(move || {
                        core.lock().expect("core lock").handle(request)
                    })
                    .await
                    .unwrap_or_else(|e| Response::error("failed", format!("internal error: {e}")))
                }
                Err(r) => r,
            }
        }
        Ok(cred) => {
            tracing::warn!(uid = cred.uid(), pid = ?cred.pid(), "refused API access");
            Response::error(
                "forbidden",
                format!(
                    "uid {} may not use the knoxctl API: it is for root{}",
                    cred.uid(),
                    if access.gid.is_some() {
                        " and the configured API group"
                    } else {
                        ""
                    }
                ),
            )
        }
        Err(e) => Response::error("forbidden", format!("cannot read peer credentials: {e}")),
    };
    let mut line = serde_json::to_vec(&response).expect("response serializes");
    line.push(b'\n');
    let _ = stream.write_all(&line).await;
}

/// Serves until `shutdown` resolves; removes the socket file on the way out.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    core: Arc<Mutex<Core>>,
    access: Access,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_one(stream, core.clone(), access.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = &mut shutdown => break,
        }
    }
    let _ = std::fs::remove_file(&path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rules() {
        let root_only = Access { gid: None };
        assert!(root_only.allows(0, 0, None));
        assert!(!root_only.allows(1000, 1000, None));
        let group = Access { gid: Some(4242) };
        assert!(group.allows(1000, 4242, None));
        assert!(!group.allows(1000, 1000, None));
        assert_eq!(group_gid("root"), Some(0));
        assert_eq!(group_gid("no-such-group-knoxctl"), None);
    }
}
