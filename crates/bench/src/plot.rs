//! The plot: KV PUT throughput vs clients, and blocking-query / watch wake-up latency vs parked
//! waiters, both systems, drawn with plotters' bitmap backend (text through ab_glyph with the
//! DejaVu font Debian ships in `fonts-dejavu-core`).

use crate::suite::{Figures, PUT_CLIENTS};
use anyhow::Context;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const ETCD: RGBColor = RGBColor(214, 39, 40);
const OURS: RGBColor = RGBColor(31, 119, 180);

fn series(f: &Figures, xs: &[usize], key: impl Fn(usize) -> String) -> Vec<(f64, f64)> {
    xs.iter()
        .filter_map(|&x| f.get(&key(x)).map(|&y| (x as f64, y)))
        .filter(|&(_, y)| y > 0.0)
        .collect()
}

pub fn draw(path: &Path, etcd: &Figures, ours: &Figures, watchers: &[usize]) -> anyhow::Result<()> {
    let bytes = std::fs::read(FONT)
        .with_context(|| format!("{FONT} (apt-get install fonts-dejavu-core)"))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("bad font {FONT}"))?;

    let root = BitMapBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);

    // Throughput vs clients.
    let e_put = series(etcd, &PUT_CLIENTS, |c| format!("put.{c}.rate"));
    let g_put = series(etcd, &PUT_CLIENTS, |c| format!("grpc.put.{c}.rate"));
    let o_put = series(ours, &PUT_CLIENTS, |c| format!("put.{c}.rate"));
    let ymax = e_put
        .iter()
        .chain(&o_put)
        .chain(&g_put)
        .map(|p| p.1)
        .fold(1.0, f64::max)
        * 1.15;
    let mut ch = ChartBuilder::on(&left)
        .caption("KV PUT throughput (256 B, fsync on)", ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d((0.8f64..320f64).log_scale(), 0f64..ymax)?;
    ch.configure_mesh()
        .x_desc("concurrent clients")
        .y_desc("acknowledged PUT/s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    let lines = [
        ("etcd 3.4, HTTP/JSON gateway", ETCD.stroke_width(3), e_put),
        (
            "etcd 3.4, native gRPC",
            ETCD.mix(0.45).stroke_width(2),
            g_put,
        ),
        ("ours, HTTP/JSON", OURS.stroke_width(3), o_put),
    ];
    for (name, style, pts) in lines {
        ch.draw_series(LineSeries::new(pts.clone(), style))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        ch.draw_series(pts.iter().map(|&p| Circle::new(p, 5, style.filled())))?;
    }
    ch.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    // Wake-up latency vs watchers.
    let mut lines = Vec::new();
    for (sys, color, f) in [("etcd", ETCD, etcd), ("ours", OURS, ours)] {
        lines.push((
            format!("{sys} p99"),
            color.stroke_width(3),
            series(f, watchers, |n| format!("wake.{n}.p99")),
        ));
        lines.push((
            format!("{sys} p50"),
            color.mix(0.45).stroke_width(2),
            series(f, watchers, |n| format!("wake.{n}.p50")),
        ));
    }
    let all: Vec<f64> = lines.iter().flat_map(|l| l.2.iter().map(|p| p.1)).collect();
    let ymax = all.iter().copied().fold(1.0, f64::max) * 2.0;
    let ymin = all
        .iter()
        .copied()
        .fold(f64::MAX, f64::min)
        .min(ymax / 10.0)
        / 2.0;
    let xmax = watchers.iter().copied().max().unwrap_or(10_000) as f64 * 2.0;
    let xmin = watchers.iter().copied().min().unwrap_or(100) as f64 / 2.0;
    let mut ch = ChartBuilder::on(&right)
        .caption("Wake-up latency after one write", ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d((xmin..xmax).log_scale(), (ymin.max(0.01)..ymax).log_scale())?;
    ch.configure_mesh()
        .x_desc("parked blocking queries / watchers on one key")
        .x_labels(4)
        .y_desc("ms from write sent to waiter answered")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.2}")
            }
        })
        .draw()?;
    for (name, style, pts) in lines {
        ch.draw_series(LineSeries::new(pts.clone(), style))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        ch.draw_series(pts.iter().map(|&p| Circle::new(p, 4, style.filled())))?;
    }
    ch.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
