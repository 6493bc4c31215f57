//! Region selection: a connection monitors some Azure regions; resources elsewhere are out of
//! scope. Location names are compared case-insensitively and ignoring spaces ("East US" ==
//! "eastus"), because resource providers report them both ways. Resources without a regional
//! location ("global", or none) are always in scope.

use serde_json::Value;

use super::props::resource_location;

/// The regions a connection monitors. Empty = all regions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionFilter {
    normalized: Vec<String>,
}

impl RegionFilter {
    pub fn new<I, S>(regions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut normalized: Vec<String> = regions
            .into_iter()
            .map(|r| normalize(r.as_ref()))
            .filter(|r| !r.is_empty())
            .collect();
        normalized.sort();
        normalized.dedup();
        Self { normalized }
    }

    pub fn all() -> Self {
        Self::default()
    }

    /// Whether a location (as a resource reports it) is monitored.
    pub fn includes(&self, location: Option<&str>) -> bool {
        let Some(location) = location.map(normalize).filter(|l| !l.is_empty()) else {
            return true;
        };
        if self.normalized.is_empty() || location == "global" {
            return true;
        }
        self.normalized.contains(&location)
    }

    /// Whether an ARM resource body is in scope.
    pub fn includes_resource(&self, resource: &Value) -> bool {
        self.includes(resource_location(resource))
    }
}

/// `"East US 2"` -> `"eastus2"`.
pub fn normalize(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_names_ignoring_case_and_spaces() {
        let f = RegionFilter::new(["eastus", "West Europe"]);
        assert!(f.includes(Some("East US")));
        assert!(f.includes(Some("westeurope")));
        assert!(f.includes(Some("WESTEUROPE")));
        assert!(!f.includes(Some("eastus2")));
        assert!(!f.includes(Some("japaneast")));
    }

    #[test]
    fn global_and_unlocated_resources_are_always_in_scope() {
        let f = RegionFilter::new(["eastus"]);
        assert!(f.includes(Some("global")));
        assert!(f.includes(Some("Global")));
        assert!(f.includes(None));
        assert!(f.includes(Some("")));
    }

    #[test]
    fn no_selection_means_every_region() {
        assert!(RegionFilter::all().includes(Some("australiaeast")));
        assert!(RegionFilter::new(Vec::<String>::new()).includes(Some("brazilsouth")));
    }
}
