//! The demo's machine-readable report (`--json`) and its timeline plot
//! (PNG): per move, the events on every node in ms from the moment the
//! VM's port came up on the new leaf, and the ping series (RTT per echo,
//! losses) running across it.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use plotters::prelude::*;
use serde::Serialize;

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub leaves: Vec<NodeInfo>,
    pub vnis: Vec<u32>,
    pub l3vni: Option<u32>,
    pub core: Option<NodeInfo>,
    pub vm: VmInfo,
    pub moves: Vec<MoveReport>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VmInfo {
    pub mac: String,
    pub ip: String,
    pub vni: u32,
}

/// One migration.
#[derive(Debug, Clone, Serialize)]
pub struct MoveReport {
    pub from: String,
    pub to: String,
    /// How long moving the veth took (old port gone → new port up): the
    /// link cut itself, not the daemon's doing.
    pub link_cut_ms: f64,
    /// Events in time order, `t_ms` from port-up (negative: before).
    pub events: Vec<Event>,
    /// Until every leaf's kernel pointed the MAC / the IP at the new leaf,
    /// and until the core's /32 did (None: not within the limit).
    pub mac_converged_ms: Option<f64>,
    pub ip_converged_ms: Option<f64>,
    pub core_converged_ms: Option<f64>,
    pub pings: Vec<PingSeries>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub t_ms: f64,
    pub node: String,
    pub what: String,
}

/// One `ping` run across a move.
#[derive(Debug, Clone, Serialize)]
pub struct PingSeries {
    pub name: String,
    pub interval_ms: f64,
    pub sent: u32,
    pub received: u32,
    /// The longest run of missing replies, in ms (packets × interval).
    pub loss_window_ms: f64,
    /// Per echo: ms from port-up when it was sent, RTT in ms (None: lost).
    pub samples: Vec<(f64, Option<f64>)>,
}

/// Milliseconds from `origin` to `t` (negative when `t` is earlier).
pub fn ms_between(origin: SystemTime, t: SystemTime) -> f64 {
    match t.duration_since(origin) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

impl PingSeries {
    /// The series of one prober target: per echo its send time in ms from
    /// `origin` and its RTT; an echo answered later than `grace` counts as
    /// lost (an outage, even if a packet queued behind an unresolved ARP
    /// entry is answered eventually). `loss_window_ms` covers echoes sent
    /// at or after `origin` only (the link cut before it is reported on
    /// its own).
    pub fn from_probes(
        name: &str,
        probes: &[crate::probe::Probe],
        target: usize,
        interval: Duration,
        origin: Instant,
        grace: Duration,
    ) -> PingSeries {
        let ms = |t: Instant| signed_ms(origin, t);
        let mut samples = Vec::new();
        let (mut worst, mut run, mut received) = (0u32, 0u32, 0u32);
        for p in probes.iter().filter(|p| p.target == target) {
            let rtt = p
                .reply
                .map(|r| r.saturating_duration_since(p.sent))
                .filter(|d| *d <= grace);
            let t = ms(p.sent);
            match rtt {
                Some(d) => {
                    received += 1;
                    run = 0;
                    samples.push((t, Some(d.as_secs_f64() * 1e3)));
                }
                None => {
                    if t >= 0.0 {
                        run += 1;
                        worst = worst.max(run);
                    }
                    samples.push((t, None));
                }
            }
        }
        PingSeries {
            name: name.to_string(),
            interval_ms: interval.as_secs_f64() * 1e3,
            sent: samples.len() as u32,
            received,
            loss_window_ms: f64::from(worst) * interval.as_secs_f64() * 1e3,
            samples,
        }
    }
}

/// Milliseconds from `origin` to `t` (negative when `t` is earlier).
pub fn signed_ms(origin: Instant, t: Instant) -> f64 {
    if t >= origin {
        t.duration_since(origin).as_secs_f64() * 1e3
    } else {
        -origin.duration_since(t).as_secs_f64() * 1e3
    }
}

/// A fixed pairing of the monotonic and the wall clock, to place wall-clock
/// stamps (daemon logs) on the monotonic time line.
#[derive(Debug, Clone, Copy)]
pub struct Clocks {
    pub mono: Instant,
    pub wall: SystemTime,
}

impl Clocks {
    pub fn now() -> Clocks {
        Clocks {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// ms from `origin` (monotonic) to the wall-clock instant `t`.
    pub fn ms_since(&self, origin: Instant, t: SystemTime) -> f64 {
        signed_ms(origin, self.mono) + ms_between(self.wall, t)
    }
}

/// evpnd's log timestamp (`2026-11-23T14:18:08.342760Z`, UTC) → system time.
pub fn parse_rfc3339_utc(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    let nanos: u64 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(nanos))
}

/// Where the plot finds a TrueType font (Debian's fonts-dejavu-core).
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

fn load_font() -> Result<()> {
    let path = FONTS
        .iter()
        .find(|p| Path::new(p).exists())
        .with_context(|| {
            format!("no TrueType font (looked for {FONTS:?}; apt-get install fonts-dejavu-core)")
        })?;
    let bytes = std::fs::read(path).with_context(|| format!("read {path}"))?;
    // The plotting library keeps fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{path} is not a usable font"))?;
    Ok(())
}

/// Draw one panel per move: ping RTTs (dots), lost echoes (red crosses on
/// the axis), events (vertical lines, labelled), port-up at 0.
pub fn plot(report: &DemoReport, path: &Path) -> Result<()> {
    load_font()?;
    let panels = report.moves.len().max(1);
    let height = 560 * panels as u32;
    let root = BitMapBackend::new(path, (1500, height)).into_drawing_area();
    root.fill(&WHITE).context("plot: fill")?;
    let areas = root.split_evenly((panels, 1));
    for (m, area) in report.moves.iter().zip(areas) {
        draw_move(m, &area).map_err(|e| anyhow::anyhow!("plot: {e}"))?;
    }
    root.present()
        .map_err(|e| anyhow::anyhow!("plot: write {}: {e}", path.display()))?;
    Ok(())
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// One move: a title, event lanes (one per node, numbered markers) over
/// the probe RTTs on the same time axis, and the numbered event list.
fn draw_move(m: &MoveReport, area: &Area<'_>) -> PlotResult {
    let title = format!(
        "{} -> {}: every leaf's MAC {} ms, IP {} ms, core /32 {} ms after the port came up (link cut {:.0} ms)",
        m.from,
        m.to,
        fmt_ms(m.mac_converged_ms),
        fmt_ms(m.ip_converged_ms),
        fmt_ms(m.core_converged_ms),
        m.link_cut_ms
    );
    let area = area.titled(&title, ("sans-serif", 18))?;
    let (charts, list) = area.split_horizontally(1060);
    let (lanes_area, rtt_area) = charts.split_vertically(190);
    let first = m.events.iter().map(|e| e.t_ms).fold(0.0f64, f64::min);
    let last = m.events.iter().map(|e| e.t_ms).fold(0.0f64, f64::max);
    let x0 = (first - 15.0).min(-40.0);
    let x1 = (last + 30.0).clamp(80.0, 1500.0);
    let in_view = |t: f64| (x0..=x1).contains(&t);
    let mut nodes: Vec<&str> = Vec::new();
    for e in &m.events {
        if !nodes.contains(&e.node.as_str()) {
            nodes.push(&e.node);
        }
    }
    nodes.sort_unstable();
    let lane = |n: &str| nodes.iter().position(|x| *x == n).unwrap_or(0) as f64;

    // Event lanes.
    let mut ch = ChartBuilder::on(&lanes_area)
        .margin(8)
        .x_label_area_size(0)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, -0.6..(nodes.len() as f64 - 0.4))?;
    let names: Vec<String> = nodes.iter().map(|s| s.to_string()).collect();
    ch.configure_mesh()
        .disable_x_mesh()
        .y_labels(nodes.len().max(1))
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 0.01 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 14))
        .draw()?;
    ch.draw_series(LineSeries::new(
        [(0.0, -0.6), (0.0, nodes.len() as f64)],
        BLACK.stroke_width(2),
    ))?;
    for (k, e) in m.events.iter().enumerate() {
        if !in_view(e.t_ms) {
            continue;
        }
        let y = lane(&e.node);
        let color = event_color(&e.what);
        ch.draw_series(std::iter::once(Circle::new((e.t_ms, y), 5, color.filled())))?;
        // Numbers alternate above and below the lane so neighbours stay readable.
        let dy = if k % 2 == 0 { 0.28 } else { -0.12 };
        ch.draw_series(std::iter::once(Text::new(
            format!("{}", k + 1),
            (e.t_ms, y + dy),
            ("sans-serif", 12).into_font().color(&BLACK),
        )))?;
    }

    // Probe RTTs.
    let max_rtt = m
        .pings
        .iter()
        .flat_map(|p| p.samples.iter())
        .filter(|(t, _)| in_view(*t))
        .filter_map(|(_, r)| *r)
        .fold(1.0f64, f64::max);
    let y1 = max_rtt * 1.25 + 0.2;
    let mut chart = ChartBuilder::on(&rtt_area)
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, 0.0..y1)?;
    chart
        .configure_mesh()
        .x_desc("ms from the VM's port up on the new leaf")
        .y_desc("probe RTT (ms)")
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(LineSeries::new(
        [(0.0, 0.0), (0.0, y1)],
        BLACK.stroke_width(2),
    ))?;
    for (i, p) in m.pings.iter().enumerate() {
        let color = SERIES_COLORS[i % SERIES_COLORS.len()];
        chart
            .draw_series(
                p.samples
                    .iter()
                    .filter(|(t, r)| in_view(*t) && r.is_some())
                    .filter_map(|(t, r)| r.map(|r| Circle::new((*t, r), 2, color.filled()))),
            )?
            .label(format!(
                "{}: loss after port-up {:.0} ms",
                p.name, p.loss_window_ms
            ))
            .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
        let lost_y = y1 * (0.03 + 0.04 * i as f64);
        chart.draw_series(
            p.samples
                .iter()
                .filter(|(t, r)| in_view(*t) && r.is_none())
                .map(|(t, _)| Cross::new((*t, lost_y), 3, color.stroke_width(2))),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    chart.draw_series(std::iter::once(Text::new(
        "x = probe lost (no reply within 100 ms)",
        (x0 + (x1 - x0) * 0.01, y1 * 0.2),
        ("sans-serif", 12).into_font().color(&RED),
    )))?;

    // The numbered event list.
    let style = ("sans-serif", 13).into_font();
    list.draw(&Text::new(
        "events (ms from port-up)",
        (4, 8),
        style.clone(),
    ))?;
    for (k, e) in m.events.iter().enumerate().take(34) {
        list.draw(&Text::new(
            format!("{:>2} {:>7.1} {:<6} {}", k + 1, e.t_ms, e.node, e.what),
            (4, 30 + 14 * k as i32),
            ("sans-serif", 12).into_font().color(&event_color(&e.what)),
        ))?;
    }
    Ok(())
}

const SERIES_COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// Removals red-ish, arrivals at the new place green-ish, evpnd and the
/// core blue.
fn event_color(what: &str) -> RGBColor {
    if what.starts_with("evpnd") || what.starts_with("/32") {
        RGBColor(20, 60, 200)
    } else if what.contains("removed") || what.contains("down") || what.contains("unresolved") {
        RGBColor(200, 40, 40)
    } else {
        RGBColor(20, 130, 40)
    }
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::probe::Probe;

    fn probes(origin: Instant, replies: &[Option<u64>]) -> Vec<Probe> {
        replies
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let sent = origin + Duration::from_millis(10 * i as u64);
                Probe {
                    target: 0,
                    sent,
                    reply: r.map(|us| sent + Duration::from_micros(us)),
                }
            })
            .collect()
    }

    #[test]
    fn probes_become_a_series_with_the_longest_gap_after_port_up() {
        let origin = Instant::now();
        // Sent at 0, 10, …, 60 ms: answered, lost, lost, late (300 ms: an
        // outage), answered, lost, answered.
        let p = probes(
            origin,
            &[
                Some(100),
                None,
                None,
                Some(300_000),
                Some(200),
                None,
                Some(100),
            ],
        );
        let s = PingSeries::from_probes(
            "h2",
            &p,
            0,
            Duration::from_millis(10),
            origin,
            Duration::from_millis(100),
        );
        assert_eq!((s.sent, s.received), (7, 3));
        assert!((s.loss_window_ms - 30.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.samples[0], (0.0, Some(0.1)));
        assert_eq!(s.samples[3].1, None);
        // Losses before port-up do not count in the window.
        let s = PingSeries::from_probes(
            "h2",
            &p,
            0,
            Duration::from_millis(10),
            origin + Duration::from_millis(35),
            Duration::from_millis(100),
        );
        assert!((s.loss_window_ms - 10.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn log_timestamps_parse_as_utc() {
        let t = parse_rfc3339_utc("2026-11-23T14:18:08.342760Z").unwrap();
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        // date -u -d 2026-11-23T14:18:08Z +%s
        assert_eq!(d.as_secs(), 1_795_443_488);
        assert_eq!(d.subsec_micros(), 342_760);
        assert!(parse_rfc3339_utc("2026-11-23 14:18:08").is_none());
    }

    #[test]
    fn a_report_plots_to_a_png() {
        if load_font().is_err() {
            netlink_glue::netns::skipped("no TrueType font for the plot");
            return;
        }
        let origin = Instant::now();
        let p = probes(origin, &[Some(100), None, Some(300)]);
        let pings = vec![PingSeries::from_probes(
            "gw",
            &p,
            0,
            Duration::from_millis(10),
            origin,
            Duration::from_millis(100),
        )];
        let r = DemoReport {
            leaves: vec![],
            vnis: vec![100],
            l3vni: None,
            core: None,
            vm: VmInfo {
                mac: "02:00:00:00:01:01".into(),
                ip: "10.1.0.11".into(),
                vni: 100,
            },
            moves: vec![MoveReport {
                from: "leaf1".into(),
                to: "leaf2".into(),
                link_cut_ms: 20.0,
                events: vec![Event {
                    t_ms: 3.5,
                    node: "leaf1".into(),
                    what: "MAC -> leaf2".into(),
                }],
                mac_converged_ms: Some(3.5),
                ip_converged_ms: None,
                core_converged_ms: None,
                pings,
            }],
            seconds: 1.0,
        };
        let dir = std::env::temp_dir().join(format!("evpnd-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("t.png");
        plot(&r, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        assert!(
            bytes.len() > 5_000,
            "suspiciously small plot: {}",
            bytes.len()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
