//! The evpnctl API: a Unix stream socket speaking newline-delimited JSON.
//!
//! One request per line, one reply per line, in order. Each request goes to
//! the core task, which turns it into [`Input::Api`](crate::core::io::Input::Api)
//! and routes the matching `Output::ApiReply` back here. A line that is not
//! JSON is answered here with `{"error": ...}` and the connection stays open.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::Event;

/// Longest request line accepted (route-add requests are small).
const MAX_LINE: usize = 1 << 20;

/// The socket file; removed when dropped so a restarted daemon can bind again.
#[derive(Debug)]
pub struct SocketFile(pub PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Bind the API socket at `path` with mode 0660. A stale socket file (left by
/// a killed daemon) is replaced; a live one (another daemon answers) or a
/// file that is not a socket is an error.
pub fn bind(path: &Path) -> io::Result<(UnixListener, SocketFile)> {
    let err = |what: &str, e: io::Error| {
        io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists and is not a socket", path.display()),
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{}: another daemon is listening", path.display()),
            ));
        }
        std::fs::remove_file(path).map_err(|e| err("remove stale socket", e))?;
    }
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| err("create directory for", e))?;
        }
    }
    let listener = UnixListener::bind(path).map_err(|e| err("bind", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| err("chmod 0660", e))?;
    Ok((listener, SocketFile(path.to_path_buf())))
}

/// Accept clients forever.
pub async fn accept_loop(listener: UnixListener, events: mpsc::Sender<Event>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(client(stream, events.clone()));
            }
            Err(e) => {
                warn!(error = %e, "API accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serve one client: request lines in, reply lines out.
async fn client(stream: UnixStream, events: mpsc::Sender<Event>) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = match (&mut rd)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                debug!(error = %e, "API client read failed");
                return;
            }
        };
        if n == 0 {
            return;
        }
        if line.len() > MAX_LINE {
            let _ = write_reply(
                &mut wr,
                &json!({"error": format!("request longer than {MAX_LINE} bytes")}),
            )
            .await;
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(text) {
            Ok(request) => {
                let (tx, rx) = oneshot::channel();
                if events
                    .send(Event::Api { request, reply: tx })
                    .await
                    .is_err()
                {
                    json!({"error": "daemon is shutting down"})
                } else {
                    rx.await
                        .unwrap_or_else(|_| json!({"error": "daemon dropped the request"}))
                }
            }
            Err(e) => json!({"error": format!("request is not JSON: {e}")}),
        };
        if write_reply(&mut wr, &reply).await.is_err() {
            return;
        }
    }
}

async fn write_reply(wr: &mut tokio::net::unix::OwnedWriteHalf, reply: &Value) -> io::Result<()> {
    let mut out = serde_json::to_vec(reply).map_err(io::Error::other)?;
    out.push(b'\n');
    wr.write_all(&out).await
}
