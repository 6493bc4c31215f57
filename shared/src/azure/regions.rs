//! Azure region names, for checking the regions a customer selects.
//!
//! Names are the ARM `name` of each location (`az account list-locations`), compared after
//! normalisation (lower case, no spaces), so "East US" and "eastus" are the same region. Custom
//! clouds (Azure Stack Hub) list their own region names, or use the public cloud's.

use super::cloud::Endpoints;
use crate::checks::region::normalize;

/// Regions of the Azure public cloud.
pub const PUBLIC: &[&str] = &[
    "australiacentral",
    "australiacentral2",
    "australiaeast",
    "australiasoutheast",
    "austriaeast",
    "belgiumcentral",
    "brazilsouth",
    "brazilsoutheast",
    "canadacentral",
    "canadaeast",
    "centralindia",
    "centralus",
    "chilecentral",
    "denmarkeast",
    "eastasia",
    "eastus",
    "eastus2",
    "francecentral",
    "francesouth",
    "germanynorth",
    "germanywestcentral",
    "indonesiacentral",
    "israelcentral",
    "italynorth",
    "japaneast",
    "japanwest",
    "jioindiacentral",
    "jioindiawest",
    "koreacentral",
    "koreasouth",
    "malaysiawest",
    "mexicocentral",
    "newzealandnorth",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "norwaywest",
    "polandcentral",
    "qatarcentral",
    "southafricanorth",
    "southafricawest",
    "southcentralus",
    "southeastasia",
    "southindia",
    "spaincentral",
    "swedencentral",
    "swedensouth",
    "switzerlandnorth",
    "switzerlandwest",
    "uaecentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "westcentralus",
    "westeurope",
    "westindia",
    "westus",
    "westus2",
    "westus3",
];

/// Regions of Azure operated by 21Vianet in China.
pub const CHINA: &[&str] = &[
    "chinaeast",
    "chinaeast2",
    "chinaeast3",
    "chinanorth",
    "chinanorth2",
    "chinanorth3",
];

/// Regions of Azure Government.
pub const US_GOVERNMENT: &[&str] = &[
    "usdodcentral",
    "usdodeast",
    "usgovarizona",
    "usgovtexas",
    "usgovvirginia",
];

/// Whether `region` is a region of the cloud with these endpoints: the built-in clouds' own
/// lists, a registered cloud's `regions`, or the public cloud's names when it lists none.
pub fn is_known(cloud: &Endpoints, region: &str) -> bool {
    let name = normalize(region);
    if let Some(own) = &cloud.regions {
        return own.iter().any(|r| normalize(r) == name);
    }
    match cloud.name.as_str() {
        "china" if cloud.builtin => CHINA.contains(&name.as_str()),
        "us_government" if cloud.builtin => US_GOVERNMENT.contains(&name.as_str()),
        _ => PUBLIC.contains(&name.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::cloud::{Cloud, CloudRegistry, RegisteredCloud};

    #[test]
    fn knows_each_clouds_regions() {
        let none = CloudRegistry::default();
        let of = |c: Cloud| none.resolve(&c).expect("builtin");
        assert!(is_known(&of(Cloud::Public), "East US"));
        assert!(is_known(&of(Cloud::Public), "westeurope"));
        assert!(!is_known(&of(Cloud::Public), "eastus9"));
        assert!(!is_known(&of(Cloud::Public), "chinaeast2"));
        assert!(is_known(&of(Cloud::China), "China East 2"));
        assert!(is_known(&of(Cloud::UsGovernment), "usgovvirginia"));
        let stack = |regions: Option<Vec<String>>| {
            CloudRegistry::default()
                .with(
                    "hub",
                    RegisteredCloud {
                        cloud: crate::azure::CustomCloud {
                            authority_host: "https://login.local".into(),
                            resource_manager: "https://arm.local".into(),
                            graph: None,
                            arm_audience: None,
                            graph_audience: None,
                            regions,
                            throttle_model: None,
                        },
                        allow_private_addresses: false,
                    },
                )
                .expect("registry")
                .resolve(&Cloud::Registered { name: "hub".into() })
                .expect("hub")
        };
        assert!(is_known(&stack(Some(vec!["local".into()])), "Local"));
        assert!(!is_known(&stack(Some(vec!["local".into()])), "eastus"));
        assert!(is_known(&stack(None), "eastus"));
        assert!(!is_known(&stack(None), "local"));
    }
}
