//! The demo's machine-readable report (`--json`) and its timeline plot
//! (PNG): per move, the events on every node in ms from the moment the
//! VM's port came up on the new leaf, and the ping series (RTT per echo,
//! losses) running across it.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// Parse the output of `ping -D -n -i INTERVAL -c SENT` (replies carry
/// `[unix.seconds]`): the series relative to `origin`. Lost echoes get the
/// send time their sequence number implies.
pub fn parse_ping(
    name: &str,
    text: &str,
    sent: u32,
    interval: Duration,
    origin: SystemTime,
) -> PingSeries {
    let mut replies: Vec<(u32, f64, f64)> = Vec::new(); // (seq, received at, rtt)
    for l in text.lines() {
        let Some(ts) = l
            .strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .and_then(|t| t.parse::<f64>().ok())
        else {
            continue;
        };
        let seq = l
            .split("icmp_seq=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse::<u32>().ok());
        let rtt = l
            .split("time=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse::<f64>().ok());
        if let (Some(seq), Some(rtt)) = (seq, rtt) {
            let at = UNIX_EPOCH + Duration::from_secs_f64(ts);
            replies.push((seq, ms_between(origin, at), rtt));
        }
    }
    replies.sort_by_key(|r| r.0);
    replies.dedup_by_key(|r| r.0);
    let step = interval.as_secs_f64() * 1e3;
    // The send time of seq 1, from the first reply (received - rtt).
    let t1 = replies
        .first()
        .map(|&(seq, at, rtt)| at - rtt - f64::from(seq.saturating_sub(1)) * step);
    let mut samples = Vec::with_capacity(sent as usize);
    let mut worst = 0u32;
    let mut run = 0u32;
    let mut it = replies.iter().peekable();
    for seq in 1..=sent {
        let got = match it.peek() {
            Some(&&(s, at, rtt)) if s == seq => {
                it.next();
                Some((at - rtt, rtt))
            }
            _ => None,
        };
        match got {
            Some((t, rtt)) => {
                run = 0;
                samples.push((t, Some(rtt)));
            }
            None => {
                run += 1;
                worst = worst.max(run);
                let t = t1.map_or(0.0, |t1| t1 + f64::from(seq - 1) * step);
                samples.push((t, None));
            }
        }
    }
    PingSeries {
        name: name.to_string(),
        interval_ms: step,
        sent,
        received: replies.len() as u32,
        loss_window_ms: f64::from(worst) * step,
        samples,
    }
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

const SERIES_COLORS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Draw one panel per move: ping RTTs (dots), lost echoes (red crosses on
/// the axis), events (vertical lines, labelled), port-up at 0.
pub fn plot(report: &DemoReport, path: &Path) -> Result<()> {
    load_font()?;
    let panels = report.moves.len().max(1);
    let height = 420 * panels as u32;
    let root = BitMapBackend::new(path, (1400, height)).into_drawing_area();
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

fn draw_move(m: &MoveReport, area: &Area<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let last_event = m.events.iter().map(|e| e.t_ms).fold(0.0f64, f64::max);
    let x0 = -250.0;
    let x1 = (last_event + 250.0).clamp(600.0, 2500.0);
    let in_view = |t: f64| (x0..=x1).contains(&t);
    let max_rtt = m
        .pings
        .iter()
        .flat_map(|p| p.samples.iter())
        .filter(|(t, _)| in_view(*t))
        .filter_map(|(_, r)| *r)
        .fold(1.0f64, f64::max);
    let y1 = max_rtt * 1.6 + 0.2;
    let title = format!(
        "{} -> {}: MAC {} ms, IP {} ms, core /32 {} ms after port-up (link cut {:.0} ms)",
        m.from,
        m.to,
        fmt_ms(m.mac_converged_ms),
        fmt_ms(m.ip_converged_ms),
        fmt_ms(m.core_converged_ms),
        m.link_cut_ms
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, 0.0..y1)?;
    chart
        .configure_mesh()
        .x_desc("ms from the VM's port up on the new leaf")
        .y_desc("ping RTT (ms)")
        .label_style(("sans-serif", 13))
        .draw()?;
    // Port-up.
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
                "{} (loss window {:.0} ms)",
                p.name, p.loss_window_ms
            ))
            .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
        let lost_y = y1 * (0.02 + 0.03 * i as f64);
        chart.draw_series(
            p.samples
                .iter()
                .filter(|(t, r)| in_view(*t) && r.is_none())
                .map(|(t, _)| Cross::new((*t, lost_y), 3, RED.stroke_width(2))),
        )?;
    }
    // Events: a thin line each, labels staggered so they stay readable.
    for (k, e) in m.events.iter().filter(|e| in_view(e.t_ms)).enumerate() {
        let y_label = y1 * (0.95 - 0.065 * (k % 12) as f64);
        chart.draw_series(LineSeries::new(
            [(e.t_ms, 0.0), (e.t_ms, y_label)],
            RGBColor(200, 120, 0).stroke_width(1),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{:.1} {} {}", e.t_ms, e.node, e.what),
            (e.t_ms, y_label),
            ("sans-serif", 12).into_font().color(&RGBColor(120, 60, 0)),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_output_becomes_a_series_with_its_longest_gap() {
        let origin = UNIX_EPOCH + Duration::from_secs(1_000);
        // seq 1, 2 answered; 3, 4 lost; 5 answered.
        let text = "PING 10.1.0.12 (10.1.0.12) 56(84) bytes of data.\n\
            [1000.010000] 64 bytes from 10.1.0.12: icmp_seq=1 ttl=64 time=0.100 ms\n\
            [1000.020000] 64 bytes from 10.1.0.12: icmp_seq=2 ttl=64 time=0.100 ms\n\
            [1000.030000] no answer yet for icmp_seq=3\n\
            [1000.050000] 64 bytes from 10.1.0.12: icmp_seq=5 ttl=64 time=0.200 ms\n";
        let s = parse_ping("h2", text, 5, Duration::from_millis(10), origin);
        assert_eq!((s.sent, s.received), (5, 3));
        assert!((s.loss_window_ms - 20.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.samples.len(), 5);
        assert!(s.samples[2].1.is_none() && s.samples[3].1.is_none());
        // seq 1 was sent 0.1 ms before its reply at 10 ms; seq 3 at +20 ms.
        assert!((s.samples[0].0 - 9.9).abs() < 1e-6, "{:?}", s.samples[0]);
        assert!((s.samples[2].0 - 29.9).abs() < 1e-6, "{:?}", s.samples[2]);
    }

    #[test]
    fn a_report_plots_to_a_png() {
        if load_font().is_err() {
            println!("SKIPPED: no TrueType font for the plot");
            return;
        }
        let origin = UNIX_EPOCH + Duration::from_secs(1_000);
        let text = "[999.900000] 64 bytes from x: icmp_seq=1 ttl=64 time=0.100 ms\n\
            [1000.100000] 64 bytes from x: icmp_seq=3 ttl=64 time=0.300 ms\n";
        let pings = vec![parse_ping(
            "gw",
            text,
            3,
            Duration::from_millis(100),
            origin,
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
