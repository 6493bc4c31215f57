//! Where a check's data comes from: the [`Collection`]s a service declares and the kinds of
//! [`Source`] the worker's collector knows how to fetch.
//!
//! Collections are typed consts built with the `const fn` constructors below, so a service file
//! reads as a list of one-liners:
//! - subscription-level ARM lists (provider collections, and subscription-scope objects such as
//!   Defender pricings or the activity log's diagnostic settings, optionally with `$filter`);
//! - children of any collection's items, one object or one paged list per parent; the parent may
//!   itself be a child collection (servers -> databases -> transparent data encryption);
//! - a resource's diagnostic settings, one reusable child list;
//! - Microsoft Graph objects and paged lists, tenant-wide (Entra ID checks).

use serde::Serialize;
use serde_json::Value;

/// The api-version of the diagnostic-settings extension resource.
pub const DIAGNOSTIC_SETTINGS_API_VERSION: &str = "2021-05-01-preview";
/// The action that reads a resource's diagnostic settings.
pub const DIAGNOSTIC_SETTINGS_READ: &str = "Microsoft.Insights/diagnosticSettings/read";
/// The suffix of a resource's diagnostic settings under its id.
pub const DIAGNOSTIC_SETTINGS_SUFFIX: &str = "/providers/Microsoft.Insights/diagnosticSettings";

/// Where a collection's data comes from.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// `GET {arm}/subscriptions/{s}/providers/{provider_path}?api-version=...[&$filter=...]`,
    /// paged by `nextLink`.
    SubscriptionList {
        provider_path: &'static str,
        api_version: &'static str,
        /// An OData `$filter` expression, sent encoded.
        #[serde(skip_serializing_if = "Option::is_none")]
        filter: Option<&'static str>,
    },
    /// For each in-scope item of `parent`: `GET {item.id}{suffix}?api-version=...`, one object.
    /// A 404 means the child is absent for that parent.
    ChildGet {
        parent: &'static str,
        suffix: &'static str,
        api_version: &'static str,
    },
    /// For each in-scope item of `parent`: `GET {item.id}{suffix}?api-version=...`, paged list.
    ChildList {
        parent: &'static str,
        suffix: &'static str,
        api_version: &'static str,
    },
    /// `GET {graph}/v1.0{path}`: one Microsoft Graph object, tenant-wide.
    GraphGet { path: &'static str },
    /// `GET {graph}/v1.0{path}`: a Microsoft Graph collection, paged by `@odata.nextLink`.
    GraphList { path: &'static str },
}

impl Source {
    /// The collection whose items this source reads children of, if any.
    pub const fn parent(&self) -> Option<&'static str> {
        match self {
            Source::ChildGet { parent, .. } | Source::ChildList { parent, .. } => Some(parent),
            _ => None,
        }
    }

    /// Whether the data comes from Microsoft Graph rather than Resource Manager.
    pub const fn is_graph(&self) -> bool {
        matches!(self, Source::GraphGet { .. } | Source::GraphList { .. })
    }
}

/// One piece of data a service's checks read. Fetched at most once per job.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Collection {
    /// `service.what`, e.g. `storage.accounts`.
    pub key: &'static str,
    pub source: Source,
    /// What reading it needs: an Azure action for ARM, an application permission for Graph.
    /// Named in "Failed - Access Denied" results and in validation's access map.
    pub permission: &'static str,
    /// Whether items carry a `location` that the connection's region selection filters.
    pub regional: bool,
    /// For child sources: which parent items have this child at all (others are skipped, saving
    /// calls). `None` = every parent.
    #[serde(skip)]
    pub applies_to: Option<fn(&Value) -> bool>,
}

impl Collection {
    /// A subscription-level list of regional resources.
    pub const fn list(
        key: &'static str,
        provider_path: &'static str,
        api_version: &'static str,
        permission: &'static str,
    ) -> Self {
        Self {
            key,
            source: Source::SubscriptionList {
                provider_path,
                api_version,
                filter: None,
            },
            permission,
            regional: true,
            applies_to: None,
        }
    }

    /// One child object of each parent item (`{parent.id}{suffix}`).
    pub const fn child(
        key: &'static str,
        parent: &'static str,
        suffix: &'static str,
        api_version: &'static str,
        permission: &'static str,
    ) -> Self {
        Self {
            key,
            source: Source::ChildGet {
                parent,
                suffix,
                api_version,
            },
            permission,
            regional: false,
            applies_to: None,
        }
    }

    /// A paged child list of each parent item (`{parent.id}{suffix}`).
    pub const fn child_list(
        key: &'static str,
        parent: &'static str,
        suffix: &'static str,
        api_version: &'static str,
        permission: &'static str,
    ) -> Self {
        Self {
            key,
            source: Source::ChildList {
                parent,
                suffix,
                api_version,
            },
            permission,
            regional: false,
            applies_to: None,
        }
    }

    /// The diagnostic settings of each parent item: one reusable collection, evaluated by
    /// [`super::diagnostics`].
    pub const fn diagnostic_settings(key: &'static str, parent: &'static str) -> Self {
        Self::child_list(
            key,
            parent,
            DIAGNOSTIC_SETTINGS_SUFFIX,
            DIAGNOSTIC_SETTINGS_API_VERSION,
            DIAGNOSTIC_SETTINGS_READ,
        )
    }

    /// One Microsoft Graph object (tenant-wide, never region-filtered).
    pub const fn graph_get(
        key: &'static str,
        path: &'static str,
        permission: &'static str,
    ) -> Self {
        Self {
            key,
            source: Source::GraphGet { path },
            permission,
            regional: false,
            applies_to: None,
        }
    }

    /// A Microsoft Graph collection (tenant-wide, never region-filtered).
    pub const fn graph_list(
        key: &'static str,
        path: &'static str,
        permission: &'static str,
    ) -> Self {
        Self {
            key,
            source: Source::GraphList { path },
            permission,
            regional: false,
            applies_to: None,
        }
    }

    /// Items have no region, or are subscription-wide settings: never region-filtered.
    pub const fn global(mut self) -> Self {
        self.regional = false;
        self
    }

    /// Adds an OData `$filter` to a subscription-level list.
    pub const fn filtered(mut self, filter: &'static str) -> Self {
        if let Source::SubscriptionList {
            provider_path,
            api_version,
            ..
        } = self.source
        {
            self.source = Source::SubscriptionList {
                provider_path,
                api_version,
                filter: Some(filter),
            };
        }
        self
    }

    /// Fetches a child only for the parent items `applies` accepts.
    pub const fn only_for(mut self, applies: fn(&Value) -> bool) -> Self {
        self.applies_to = Some(applies);
        self
    }
}
