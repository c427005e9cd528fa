//! The tokio shell: sockets, timers and signals around the sans-IO core.
//!
//! One task owns the core ([`Engine`]) and everything keyed by connection; no
//! lock is shared with anyone. Other tasks talk to it through one channel of
//! [`Event`]s:
//!
//! ```text
//! listener tasks ── Accepted(stream) ──┐
//! connect tasks ─── Connected(result) ─┤                       ┌─> writer task per conn (bounded queue)
//! reader tasks ──── Input::Message ────┼─> core task ─ Output ─┼─> connect tasks
//! writer tasks ──── SendStalled/Closed ┤   (one sleep =        ├─> listener socket options
//! API clients ───── Api(request, tx) ──┘    poll_timeout)      └─> API replies
//! signals: SIGHUP → reload + diff; SIGTERM/SIGINT → graceful stop
//! ```
//!
//! Connection ids: the core picks ids for its [`Output::Connect`]s; the shell
//! numbers accepted connections from [`ACCEPTED_CONN_BASE`] up so the two
//! never collide.
//!
//! A graceful stop asks the core to say goodbye ([`Engine::shutdown`]: Cease /
//! Administrative Shutdown to every peer), flushes the writers for a bounded
//! time and exits. Kernel state is left as it is (the next start reconciles).

pub mod api_server;
pub mod conn;
pub mod dataplane;
pub mod log;
pub mod reload;
pub mod sockopt;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::core::io::{ConnId, Input, Output, RequestId, SocketOpts};
use conn::WriterCmd;
use sockopt::SocketFamily;

/// The sans-IO protocol engine the shell drives (implemented by
/// [`crate::core::Core`]; tests drive the shell with small fakes).
pub trait Engine {
    fn handle(&mut self, now: Instant, input: Input);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_output(&mut self) -> Option<Output>;
    fn poll_timeout(&self) -> Option<Instant>;
    /// Apply a new configuration (already validated); returns what the
    /// engine did about it (sessions added, removed, reset), for the log and
    /// the API reply.
    fn reload(&mut self, now: Instant, config: &Config) -> Value;
    /// Graceful stop: queue Cease / Administrative Shutdown (RFC 4486 subcode
    /// 2) and a close for every session.
    fn shutdown(&mut self, now: Instant);
}

/// Accepted connections are numbered from here; the core numbers its own
/// outbound connections below it.
pub const ACCEPTED_CONN_BASE: u64 = 1 << 63;

/// What a shell instance needs besides the config.
#[derive(Debug, Clone)]
pub struct Options {
    /// Re-read on SIGHUP and `evpnctl reload`.
    pub config_path: PathBuf,
    /// The API socket (the command line's `--socket` or the config's `api.socket`).
    pub socket: PathBuf,
    /// Bound on one outbound TCP connect.
    pub connect_timeout: Duration,
    /// A write making no progress this long is reported as `SendStalled` (RFC 9687).
    pub send_hold: Duration,
    /// How long a graceful stop waits for writers to flush.
    pub stop_flush: Duration,
}

impl Options {
    pub fn new(config_path: PathBuf, socket: PathBuf) -> Self {
        Self {
            config_path,
            socket,
            connect_timeout: Duration::from_secs(10),
            send_hold: Duration::from_secs(480),
            stop_flush: Duration::from_secs(3),
        }
    }
}

/// Messages to the core task.
#[derive(Debug)]
pub enum Event {
    /// Ready for the core as it is.
    Input(Input),
    Accepted {
        stream: TcpStream,
        remote: SocketAddr,
    },
    Connected {
        conn: ConnId,
        result: std::io::Result<TcpStream>,
    },
    Api {
        request: Value,
        reply: oneshot::Sender<Value>,
    },
}

/// Capacity of the channel into the core task; readers wait when it is full,
/// which pushes back on the peers through TCP.
const EVENT_QUEUE: usize = 1024;

struct Listener {
    socket: Arc<TcpListener>,
    task: JoinHandle<()>,
}

struct Conn {
    remote: SocketAddr,
    queue: mpsc::Sender<WriterCmd>,
    budget: Arc<conn::WriteBudget>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// The core task's state: everything keyed by connection, listener or request.
struct Shell<E> {
    engine: E,
    config: Config,
    opts: Options,
    events_tx: mpsc::Sender<Event>,
    listeners: BTreeMap<SocketAddr, Listener>,
    listen_opts: HashMap<IpAddr, SocketOpts>,
    conns: HashMap<ConnId, Conn>,
    connecting: HashMap<ConnId, JoinHandle<()>>,
    api_pending: HashMap<RequestId, oneshot::Sender<Value>>,
    next_request: u64,
    next_accepted: u64,
    /// Writers of closed connections still flushing (awaited, bounded, on stop).
    closing: Vec<JoinHandle<()>>,
    /// Inputs raised while dispatching outputs (e.g. a full writer queue),
    /// fed to the core before the next event.
    deferred: VecDeque<Input>,
    /// The dataplane task, when one is attached (a route reflector or a
    /// test without a kernel runs without).
    dataplane: Option<dataplane::Handle>,
}

/// Run the daemon until SIGTERM/SIGINT. Binds the API socket and listeners
/// first, so errors (address in use, permissions) come back before any peer
/// is contacted.
/// Events taken from the queue per step before the core's output is
/// built (see the main loop).
const EVENT_BATCH: usize = 64;

pub async fn run<E: Engine>(engine: E, config: Config, opts: Options) -> Result<()> {
    let signals = Signals::install()?;
    serve(
        engine,
        config,
        opts,
        signals,
        std::future::pending(),
        None::<netlink_glue::Fake>,
    )
    .await
}

/// [`run`] with a dataplane: the core's dataplane requests go to `dp`, and
/// its observations and reports come back to the core.
pub async fn run_with_dataplane<E: Engine, D: netlink_glue::Dataplane + 'static>(
    engine: E,
    config: Config,
    opts: Options,
    dp: D,
) -> Result<()> {
    let signals = Signals::install()?;
    serve(
        engine,
        config,
        opts,
        signals,
        std::future::pending(),
        Some(dp),
    )
    .await
}

/// [`run`] without signal handlers, stopping gracefully when `stop`
/// completes (tests; embedding).
pub async fn run_until<E: Engine>(
    engine: E,
    config: Config,
    opts: Options,
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let signals = Signals {
        term: None,
        int: None,
        hup: None,
    };
    serve(
        engine,
        config,
        opts,
        signals,
        stop,
        None::<netlink_glue::Fake>,
    )
    .await
}

struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// SIGTERM/SIGINT stop, SIGHUP reloads.
    fn install() -> Result<Signals> {
        Ok(Signals {
            term: Some(signal(SignalKind::terminate()).context("SIGTERM handler")?),
            int: Some(signal(SignalKind::interrupt()).context("SIGINT handler")?),
            hup: Some(signal(SignalKind::hangup()).context("SIGHUP handler")?),
        })
    }
}

/// The next delivery of a signal we have a handler for; never otherwise.
async fn delivered(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

async fn serve<E: Engine, D: netlink_glue::Dataplane + 'static>(
    engine: E,
    config: Config,
    opts: Options,
    mut signals: Signals,
    stop: impl std::future::Future<Output = ()>,
    dp: Option<D>,
) -> Result<()> {
    // The guard removes the socket file when run() returns.
    let (api_listener, _api_file) = api_server::bind(&opts.socket).context("API socket")?;
    let (events_tx, mut events_rx) = mpsc::channel(EVENT_QUEUE);
    let api_task = tokio::spawn(api_server::accept_loop(api_listener, events_tx.clone()));
    let dataplane = match dp {
        Some(dp) => Some(dataplane::spawn(dp, events_tx.clone()).await),
        None => None,
    };

    let mut shell = Shell {
        engine,
        config,
        opts,
        events_tx,
        listeners: BTreeMap::new(),
        listen_opts: HashMap::new(),
        conns: HashMap::new(),
        connecting: HashMap::new(),
        api_pending: HashMap::new(),
        next_request: 1,
        next_accepted: ACCEPTED_CONN_BASE,
        closing: Vec::new(),
        deferred: VecDeque::new(),
        dataplane,
    };
    shell.sync_listeners(true)?;
    info!(
        socket = %shell.opts.socket.display(),
        listen = ?shell.listeners.keys().collect::<Vec<_>>(),
        "evpnd running"
    );

    // The one sleep, reset to the core's next deadline after every step.
    let far = || tokio::time::Instant::now() + Duration::from_secs(86400 * 365);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    tokio::pin!(stop);

    loop {
        shell.drain();
        match shell.engine.poll_timeout() {
            Some(t) => sleep.as_mut().reset(tokio::time::Instant::from_std(t)),
            None => sleep.as_mut().reset(far()),
        }
        tokio::select! {
            () = delivered(&mut signals.term) => { info!("SIGTERM: stopping"); break; }
            () = delivered(&mut signals.int) => { info!("SIGINT: stopping"); break; }
            () = &mut stop => { info!("stop requested"); break; }
            () = delivered(&mut signals.hup) => {
                let reply = shell.reload();
                info!(result = %reply, "SIGHUP reload");
            }
            ev = events_rx.recv() => match ev {
                Some(ev) => {
                    shell.event(ev);
                    // Coalesce: take what is already queued (a burst of
                    // UPDATEs) before building output, so UPDATEs go out in
                    // full chunks, not a few routes per message received.
                    // Only queued events: a lone one is never delayed.
                    for _ in 0..EVENT_BATCH {
                        match events_rx.try_recv() {
                            Ok(ev) => shell.event(ev),
                            Err(_) => break,
                        }
                    }
                }
                None => break,
            },
            () = &mut sleep => shell.engine.handle_timeout(Instant::now()),
        }
    }

    shell.stop().await;
    api_task.abort();
    Ok(())
}

impl<E: Engine> Shell<E> {
    /// Feed deferred inputs and carry out every output, until the core is quiet.
    fn drain(&mut self) {
        loop {
            if let Some(input) = self.deferred.pop_front() {
                self.engine.handle(Instant::now(), input);
                continue;
            }
            match self.engine.poll_output() {
                Some(out) => self.output(out),
                None => return,
            }
        }
    }

    fn output(&mut self, out: Output) {
        match out {
            Output::Connect {
                conn,
                peer,
                remote,
                opts,
            } => {
                debug!(conn = conn.0, peer = peer.0, %remote, "connect");
                let tx = self.events_tx.clone();
                let timeout = self.opts.connect_timeout;
                let task = tokio::spawn(async move {
                    let result = conn::connect(remote, &opts, timeout).await;
                    let _ = tx.send(Event::Connected { conn, result }).await;
                });
                if let Some(old) = self.connecting.insert(conn, task) {
                    old.abort();
                }
            }
            Output::ListenOpts { remote, opts } => self.listen_opts(remote, opts),
            Output::Send { conn, bytes } => {
                let Some(c) = self.conns.get(&conn) else {
                    debug!(conn = conn.0, "send on a closed connection dropped");
                    return;
                };
                let len = bytes.len();
                // Counted before the writer can see (and subtract) it.
                let blocked = c.budget.add(len);
                match c.queue.try_send(WriterCmd::Send(bytes)) {
                    Ok(()) => {
                        if blocked {
                            debug!(conn = conn.0, remote = %c.remote, "write buffer full: UPDATEs wait");
                            self.deferred.push_back(Input::WriteBlocked { conn });
                        }
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        c.budget.done(len);
                        warn!(conn = conn.0, remote = %c.remote, "write queue full");
                        self.deferred.push_back(Input::SendStalled { conn });
                    }
                    // The writer ended on an error and has reported Closed.
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        c.budget.done(len);
                    }
                }
            }
            Output::Close { conn } => self.close(conn),
            Output::ApiReply { id, reply } => match self.api_pending.remove(&id) {
                Some(tx) => {
                    let _ = tx.send(reply);
                }
                None => debug!(request = id.0, "reply to an unknown API request"),
            },
            Output::Dataplane(req) => match &self.dataplane {
                Some(dp) => {
                    if !dp.send(req) {
                        error!("the dataplane task has ended; kernel state is no longer updated");
                    }
                }
                None => debug!(?req, "dataplane request (no dataplane attached)"),
            },
        }
    }

    /// Flush what is queued, then shut the connection down. Nothing the peer
    /// sends afterwards reaches the core.
    fn close(&mut self, conn: ConnId) {
        if let Some(task) = self.connecting.remove(&conn) {
            task.abort();
        }
        if let Some(c) = self.conns.remove(&conn) {
            debug!(conn = conn.0, remote = %c.remote, "close");
            c.reader.abort();
            let queue = c.queue;
            // The queue may be full; the close must still get through.
            tokio::spawn(async move {
                let _ = queue.send(WriterCmd::Close).await;
            });
            self.closing.retain(|w| !w.is_finished());
            self.closing.push(c.writer);
        }
    }

    fn event(&mut self, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::Input(input) => {
                if let Input::Closed { conn, error } = &input {
                    debug!(conn = conn.0, ?error, "connection closed");
                    if let Some(c) = self.conns.remove(conn) {
                        c.reader.abort();
                        // Dropping the queue ends the writer after what is queued.
                    }
                }
                self.engine.handle(now, input);
            }
            Event::Accepted { stream, remote } => self.accepted(stream, remote),
            Event::Connected { conn, result } => {
                if self.connecting.remove(&conn).is_none() {
                    // The core gave up on this attempt meanwhile.
                    return;
                }
                match result.and_then(|s| Ok((s.local_addr()?, s.peer_addr()?, s))) {
                    Ok((local, remote, stream)) => {
                        info!(conn = conn.0, %local, %remote, "connected");
                        self.engine.handle(
                            now,
                            Input::Connected {
                                conn,
                                local,
                                remote,
                            },
                        );
                        self.start(conn, stream, remote);
                    }
                    Err(e) => {
                        debug!(conn = conn.0, error = %e, "connect failed");
                        self.engine.handle(
                            now,
                            Input::ConnectFailed {
                                conn,
                                error: e.to_string(),
                            },
                        );
                    }
                }
            }
            Event::Api { request, reply } => {
                if request.get("command").and_then(Value::as_str) == Some("reload") {
                    let _ = reply.send(self.reload());
                    return;
                }
                let id = RequestId(self.next_request);
                self.next_request += 1;
                self.api_pending.insert(id, reply);
                self.engine.handle(now, Input::Api { id, request });
            }
        }
    }

    fn accepted(&mut self, stream: TcpStream, remote: SocketAddr) {
        let remote = SocketAddr::new(canonical(remote.ip()), remote.port());
        let local = match stream.local_addr() {
            Ok(l) => l,
            Err(e) => {
                warn!(%remote, error = %e, "accepted connection vanished");
                return;
            }
        };
        // GTSM is per peer, so it is set on the accepted socket (the
        // listener is shared by all peers); MD5 keys come from the listener.
        if let Some(hops) = self
            .listen_opts
            .get(&remote.ip())
            .and_then(|o| o.ttl_security_hops)
        {
            if let Err(e) =
                sockopt::set_gtsm(stream.as_raw_fd(), SocketFamily::of(&local), Some(hops))
            {
                warn!(%remote, error = %e, "GTSM on accepted connection");
            }
        }
        let _ = stream.set_nodelay(true);
        let conn = ConnId(self.next_accepted);
        self.next_accepted += 1;
        info!(conn = conn.0, %local, %remote, "accepted");
        self.engine.handle(
            Instant::now(),
            Input::Accepted {
                conn,
                local,
                remote,
            },
        );
        self.start(conn, stream, remote);
    }

    /// Spawn the reader and writer of a connection the core now knows.
    fn start(&mut self, conn: ConnId, stream: TcpStream, remote: SocketAddr) {
        let (rd, wr) = stream.into_split();
        let (queue, queue_rx) = mpsc::channel(conn::WRITER_QUEUE);
        let budget = Arc::new(conn::WriteBudget::default());
        let reader = tokio::spawn(conn::reader(conn, rd, self.events_tx.clone()));
        let writer = tokio::spawn(conn::writer(
            conn,
            wr,
            queue_rx,
            self.events_tx.clone(),
            self.opts.send_hold,
            Arc::clone(&budget),
        ));
        self.conns.insert(
            conn,
            Conn {
                remote,
                queue,
                budget,
                reader,
                writer,
            },
        );
    }

    /// Remember a peer's options and put its MD5 key on every listener of
    /// its address family.
    fn listen_opts(&mut self, remote: IpAddr, opts: SocketOpts) {
        let remote = canonical(remote);
        for (addr, l) in &self.listeners {
            if addr.is_ipv4() != remote.is_ipv4() {
                continue;
            }
            listener_opts(&l.socket, *addr, remote, &opts);
        }
        self.listen_opts.insert(remote, opts);
    }

    /// Open listeners for the configured addresses, close the others. At
    /// start a bind failure is fatal; on reload it is logged.
    fn sync_listeners(&mut self, fatal: bool) -> Result<()> {
        let want: Vec<SocketAddr> = self.config.global.listen.iter().map(|s| s.0).collect();
        self.listeners.retain(|addr, l| {
            let keep = want.contains(addr);
            if !keep {
                info!(listener = %addr, "stop listening");
                l.task.abort();
            }
            keep
        });
        for addr in want {
            if self.listeners.contains_key(&addr) {
                continue;
            }
            let socket = match conn::listen(addr) {
                Ok(s) => Arc::new(s),
                Err(e) if fatal => return Err(e).context("BGP listener"),
                Err(e) => {
                    error!(listener = %addr, error = %e, "cannot listen");
                    continue;
                }
            };
            // Options of peers known before this listener existed.
            for (peer, o) in &self.listen_opts {
                if peer.is_ipv4() == addr.is_ipv4() {
                    listener_opts(&socket, addr, *peer, o);
                }
            }
            let local = socket.local_addr().unwrap_or(addr);
            let task = tokio::spawn({
                let socket = Arc::clone(&socket);
                let tx = self.events_tx.clone();
                async move { conn::accept_loop(socket, local, tx).await }
            });
            info!(listener = %local, "listening");
            self.listeners.insert(addr, Listener { socket, task });
        }
        Ok(())
    }

    /// Re-read the config file; on success hand it to the core and report
    /// what changed, else report every error and keep the running config.
    fn reload(&mut self) -> Value {
        match Config::load(&self.opts.config_path) {
            Err(errors) => {
                let errors: Vec<String> = errors.0.iter().map(|e| e.to_string()).collect();
                for e in &errors {
                    error!("reload: {e}");
                }
                json!({"error": "config has errors; keeping the running config", "errors": errors})
            }
            Ok(new) => {
                let changes = reload::diff(&self.config, &new);
                for c in &changes {
                    info!("reload: {c}");
                }
                println!(
                    "evpnd: reload {}: {} change(s)",
                    self.opts.config_path.display(),
                    changes.len()
                );
                for c in &changes {
                    println!("  {c}");
                }
                let sessions = self.engine.reload(Instant::now(), &new);
                info!(%sessions, "reload: sessions");
                self.config = new;
                if let Err(e) = self.sync_listeners(false) {
                    error!(error = %e, "reload: listeners");
                }
                json!({
                    "ok": true,
                    "file": self.opts.config_path.display().to_string(),
                    "changes": changes,
                    "sessions": sessions,
                })
            }
        }
    }

    /// Graceful stop: the core queues Cease/2 and closes; the writers get a
    /// bounded time to flush.
    async fn stop(mut self) {
        self.engine.shutdown(Instant::now());
        self.drain();
        for (_, l) in std::mem::take(&mut self.listeners) {
            l.task.abort();
        }
        for (_, t) in self.connecting.drain() {
            t.abort();
        }
        let mut writers = std::mem::take(&mut self.closing);
        for (_, c) in self.conns.drain() {
            c.reader.abort();
            let _ = c.queue.try_send(WriterCmd::Close);
            writers.push(c.writer);
        }
        let flush = self.opts.stop_flush;
        // Queued kernel writes finish (bounded): the kernel keeps its state
        // across the restart, so nothing is flushed here.
        if let Some(dp) = self.dataplane.take() {
            if tokio::time::timeout(flush, dp.stop()).await.is_err() {
                warn!(?flush, "dataplane requests still queued at stop");
            }
        }
        if tokio::time::timeout(flush, async {
            for w in writers {
                let _ = w.await;
            }
        })
        .await
        .is_err()
        {
            warn!(?flush, "some connections did not flush before the stop");
        }
        info!("stopped");
    }
}

/// A peer's options on one listener: its MD5 key (installed or removed),
/// and TTL 255 on outgoing segments (SYN-ACKs) once it uses GTSM.
fn listener_opts(socket: &TcpListener, addr: SocketAddr, peer: IpAddr, o: &SocketOpts) {
    let fd = socket.as_raw_fd();
    let family = SocketFamily::of(&addr);
    if let Err(e) = sockopt::set_md5_key(fd, family, peer, o.md5_password.as_deref()) {
        error!(listener = %addr, %peer, error = %e, "TCP-MD5 on listener");
    }
    if o.ttl_security_hops.is_some() {
        if let Err(e) = sockopt::set_send_ttl_255(fd, family) {
            error!(listener = %addr, %peer, error = %e, "GTSM on listener");
        }
    }
}

/// An IPv4 peer seen through an IPv6 socket as `::ffff:a.b.c.d` is the IPv4 peer.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

impl Engine for crate::core::Core {
    fn handle(&mut self, now: Instant, input: Input) {
        crate::core::Core::handle(self, now, input)
    }
    fn handle_timeout(&mut self, now: Instant) {
        crate::core::Core::handle_timeout(self, now)
    }
    fn poll_output(&mut self) -> Option<Output> {
        crate::core::Core::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        crate::core::Core::poll_timeout(self)
    }
    fn reload(&mut self, now: Instant, config: &Config) -> Value {
        let d = crate::core::Core::reload(self, now, config);
        json!({"added": d.added, "removed": d.removed, "reset": d.reset, "updated": d.updated})
    }
    fn shutdown(&mut self, now: Instant) {
        crate::core::Core::shutdown(self, now)
    }
}

#[cfg(test)]
mod tests;
