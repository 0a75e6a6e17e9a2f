//! Network coordinates as the catalog keeps them: each node's latest Vivaldi coordinate
//! (Serf's shape: an 8-dimensional vector, error, adjustment, height, in seconds), written by
//! `PUT /v1/coordinate/update` (every agent sends its own) and removed with the node. The
//! distance between two coordinates is Serf's estimated round trip, which `?near=` sorts by.

use super::state::{lower, State, Touched, WatchKey};
use serde::{Deserialize, Serialize};

/// Serf's `Coordinate`, with Consul's JSON names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coord {
    #[serde(rename = "Vec")]
    pub vec: Vec<f64>,
    #[serde(rename = "Error")]
    pub error: f64,
    #[serde(rename = "Adjustment")]
    pub adjustment: f64,
    #[serde(rename = "Height")]
    pub height: f64,
}

/// Serf's dimensionality.
pub const DIMENSIONS: usize = 8;
/// Serf's `HeightMin`.
pub const HEIGHT_MIN: f64 = 10.0e-6;
/// Serf's `VivaldiErrorMax`: a fresh coordinate's error.
pub const ERROR_MAX: f64 = 1.5;

impl Default for Coord {
    /// A fresh coordinate: at the origin, maximal error (Serf's `NewCoordinate`).
    fn default() -> Self {
        Coord {
            vec: vec![0.0; DIMENSIONS],
            error: ERROR_MAX,
            adjustment: 0.0,
            height: HEIGHT_MIN,
        }
    }
}

impl Coord {
    /// Whether the coordinate is usable: the right dimensionality and finite numbers.
    pub fn is_valid(&self) -> bool {
        self.vec.len() == DIMENSIONS
            && self.vec.iter().all(|c| c.is_finite())
            && self.error.is_finite()
            && self.adjustment.is_finite()
            && self.height.is_finite()
    }

    /// Serf's `DistanceTo`, in seconds: the Euclidean distance plus both heights, adjusted when
    /// the adjustments keep it positive.
    pub fn distance_to(&self, other: &Coord) -> f64 {
        let euclid = self
            .vec
            .iter()
            .zip(&other.vec)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let dist = euclid + self.height + other.height;
        let adjusted = dist + self.adjustment + other.adjustment;
        if adjusted > 0.0 {
            adjusted
        } else {
            dist
        }
    }
}

/// One node's coordinate in the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoordinateEntry {
    pub node: String,
    pub coord: Coord,
    pub modify_index: u64,
}

impl State {
    /// Every node's coordinate, by node name.
    pub fn coordinates(&self) -> impl Iterator<Item = &CoordinateEntry> {
        self.coordinates.values()
    }

    /// Node `node`'s coordinate.
    pub fn coordinate(&self, node: &str) -> Option<&Coord> {
        self.coordinates.get(&lower(node)).map(|e| &e.coord)
    }

    /// The index of the last coordinate change.
    pub fn coordinates_index(&self) -> u64 {
        self.index.coordinates
    }

    /// Stores coordinates of registered nodes (Consul drops those of unknown nodes).
    pub(super) fn update_coordinates(
        &mut self,
        index: u64,
        updates: &[(String, Coord)],
        t: &mut Touched,
    ) {
        let mut changed = false;
        for (node, coord) in updates {
            let key = lower(node);
            let Some(record) = self.nodes.get(&key) else {
                continue;
            };
            if !coord.is_valid() {
                continue;
            }
            let node = record.node.clone();
            self.coordinates.insert(
                key,
                CoordinateEntry {
                    node,
                    coord: coord.clone(),
                    modify_index: index,
                },
            );
            changed = true;
        }
        if changed {
            self.index.coordinates = index;
            t.push(WatchKey::Coordinates);
        }
    }

    /// Forgets node `key`'s coordinate (the node was deregistered).
    pub(super) fn drop_coordinate(&mut self, index: u64, key: &str, t: &mut Touched) {
        if self.coordinates.remove(key).is_some() {
            self.index.coordinates = index;
            t.push(WatchKey::Coordinates);
        }
    }

    /// The estimated round trip from node `from` to each of `nodes` (seconds; `None` when
    /// either has no coordinate), for `?near=` sorting.
    pub fn rtt_from(&self, from: &str) -> impl Fn(&str) -> Option<f64> + '_ {
        let origin = self.coordinate(from).cloned();
        move |node: &str| {
            let o = origin.as_ref()?;
            Some(o.distance_to(self.coordinate(node)?))
        }
    }
}

/// Sorts `items` nearest first from the origin's coordinate: Consul's `?near=` order (those
/// without a coordinate last, in the order they had).
pub fn sort_near<T>(items: &mut [T], rtt: impl Fn(&T) -> Option<f64>) {
    items.sort_by(|a, b| match (rtt(a), rtt(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_serfs() {
        let a = Coord::default();
        let mut b = Coord::default();
        b.vec[0] = 0.003;
        b.vec[1] = 0.004;
        let d = a.distance_to(&b);
        assert!((d - (0.005 + 2.0 * HEIGHT_MIN)).abs() < 1e-12, "{d}");
        b.adjustment = -1.0;
        assert!((a.distance_to(&b) - (0.005 + 2.0 * HEIGHT_MIN)).abs() < 1e-12);
    }

    #[test]
    fn near_sorts_nearest_first_and_unknown_last() {
        let mut v = vec![("far", Some(3.0)), ("none", None), ("near", Some(1.0))];
        sort_near(&mut v, |x| x.1);
        let names: Vec<&str> = v.iter().map(|x| x.0).collect();
        assert_eq!(names, ["near", "far", "none"]);
    }
}
