//! The shell against a scripted engine over loopback: framing, writes,
//! closes, API routing, timers and the graceful stop.

use super::*;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc as std_mpsc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Echoes every message back, closes on a framing error, answers API
/// requests with `{"echo": request}`, fires one timer after 50 ms, and
/// reports every input to the test.
struct Echo {
    seen: std_mpsc::Sender<String>,
    out: VecDeque<Output>,
    timer: Option<Instant>,
}

impl Engine for Echo {
    fn handle(&mut self, now: Instant, input: Input) {
        let _ = self.seen.send(match &input {
            Input::Accepted { .. } => "accepted".into(),
            Input::Message { bytes, .. } => format!("message {}", bytes.len()),
            Input::FramingError { code, subcode, .. } => format!("framing {code}/{subcode}"),
            Input::Closed { .. } => "closed".into(),
            Input::Api { .. } => "api".into(),
            other => format!("{other:?}"),
        });
        match input {
            Input::Message { conn, bytes } => self.out.push_back(Output::Send { conn, bytes }),
            Input::FramingError { conn, .. } => self.out.push_back(Output::Close { conn }),
            Input::Api { id, request } => {
                if request.get("command").and_then(Value::as_str) == Some("arm-timer") {
                    self.timer = Some(now + Duration::from_millis(50));
                }
                self.out.push_back(Output::ApiReply {
                    id,
                    reply: json!({ "echo": request }),
                })
            }
            _ => {}
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.timer.is_some_and(|t| t <= now) {
            self.timer = None;
            let _ = self.seen.send("timer".into());
        }
    }
    fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }
    fn reload(&mut self, _now: Instant, _config: &Config) -> Value {
        let _ = self.seen.send("reload".into());
        json!({"reset": []})
    }
    fn shutdown(&mut self, _now: Instant) {
        let _ = self.seen.send("shutdown".into());
    }
}

fn keepalive() -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&[0, 19, 4]);
    m
}

struct Setup {
    port: u16,
    socket: PathBuf,
    config_path: PathBuf,
    seen: std_mpsc::Receiver<String>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<()>>,
}

fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "evpnd-shell-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config_text(port: u16) -> String {
    format!("router_id = \"10.0.0.1\"\nasn = 65000\nlisten = [\"127.0.0.1:{port}\"]\n")
}

async fn start() -> Setup {
    let dir = temp_dir();
    let port = free_port();
    let config_path = dir.join("evpnd.toml");
    std::fs::write(&config_path, config_text(port)).unwrap();
    let config = Config::load(&config_path).unwrap();
    let socket = dir.join("api.sock");
    let (tx, seen) = std_mpsc::channel();
    let engine = Echo {
        seen: tx,
        out: VecDeque::new(),
        timer: None,
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let opts = Options::new(config_path.clone(), socket.clone());
    let task = tokio::task::spawn_local(run_until(engine, config, opts, async move {
        let _ = stop_rx.await;
    }));
    // Wait for the API socket to appear (bounded).
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Setup {
        port,
        socket,
        config_path,
        seen,
        stop: Some(stop_tx),
        task,
    }
}

async fn next_seen(rx: &std_mpsc::Receiver<String>) -> String {
    for _ in 0..200 {
        if let Ok(s) = rx.try_recv() {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("nothing seen within 2 s");
}

async fn api(socket: &Path, request: &str) -> Value {
    let s = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (rd, mut wr) = s.into_split();
    wr.write_all(format!("{request}\n").as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    BufReader::new(rd).read_line(&mut line).await.unwrap();
    serde_json::from_str(&line).unwrap()
}

fn local<F: std::future::Future<Output = ()>>(f: F) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f);
}

#[test]
fn messages_split_across_reads_reach_the_core_whole_and_echo_back() {
    local(async {
        let mut s = start().await;
        let mut tcp = TcpStream::connect(("127.0.0.1", s.port)).await.unwrap();
        assert_eq!(next_seen(&s.seen).await, "accepted");
        // Two messages, the second split across writes.
        let mut two = keepalive();
        two.extend_from_slice(&keepalive()[..10]);
        tcp.write_all(&two).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        tcp.write_all(&keepalive()[10..]).await.unwrap();
        assert_eq!(next_seen(&s.seen).await, "message 19");
        assert_eq!(next_seen(&s.seen).await, "message 19");
        let mut back = vec![0u8; 38];
        tokio::time::timeout(Duration::from_secs(2), tcp.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back[..19], keepalive()[..]);
        drop(tcp);
        assert_eq!(next_seen(&s.seen).await, "closed");
        let _ = s.stop.take().unwrap().send(());
        s.task.await.unwrap().unwrap();
        assert_eq!(next_seen(&s.seen).await, "shutdown");
        assert!(!s.socket.exists(), "API socket removed on stop");
    });
}

#[test]
fn a_bad_marker_is_a_framing_error_and_the_core_closes() {
    local(async {
        let mut s = start().await;
        let mut tcp = TcpStream::connect(("127.0.0.1", s.port)).await.unwrap();
        assert_eq!(next_seen(&s.seen).await, "accepted");
        let mut bad = keepalive();
        bad[3] = 0;
        tcp.write_all(&bad).await.unwrap();
        assert_eq!(next_seen(&s.seen).await, "framing 1/1");
        // The shell closes after the core's Close: the client reads EOF.
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0);
        let _ = s.stop.take().unwrap().send(());
        s.task.await.unwrap().unwrap();
    });
}

#[test]
fn api_requests_are_routed_to_the_core_and_back_and_bad_json_is_answered() {
    local(async {
        let mut s = start().await;
        let mode = std::fs::metadata(&s.socket).unwrap().permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o660);
        let r = api(&s.socket, r#"{"command":"show-bgp-summary"}"#).await;
        assert_eq!(r, json!({"echo": {"command": "show-bgp-summary"}}));
        assert_eq!(next_seen(&s.seen).await, "api");
        let r = api(&s.socket, "not json").await;
        assert!(r["error"].as_str().unwrap().contains("not JSON"), "{r}");
        let _ = s.stop.take().unwrap().send(());
        s.task.await.unwrap().unwrap();
    });
}

#[test]
fn the_core_timer_fires_through_the_single_sleep() {
    local(async {
        let mut s = start().await;
        api(&s.socket, r#"{"command":"arm-timer"}"#).await;
        assert_eq!(next_seen(&s.seen).await, "api");
        assert_eq!(next_seen(&s.seen).await, "timer");
        let _ = s.stop.take().unwrap().send(());
        s.task.await.unwrap().unwrap();
    });
}

#[test]
fn reload_reports_the_diff_and_keeps_the_old_config_on_errors() {
    local(async {
        let mut s = start().await;
        let text = format!("{}hold_time = 30\n", config_text(s.port));
        std::fs::write(&s.config_path, text).unwrap();
        let r = api(&s.socket, r#"{"command":"reload"}"#).await;
        assert_eq!(r["changes"], json!(["~ hold_time: 90 -> 30"]), "{r}");
        assert_eq!(next_seen(&s.seen).await, "reload");
        std::fs::write(&s.config_path, "asn = 0\n").unwrap();
        let r = api(&s.socket, r#"{"command":"reload"}"#).await;
        assert!(r["error"].is_string(), "{r}");
        assert!(!r["errors"].as_array().unwrap().is_empty(), "{r}");
        let _ = s.stop.take().unwrap().send(());
        s.task.await.unwrap().unwrap();
    });
}

#[test]
fn a_second_daemon_on_the_same_api_socket_is_refused() {
    local(async {
        let mut s = start().await;
        let e = api_server::bind(&s.socket).unwrap_err();
        assert!(e.to_string().contains("another daemon"), "{e}");
        let _ = s.stop.take().unwrap().send(());
        s.task.await.unwrap().unwrap();
    });
}
