//! Port arithmetic for NSG rules.
//!
//! A [`PortSet`] is a set of TCP/UDP ports kept as sorted, disjoint, non-adjacent inclusive
//! ranges, so `*` (65,536 ports) costs one range. Rule evaluation is set algebra on it: the ports
//! an Allow rule reaches, minus the ports Deny rules evaluated before it already cover,
//! intersected with the ports a check cares about.

use std::fmt;

/// Highest port number an NSG rule accepts.
pub const MAX_PORT: u16 = u16::MAX;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSet {
    /// Sorted by start; no two ranges overlap or touch.
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every port, 0-65535 (what `*` means in a rule).
    pub fn all() -> Self {
        Self::range(0, MAX_PORT)
    }

    pub fn single(port: u16) -> Self {
        Self::range(port, port)
    }

    /// The inclusive range; bounds are swapped if given in reverse.
    pub fn range(first: u16, last: u16) -> Self {
        Self {
            ranges: vec![(first.min(last), first.max(last))],
        }
    }

    /// The union of arbitrary (possibly overlapping, unsorted) inclusive ranges.
    pub fn from_ranges<I: IntoIterator<Item = (u16, u16)>>(ranges: I) -> Self {
        let mut ranges: Vec<(u16, u16)> = ranges
            .into_iter()
            .map(|(a, b)| (a.min(b), a.max(b)))
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (first, last) in ranges {
            match merged.last_mut() {
                // Overlapping or adjacent (e.g. 20-30 and 31-40): extend.
                Some(prev) if u32::from(first) <= u32::from(prev.1) + 1 => {
                    prev.1 = prev.1.max(last);
                }
                _ => merged.push((first, last)),
            }
        }
        Self { ranges: merged }
    }

    #[cfg(test)]
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    #[cfg(test)]
    pub fn contains(&self, port: u16) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= port && port <= b)
    }

    /// Number of ports in the set.
    #[cfg(test)]
    pub fn len(&self) -> u32 {
        self.ranges
            .iter()
            .map(|&(a, b)| u32::from(b) - u32::from(a) + 1)
            .sum()
    }

    pub fn union(&self, other: &PortSet) -> PortSet {
        PortSet::from_ranges(self.ranges.iter().chain(other.ranges.iter()).copied())
    }

    pub fn intersection(&self, other: &PortSet) -> PortSet {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a1, b1) = self.ranges[i];
            let (a2, b2) = other.ranges[j];
            let (first, last) = (a1.max(a2), b1.min(b2));
            if first <= last {
                out.push((first, last));
            }
            // Advance whichever range ends first; the other may still overlap the next one.
            if b1 < b2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        PortSet { ranges: out }
    }

    /// Every port not in the set.
    pub fn complement(&self) -> PortSet {
        let mut out = Vec::new();
        let mut next: u32 = 0;
        for &(a, b) in &self.ranges {
            if u32::from(a) > next {
                out.push((next as u16, a - 1));
            }
            next = u32::from(b) + 1;
        }
        if next <= u32::from(MAX_PORT) {
            out.push((next as u16, MAX_PORT));
        }
        PortSet { ranges: out }
    }

    /// Ports in `self` but not in `other`.
    pub fn difference(&self, other: &PortSet) -> PortSet {
        self.intersection(&other.complement())
    }

    /// Whether every port of `other` is in `self`.
    pub fn is_superset(&self, other: &PortSet) -> bool {
        other.difference(self).is_empty()
    }
}

impl fmt::Display for PortSet {
    /// `22, 80-90`; `none` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ranges.is_empty() {
            return f.write_str("none");
        }
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// Parses one port entry of a rule (`destinationPortRange` or an item of
/// `destinationPortRanges`): `*`, a port (`"3389"`) or an inclusive range (`"20-30"`).
/// `None` when the entry is none of those (out of range, reversed, text).
pub fn parse_port_entry(entry: &str) -> Option<PortSet> {
    let entry = entry.trim();
    if entry == "*" {
        return Some(PortSet::all());
    }
    let port = |s: &str| s.trim().parse::<u16>().ok();
    match entry.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (port(first)?, port(last)?);
            (first <= last).then(|| PortSet::range(first, last))
        }
        None => port(entry).map(PortSet::single),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(u16, u16)]) -> PortSet {
        PortSet::from_ranges(ranges.iter().copied())
    }

    #[test]
    fn from_ranges_sorts_and_merges_overlapping_and_adjacent_ranges() {
        let s = set(&[(80, 90), (20, 30), (25, 40), (41, 41), (100, 100)]);
        assert_eq!(s.ranges(), &[(20, 41), (80, 90), (100, 100)]);
        assert_eq!(s.to_string(), "20-41, 80-90, 100");
        assert_eq!(s.len(), 22 + 11 + 1);
        assert_eq!(PortSet::range(30, 20).ranges(), &[(20, 30)]);
    }

    #[test]
    fn union_intersection_difference() {
        let a = set(&[(20, 30), (3380, 3390)]);
        let b = set(&[(25, 3385)]);
        assert_eq!(a.union(&b).ranges(), &[(20, 3390)]);
        assert_eq!(a.intersection(&b).ranges(), &[(25, 30), (3380, 3385)]);
        assert_eq!(a.difference(&b).ranges(), &[(20, 24), (3386, 3390)]);
        assert_eq!(b.difference(&a).ranges(), &[(31, 3379)]);
        assert!(a.intersection(&PortSet::empty()).is_empty());
        assert_eq!(a.union(&PortSet::empty()), a);
    }

    #[test]
    fn difference_at_the_edges_of_the_port_space() {
        let all = PortSet::all();
        assert_eq!(all.len(), 65_536);
        let hole = all.difference(&PortSet::single(3389));
        assert_eq!(hole.to_string(), "0-3388, 3390-65535");
        assert!(!hole.contains(3389) && hole.contains(0) && hole.contains(65535));
        assert_eq!(
            all.difference(&set(&[(0, 0), (65535, 65535)])).ranges(),
            &[(1, 65534)]
        );
        assert!(all.difference(&all).is_empty());
        assert_eq!(PortSet::empty().complement(), all);
        assert!(all.complement().is_empty());
    }

    #[test]
    fn superset() {
        let all = PortSet::all();
        assert!(all.is_superset(&PortSet::single(22)));
        assert!(set(&[(1, 65535)]).is_superset(&PortSet::range(1, 65535)));
        assert!(!set(&[(1, 1024)]).is_superset(&PortSet::range(1, 65535)));
        assert!(PortSet::single(22).is_superset(&PortSet::empty()));
    }

    #[test]
    fn parses_star_ports_and_ranges_and_rejects_the_rest() {
        assert_eq!(parse_port_entry("*"), Some(PortSet::all()));
        assert_eq!(parse_port_entry("3389"), Some(PortSet::single(3389)));
        assert_eq!(
            parse_port_entry(" 3380-3390 "),
            Some(PortSet::range(3380, 3390))
        );
        assert_eq!(parse_port_entry("0-65535"), Some(PortSet::all()));
        for bad in ["", "RDP", "70000", "30-20", "1-2-3", "-5", "22,23", "any"] {
            assert_eq!(parse_port_entry(bad), None, "{bad:?}");
        }
    }
}
