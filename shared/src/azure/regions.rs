//! Azure region names, for checking the regions a customer selects.
//!
//! Names are the ARM `name` of each location (`az account list-locations`), compared after
//! normalisation (lower case, no spaces), so "East US" and "eastus" are the same region. Custom
//! clouds (Azure Stack Hub) list their own region names, or use the public cloud's.

use super::cloud::Cloud;
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

/// Whether `region` is a region of `cloud`.
pub fn is_known(cloud: &Cloud, region: &str) -> bool {
    let name = normalize(region);
    match cloud {
        Cloud::Public => PUBLIC.contains(&name.as_str()),
        Cloud::China => CHINA.contains(&name.as_str()),
        Cloud::UsGovernment => US_GOVERNMENT.contains(&name.as_str()),
        Cloud::Custom(custom) => match &custom.regions {
            Some(own) => own.iter().any(|r| normalize(r) == name),
            None => PUBLIC.contains(&name.as_str()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_each_clouds_regions() {
        assert!(is_known(&Cloud::Public, "East US"));
        assert!(is_known(&Cloud::Public, "westeurope"));
        assert!(!is_known(&Cloud::Public, "eastus9"));
        assert!(!is_known(&Cloud::Public, "chinaeast2"));
        assert!(is_known(&Cloud::China, "China East 2"));
        assert!(is_known(&Cloud::UsGovernment, "usgovvirginia"));
        let stack = |regions: Option<Vec<String>>| {
            Cloud::Custom(crate::azure::CustomCloud {
                authority_host: "https://login.local".into(),
                resource_manager: "https://arm.local".into(),
                graph: None,
                arm_audience: None,
                graph_audience: None,
                regions,
                throttle_model: None,
            })
        };
        assert!(is_known(&stack(Some(vec!["local".into()])), "Local"));
        assert!(!is_known(&stack(Some(vec!["local".into()])), "eastus"));
        assert!(is_known(&stack(None), "eastus"));
        assert!(!is_known(&stack(None), "local"));
    }
}
