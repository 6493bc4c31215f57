//! ARM paths and resource ids, taken apart.
//!
//! ARM addresses everything by path: a subscription, a resource group, a provider namespace,
//! then alternating type and name segments (`storageAccounts/sa1/fileServices/default`), and for
//! extension resources a further `/providers/{Namespace}/...` block under a resource. An odd
//! number of type/name segments names a collection, an even number one resource. Scenario
//! resource ids and request paths are parsed the same way so they can be compared; comparisons
//! are case-insensitive, as in ARM, while the original casing is kept for messages.

/// A path split into percent-decoded, non-empty segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArmPath {
    segments: Vec<String>,
}

impl ArmPath {
    pub(crate) fn parse(raw: &str) -> ArmPath {
        let segments = raw
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(percent_decode)
            .collect();
        ArmPath { segments }
    }

    fn from_segments(segments: Vec<String>) -> ArmPath {
        ArmPath { segments }
    }

    /// The path with its original casing, e.g. `/subscriptions/{id}/resourceGroups/rg1`.
    pub(crate) fn display(&self) -> String {
        join(&self.segments)
    }

    /// The path as a comparison key (lower case).
    pub(crate) fn key(&self) -> String {
        self.display().to_lowercase()
    }
}

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/subscriptions`
    Subscriptions,
    /// `/subscriptions/{id}`
    Subscription { subscription: String },
    /// `/subscriptions/{id}/resources`: every top-level resource of the subscription.
    Resources { subscription: String },
    /// `/subscriptions/{id}/resourcegroups`: the subscription's resource groups.
    ResourceGroups { subscription: String },
    /// `/subscriptions/{id}/providers`: the resource providers and their registration.
    Providers { subscription: String },
    /// `/subscriptions/{id}/providers/{Namespace}`: one resource provider.
    ProviderNamespace {
        subscription: String,
        namespace: String,
    },
    /// Anything under `/subscriptions/{id}[/resourceGroups/{rg}]/providers/{Namespace}/...`.
    Provider(ProviderPath),
    /// A path the emulator does not model (yet).
    Unknown { subscription: Option<String> },
}

impl Target {
    pub(crate) fn parse(path: &ArmPath) -> Target {
        let s = &path.segments;
        if s.first()
            .is_none_or(|first| !first.eq_ignore_ascii_case("subscriptions"))
        {
            return Target::Unknown { subscription: None };
        }
        let Some(subscription) = s.get(1).cloned() else {
            return Target::Subscriptions;
        };
        if s.len() == 2 {
            return Target::Subscription { subscription };
        }
        if s.len() == 3 && s[2].eq_ignore_ascii_case("resources") {
            return Target::Resources { subscription };
        }
        if s.len() == 3 && s[2].eq_ignore_ascii_case("resourcegroups") {
            return Target::ResourceGroups { subscription };
        }
        let unknown = Target::Unknown {
            subscription: Some(subscription.clone()),
        };

        if s[2].eq_ignore_ascii_case("providers") {
            match s.get(3) {
                None => return Target::Providers { subscription },
                Some(namespace) if s.len() == 4 => {
                    return Target::ProviderNamespace {
                        subscription,
                        namespace: namespace.clone(),
                    };
                }
                Some(_) => {}
            }
        }

        let mut index = 2;
        let mut resource_group = None;
        if s[index].eq_ignore_ascii_case("resourceGroups") {
            let Some(name) = s.get(index + 1) else {
                return unknown;
            };
            resource_group = Some(name.clone());
            index += 2;
        }
        let (Some(keyword), Some(namespace)) = (s.get(index), s.get(index + 1)) else {
            return unknown;
        };
        if !keyword.eq_ignore_ascii_case("providers") {
            return unknown;
        }

        let mut scope_end = index;
        let mut namespace = namespace.clone();
        let mut tail: Vec<String> = Vec::new();
        let mut next = index + 2;
        while next < s.len() {
            // A `providers` segment where a type is expected, after a complete resource, starts
            // an extension resource scoped to that resource.
            let at_type_position = !tail.is_empty() && tail.len().is_multiple_of(2);
            if at_type_position && s[next].eq_ignore_ascii_case("providers") && next + 1 < s.len() {
                scope_end = next;
                namespace = s[next + 1].clone();
                tail.clear();
                next += 2;
                continue;
            }
            tail.push(s[next].clone());
            next += 1;
        }
        if tail.is_empty() {
            return unknown;
        }
        Target::Provider(ProviderPath {
            subscription,
            resource_group,
            scope: s[..scope_end].to_vec(),
            namespace,
            tail,
        })
    }

    /// The subscription id the path names, if any.
    pub(crate) fn subscription(&self) -> Option<&str> {
        match self {
            Target::Subscriptions => None,
            Target::Subscription { subscription }
            | Target::Providers { subscription }
            | Target::Resources { subscription }
            | Target::ResourceGroups { subscription }
            | Target::ProviderNamespace { subscription, .. } => Some(subscription),
            Target::Provider(provider) => Some(&provider.subscription),
            Target::Unknown { subscription } => subscription.as_deref(),
        }
    }
}

/// A path under a provider namespace: one resource or one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderPath {
    pub(crate) subscription: String,
    pub(crate) resource_group: Option<String>,
    /// Segments before the last `/providers/{Namespace}`: a subscription, a resource group, or
    /// (for extension resources) a resource.
    scope: Vec<String>,
    pub(crate) namespace: String,
    /// Alternating type and name segments after the namespace.
    tail: Vec<String>,
}

impl ProviderPath {
    /// Whether the path names a collection (it ends with a type, not a name).
    pub(crate) fn is_collection(&self) -> bool {
        !self.tail.len().is_multiple_of(2)
    }

    /// The type and name segments after the namespace, e.g. `["storageAccounts", "sa1"]`.
    pub(crate) fn tail(&self) -> &[String] {
        &self.tail
    }

    /// Every provider namespace the path names: the resource's, and for an extension resource
    /// also those of the resources it lies under.
    pub(crate) fn namespaces(&self) -> Vec<&str> {
        let mut namespaces: Vec<&str> = self
            .scope
            .windows(2)
            .filter(|pair| pair[0].eq_ignore_ascii_case("providers"))
            .map(|pair| pair[1].as_str())
            .collect();
        namespaces.push(&self.namespace);
        namespaces
    }

    /// Directly under a subscription or resource group (not an extension of a resource).
    pub(crate) fn is_at_subscription_or_group(&self) -> bool {
        !self.scope_is_resource()
    }

    /// The type segments, e.g. `storageAccounts/fileServices`.
    pub(crate) fn relative_type(&self) -> String {
        self.tail
            .iter()
            .step_by(2)
            .cloned()
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The full resource type, e.g. `Microsoft.Storage/storageAccounts/fileServices`.
    pub(crate) fn full_type(&self) -> String {
        format!("{}/{}", self.namespace, self.relative_type())
    }

    /// The RBAC action a GET of this path needs.
    pub(crate) fn read_action(&self) -> String {
        format!("{}/read", self.full_type())
    }

    /// `Namespace/type/name[/type/name...]`, as ARM names a resource in ResourceNotFound.
    pub(crate) fn qualified_name(&self) -> String {
        format!("{}/{}", self.namespace, self.tail.join("/"))
    }

    /// The whole path.
    pub(crate) fn path(&self) -> ArmPath {
        let mut segments = self.scope.clone();
        segments.push("providers".to_owned());
        segments.push(self.namespace.clone());
        segments.extend(self.tail.iter().cloned());
        ArmPath::from_segments(segments)
    }

    fn scope_is_resource(&self) -> bool {
        self.scope
            .iter()
            .skip(2)
            .any(|segment| segment.eq_ignore_ascii_case("providers"))
    }

    /// The resource this path lies under, if it lies under a resource rather than directly
    /// under a subscription or resource group.
    pub(crate) fn parent_resource(&self) -> Option<ArmPath> {
        let own = if self.is_collection() { 1 } else { 2 };
        if self.tail.len() > own {
            let mut segments = self.path().segments;
            segments.truncate(segments.len() - own);
            Some(ArmPath::from_segments(segments))
        } else if self.scope_is_resource() {
            Some(ArmPath::from_segments(self.scope.clone()))
        } else {
            None
        }
    }

    /// The collection this resource belongs to (for a collection path, the path itself).
    pub(crate) fn collection_key(&self) -> String {
        let mut segments = self.path().segments;
        if !self.is_collection() {
            segments.pop();
        }
        ArmPath::from_segments(segments).key()
    }

    /// A resource directly in a resource group or subscription (not a child, not an extension).
    pub(crate) fn is_top_level(&self) -> bool {
        !self.scope_is_resource() && self.tail.len() == 2
    }

    /// `/subscriptions/{id}/providers/{Namespace}/{type}`: ARM lists every top-level resource
    /// of the type in the subscription, whatever its resource group.
    pub(crate) fn is_subscription_wide_list(&self) -> bool {
        self.scope.len() == 2 && self.tail.len() == 1
    }

    /// The scope ARM names in AuthorizationFailed: for a list directly under a subscription or
    /// resource group that scope, for a child list the parent resource, else the resource.
    pub(crate) fn authorization_scope(&self) -> String {
        if self.is_collection() {
            match self.parent_resource() {
                Some(parent) => parent.display(),
                None => join(&self.scope),
            }
        } else {
            self.path().display()
        }
    }
}

fn join(segments: &[String]) -> String {
    let mut out = String::new();
    for segment in segments {
        out.push('/');
        out.push_str(segment);
    }
    out
}

/// Decodes `%XX` escapes; anything malformed is kept as it is.
pub(crate) fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3).and_then(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            });
            if let Some(byte) = hex {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SA: &str =
        "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1";

    fn provider(path: &str) -> ProviderPath {
        match Target::parse(&ArmPath::parse(path)) {
            Target::Provider(provider) => provider,
            other => panic!("{path} parsed as {other:?}"),
        }
    }

    #[test]
    fn subscriptions_and_unknown_paths() {
        assert_eq!(
            Target::parse(&ArmPath::parse("/subscriptions")),
            Target::Subscriptions
        );
        assert_eq!(
            Target::parse(&ArmPath::parse("/SUBSCRIPTIONS/s1/")),
            Target::Subscription {
                subscription: "s1".into()
            }
        );
        assert_eq!(
            Target::parse(&ArmPath::parse("/subscriptions/s1/locations")),
            Target::Unknown {
                subscription: Some("s1".into())
            }
        );
        assert_eq!(
            Target::parse(&ArmPath::parse(
                "/subscriptions/s1/providers/Microsoft.Storage"
            )),
            Target::ProviderNamespace {
                subscription: "s1".into(),
                namespace: "Microsoft.Storage".into()
            }
        );
        assert_eq!(
            Target::parse(&ArmPath::parse("/subscriptions/s1/PROVIDERS/")),
            Target::Providers {
                subscription: "s1".into()
            }
        );
        assert_eq!(
            Target::parse(&ArmPath::parse(
                "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage"
            )),
            Target::Unknown {
                subscription: Some("s1".into())
            }
        );
        assert_eq!(
            Target::parse(&ArmPath::parse("/tenants")),
            Target::Unknown { subscription: None }
        );
    }

    #[test]
    fn top_level_resource() {
        let p = provider(SA);
        assert!(!p.is_collection());
        assert!(p.is_top_level());
        assert_eq!(p.resource_group.as_deref(), Some("rg1"));
        assert_eq!(p.full_type(), "Microsoft.Storage/storageAccounts");
        assert_eq!(p.read_action(), "Microsoft.Storage/storageAccounts/read");
        assert_eq!(p.qualified_name(), "Microsoft.Storage/storageAccounts/sa1");
        assert_eq!(p.parent_resource(), None);
        assert_eq!(p.path().display(), SA);
        assert_eq!(p.authorization_scope(), SA);
        assert_eq!(
            p.collection_key(),
            "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.storage/storageaccounts"
        );
    }

    #[test]
    fn lists() {
        let all = provider("/subscriptions/s1/providers/Microsoft.Storage/storageAccounts");
        assert!(all.is_collection() && all.is_subscription_wide_list());
        assert_eq!(all.authorization_scope(), "/subscriptions/s1");

        let in_group = provider(
            "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts",
        );
        assert!(in_group.is_collection() && !in_group.is_subscription_wide_list());
        assert_eq!(
            in_group.authorization_scope(),
            "/subscriptions/s1/resourceGroups/rg1"
        );

        let children = provider(&format!("{SA}/fileServices"));
        assert!(children.is_collection());
        assert_eq!(
            children.full_type(),
            "Microsoft.Storage/storageAccounts/fileServices"
        );
        assert_eq!(
            children.parent_resource().map(|p| p.display()).as_deref(),
            Some(SA)
        );
        assert_eq!(children.authorization_scope(), SA);
    }

    #[test]
    fn child_and_extension_resources() {
        let child = provider(&format!("{SA}/fileServices/default"));
        assert!(!child.is_collection() && !child.is_top_level());
        assert_eq!(child.relative_type(), "storageAccounts/fileServices");
        assert_eq!(
            child.parent_resource().map(|p| p.display()).as_deref(),
            Some(SA)
        );

        let settings = provider(&format!(
            "{SA}/providers/Microsoft.Insights/diagnosticSettings"
        ));
        assert!(settings.is_collection());
        assert_eq!(
            settings.full_type(),
            "Microsoft.Insights/diagnosticSettings"
        );
        assert_eq!(
            settings.parent_resource().map(|p| p.display()).as_deref(),
            Some(SA)
        );
        assert_eq!(
            settings.namespaces(),
            vec!["Microsoft.Storage", "Microsoft.Insights"]
        );
        assert!(!settings.is_at_subscription_or_group());
        assert_eq!(child.namespaces(), vec!["Microsoft.Storage"]);
        assert!(child.is_at_subscription_or_group());

        let subscription_level =
            provider("/subscriptions/s1/providers/Microsoft.Security/pricings/VirtualMachines");
        assert!(subscription_level.parent_resource().is_none());
        assert!(subscription_level.is_top_level());
    }

    #[test]
    fn decoding_and_case() {
        let a = ArmPath::parse("/subscriptions/S1/resourceGroups/My%20Group/");
        let b = ArmPath::parse("/subscriptions/s1/resourcegroups/my group");
        assert_eq!(a.key(), b.key());
        assert_eq!(a.display(), "/subscriptions/S1/resourceGroups/My Group");
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
    }
}
