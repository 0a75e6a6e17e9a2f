//! This agent's network coordinate, computed as Serf's Vivaldi client computes it, from the
//! round trips of its gossip probes and the coordinates the other nodes published in the
//! catalog: each probe's round trip (the median of the last three to that node) moves this
//! coordinate towards or away from the other's, weighted by both errors; an adjustment term
//! averages the last 20 residuals; a weak gravity keeps the system centred. The agent publishes
//! its coordinate (`PUT /v1/coordinate/update`, through a server on a client) and refreshes
//! the others' periodically.
//!
//! Serf's settings: 8 dimensions, error max 1.5, `c_e` = `c_c` = 0.25, adjustment window 20,
//! height min 10 µs, latency filter 3, gravity rho 150.

use super::Agent;
use crate::catalog::coordinate::{Coord, DIMENSIONS, ERROR_MAX, HEIGHT_MIN};
use crate::catalog::Command;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CE: f64 = 0.25;
const CC: f64 = 0.25;
const ADJUSTMENT_WINDOW: usize = 20;
const LATENCY_FILTER: usize = 3;
const GRAVITY_RHO: f64 = 150.0;
const ZERO: f64 = 1.0e-6;
/// Round trips beyond this are taken for errors (Serf's `maxRTT`).
const MAX_RTT: Duration = Duration::from_secs(10);

/// How often this agent publishes its coordinate and reads the others'.
const PUBLISH: Duration = Duration::from_secs(15);

/// Serf's Vivaldi client state.
#[derive(Debug)]
pub struct Vivaldi {
    coord: Coord,
    adjustments: VecDeque<f64>,
    samples: HashMap<String, VecDeque<f64>>,
}

impl Default for Vivaldi {
    fn default() -> Self {
        Vivaldi {
            coord: Coord::default(),
            adjustments: VecDeque::with_capacity(ADJUSTMENT_WINDOW),
            samples: HashMap::new(),
        }
    }
}

impl Vivaldi {
    pub fn coord(&self) -> &Coord {
        &self.coord
    }

    /// Folds in one observation: node `node`, at `other`, answered after `rtt`.
    pub fn observe(&mut self, node: &str, other: &Coord, rtt: Duration) {
        if !other.is_valid() || rtt.is_zero() || rtt > MAX_RTT {
            return;
        }
        let rtt = self.filtered(node, rtt.as_secs_f64());
        self.update_vivaldi(other, rtt);
        self.update_adjustment(other, rtt);
        self.update_gravity();
        if !self.coord.is_valid() {
            self.coord = Coord::default();
        }
    }

    /// The median of the last few samples to `node`.
    fn filtered(&mut self, node: &str, rtt: f64) -> f64 {
        let window = self.samples.entry(node.to_string()).or_default();
        window.push_back(rtt);
        if window.len() > LATENCY_FILTER {
            window.pop_front();
        }
        let mut sorted: Vec<f64> = window.iter().copied().collect();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        sorted[sorted.len() / 2]
    }

    fn update_vivaldi(&mut self, other: &Coord, rtt: f64) {
        let rtt = rtt.max(ZERO);
        let dist = self.coord.distance_to(other);
        let wrongness = (dist - rtt).abs() / rtt;
        let total = (self.coord.error + other.error).max(ZERO);
        let weight = self.coord.error / total;
        self.coord.error =
            (CE * weight * wrongness + self.coord.error * (1.0 - CE * weight)).min(ERROR_MAX);
        let force = CC * weight * (rtt - dist);
        self.apply_force(force, other);
    }

    fn update_adjustment(&mut self, other: &Coord, rtt: f64) {
        // The raw distance, without adjustments.
        let mut raw = self.coord.clone();
        raw.adjustment = 0.0;
        let mut o = other.clone();
        o.adjustment = 0.0;
        self.adjustments.push_back(rtt - raw.distance_to(&o));
        if self.adjustments.len() > ADJUSTMENT_WINDOW {
            self.adjustments.pop_front();
        }
        let sum: f64 = self.adjustments.iter().sum();
        self.coord.adjustment = sum / (2.0 * ADJUSTMENT_WINDOW as f64);
    }

    fn update_gravity(&mut self) {
        let origin = Coord {
            vec: vec![0.0; DIMENSIONS],
            error: ERROR_MAX,
            adjustment: 0.0,
            height: HEIGHT_MIN,
        };
        let dist = self.coord.distance_to(&origin);
        let force = -(dist / GRAVITY_RHO).powi(2);
        self.apply_force(force, &origin);
    }

    /// Moves this coordinate by `force` along the line from `other` (a random direction when
    /// they coincide), and its height with it.
    fn apply_force(&mut self, force: f64, other: &Coord) {
        let diff: Vec<f64> = self
            .coord
            .vec
            .iter()
            .zip(&other.vec)
            .map(|(a, b)| a - b)
            .collect();
        let mag = diff.iter().map(|d| d * d).sum::<f64>().sqrt();
        let unit: Vec<f64> = if mag > ZERO {
            diff.iter().map(|d| d / mag).collect()
        } else {
            random_unit()
        };
        for (c, u) in self.coord.vec.iter_mut().zip(&unit) {
            *c += u * force;
        }
        if mag > ZERO {
            let h = (self.coord.height + other.height) * force / mag + self.coord.height;
            self.coord.height = h.max(HEIGHT_MIN);
        }
    }
}

fn random_unit() -> Vec<f64> {
    loop {
        let v: Vec<f64> = (0..DIMENSIONS)
            .map(|_| rand::random::<f64>() - 0.5)
            .collect();
        let mag = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if mag > ZERO {
            return v.iter().map(|x| x / mag).collect();
        }
    }
}

/// The agent's coordinate and the others' it last read.
#[derive(Default)]
pub struct Coordinates {
    me: Mutex<Vivaldi>,
    others: Mutex<HashMap<String, Coord>>,
}

impl Coordinates {
    pub fn current(&self) -> Coord {
        self.me
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .coord()
            .clone()
    }
}

/// For the agent's life: folds probe round trips into its coordinate, publishes it, and reads
/// the others'.
pub async fn run(agent: Arc<Agent>) {
    let Some(mut samples) = agent.serf().rtt_samples() else {
        return;
    };
    let mut last = Instant::now() - PUBLISH;
    loop {
        if last.elapsed() >= PUBLISH {
            last = Instant::now();
            if let Err(e) = publish(&agent).await {
                tracing::debug!(target: "agent", "coordinate update failed: {e}");
            }
            match others(&agent).await {
                Ok(o) => {
                    *agent
                        .coordinates
                        .others
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = o
                }
                Err(e) => tracing::debug!(target: "agent", "reading coordinates failed: {e}"),
            }
        }
        let sample = tokio::time::timeout(PUBLISH, samples.recv()).await;
        let Ok(sample) = sample else { continue };
        let sample = match sample {
            Ok(s) => s,
            Err(gossip::RecvError::Lagged(_)) => continue,
            Err(gossip::RecvError::Closed) => return,
        };
        let other = agent
            .coordinates
            .others
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&sample.member().to_lowercase())
            .cloned();
        if let Some(other) = other {
            agent
                .coordinates
                .me
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .observe(sample.member(), &other, sample.rtt());
        }
    }
}

/// Sends this agent's coordinate to the catalog.
async fn publish(agent: &Agent) -> Result<(), String> {
    let coord = agent.coordinates.current();
    let node = agent.node().to_string();
    if agent.server().is_some() {
        return agent
            .write(Command::UpdateCoordinates {
                updates: vec![(node, coord)],
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    let body = serde_json::json!({"Node": node, "Segment": "", "Coord": coord});
    let token = agent.agent_token_for_servers();
    agent
        .call_servers(
            reqwest::Method::PUT,
            "/v1/coordinate/update",
            Some(body.to_string().into_bytes()),
            token.as_deref(),
        )
        .await
        .map(|_| ())
}

/// The other nodes' coordinates, by lower-cased node name.
async fn others(agent: &Agent) -> Result<HashMap<String, Coord>, String> {
    if agent.server().is_some() {
        return Ok(agent.catalog().read(|s| {
            s.coordinates()
                .map(|e| (e.node.to_lowercase(), e.coord.clone()))
                .collect()
        }));
    }
    let token = agent.agent_token_for_servers();
    let body = agent
        .call_servers(
            reqwest::Method::GET,
            "/v1/coordinate/nodes?stale",
            None,
            token.as_deref(),
        )
        .await?;
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "Node")]
        node: String,
        #[serde(rename = "Coord")]
        coord: Coord,
    }
    let list: Vec<Entry> = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(list
        .into_iter()
        .map(|e| (e.node.to_lowercase(), e.coord))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four nodes with known round trips between them: after a few rounds of observations,
    /// each coordinate's distances estimate the real round trips closely.
    #[test]
    fn converges_on_known_round_trips() {
        // A line: 0 —10ms— 1 —10ms— 2 —10ms— 3.
        let rtt =
            |a: usize, b: usize| Duration::from_millis(10 * (a as i64 - b as i64).unsigned_abs());
        let mut nodes: Vec<Vivaldi> = (0..4).map(|_| Vivaldi::default()).collect();
        for _ in 0..300 {
            for i in 0..4 {
                for j in 0..4 {
                    if i == j {
                        continue;
                    }
                    let other = nodes[j].coord().clone();
                    nodes[i].observe(&j.to_string(), &other, rtt(i, j));
                }
            }
        }
        for i in 0..4 {
            for j in 0..4 {
                if i == j {
                    continue;
                }
                let est = nodes[i].coord().distance_to(nodes[j].coord());
                let real = rtt(i, j).as_secs_f64();
                assert!(
                    (est - real).abs() < 0.25 * real,
                    "{i}->{j}: {est} vs {real}"
                );
            }
        }
    }
}
