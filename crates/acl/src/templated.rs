//! Templated policies: builtin rules texts with a `{{.Name}}` hole, attached to tokens and
//! roles by name (`builtin/service` with `name = "web"`), listed and read through
//! `/v1/acl/templated-policies`.

use crate::identity::{self, SyntheticPolicy};
use api_types::go_quote as quote;

/// JSON schema of the variables of templates that need a name.
pub const NAME_SCHEMA: &str = r##"{
		"type": "object",
		"properties": {
			"name": { "type": "string", "$ref": "#/definitions/min-length-one" }
		},
		"required": ["name"],
		"definitions": {
			"min-length-one": {
					"type": "string",
					"minLength": 1
			}
		}
	}"##;

/// A builtin templated policy: a rules text with holes, and what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    name: &'static str,
    id: &'static str,
    description: &'static str,
    template: &'static str,
    schema: &'static str,
}

const CATALOG: [Template; 3] = [
    Template {
        name: "builtin/service",
        id: "00000000-0000-0000-0000-000000000003",
        description: "Gives the token or role permissions to register a service and discover services in the Consul catalog. It also gives the specified service's sidecar proxy the permission to discover and route traffic to other services.",
        template: concat!(
            "\nservice \"{{.Name}}\" {\n\tpolicy = \"write\"\n}",
            "\nservice \"{{.Name}}-sidecar-proxy\" {\n\tpolicy = \"write\"\n}",
            "\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}",
            "\nnode_prefix \"\" {\n\tpolicy = \"read\"\n}",
        ),
        schema: NAME_SCHEMA,
    },
    Template {
        name: "builtin/node",
        id: "00000000-0000-0000-0000-000000000004",
        description: "Gives the token or role permissions for a register an agent/node into the catalog. A node is typically a consul agent but can also be a physical server, cloud instance or a container.",
        template: concat!(
            "\nnode \"{{.Name}}\" {\n\tpolicy = \"write\"\n}",
            "\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}",
        ),
        schema: NAME_SCHEMA,
    },
    Template {
        name: "builtin/dns",
        id: "00000000-0000-0000-0000-000000000005",
        description: "Gives the token or role permissions for the Consul DNS to query services in the network.",
        template: concat!(
            "\nnode_prefix \"\" {\n\tpolicy = \"read\"\n}",
            "\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}",
            "\nquery_prefix \"\" {\n\tpolicy = \"read\"\n}",
        ),
        schema: "",
    },
];

/// Where the template takes its name variable.
const NAME_HOLE: &str = "{{.Name}}";

/// All builtin templated policies.
pub fn all() -> &'static [Template] {
    &CATALOG
}

/// The builtin templated policy called `name` (`builtin/service`, ...).
pub fn find(name: &str) -> Option<&'static Template> {
    CATALOG.iter().find(|t| t.name == name)
}

/// The rules text of the templated policy `template_name` for the variable `name`, or `None`
/// when there is no such template or it cannot take `name` (a template with a hole needs a
/// valid identity name; one without ignores it).
pub fn rules(template_name: &str, name: &str) -> Option<String> {
    let template = find(template_name)?;
    if template.requires_name() && (name.is_empty() || template.invalid_name(name).is_some()) {
        return None;
    }
    Some(template.render(name))
}

impl Template {
    /// The template's name, e.g. `builtin/service`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The template's fixed ID.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// What the template grants, in Consul's words.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The raw template, `{{.Name}}` holes included.
    pub fn template(&self) -> &'static str {
        self.template
    }

    /// The JSON schema of the template's variables; empty when it takes none.
    pub fn schema(&self) -> &'static str {
        self.schema
    }

    /// Whether the template needs the `name` variable.
    pub fn requires_name(&self) -> bool {
        self.template.contains(NAME_HOLE)
    }

    /// Consul's refusal of a name the template cannot take (service and node templates
    /// accept identity names only); `None` when the name is fine.
    pub fn invalid_name(&self, name: &str) -> Option<String> {
        match self.name {
            "builtin/service" if !identity::is_valid_service_identity_name(name) => Some(format!(
                "service identity {} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
                quote(name)
            )),
            // Consul's message has the two spaces.
            "builtin/node" if !identity::is_valid_node_identity_name(name) => Some(format!(
                "node identity {}  has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
                quote(name)
            )),
            _ => None,
        }
    }

    /// The rules text with `name` filled in (ignored by templates without a hole).
    pub fn render(&self, name: &str) -> String {
        self.template.replace(NAME_HOLE, name)
    }

    /// The synthetic policy Consul makes of this template for `name`.
    pub fn synthetic_policy(&self, name: &str) -> SyntheticPolicy {
        SyntheticPolicy::for_templated_policy(self.name, self.render(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{node_identity_rules, service_identity_rules};
    use crate::{Access, Authorizer, DefaultPolicy, Resource, Rules};

    #[test]
    fn catalog() {
        let names: Vec<_> = all().iter().map(|t| t.name()).collect();
        assert_eq!(names, ["builtin/service", "builtin/node", "builtin/dns"]);
        let dns = find("builtin/dns").expect("exists");
        assert_eq!(dns.id(), "00000000-0000-0000-0000-000000000005");
        assert!(!dns.requires_name());
        assert_eq!(dns.schema(), "");
        assert!(find("builtin/nope").is_none());
        let schema: serde_json::Value = serde_json::from_str(NAME_SCHEMA).expect("json");
        assert_eq!(schema["required"][0], "name");
    }

    #[test]
    fn service_and_node_templates_are_the_identities() {
        let service = find("builtin/service").expect("exists");
        assert!(service.requires_name());
        assert_eq!(service.render("web"), service_identity_rules("web"));
        let node = find("builtin/node").expect("exists");
        assert_eq!(node.render("n1"), node_identity_rules("n1"));
        let p = node.synthetic_policy("n1");
        assert_eq!(
            p.description(),
            "synthetic policy generated from templated policy: builtin/node"
        );
    }

    #[test]
    fn every_template_parses_and_dns_reads() {
        for t in all() {
            Rules::parse(&t.render("x")).unwrap_or_else(|e| panic!("{}: {e}", t.name()));
        }
        let dns = Rules::parse(&rules("builtin/dns", "ignored").expect("renders")).expect("parses");
        let authz = Authorizer::new(DefaultPolicy::Deny, [&dns]);
        assert!(authz.allows(Resource::Node, "n", Access::Read));
        assert!(authz.allows(Resource::Service, "s", Access::Read));
        assert!(authz.allows(Resource::Query, "q", Access::Read));
        assert!(!authz.allows(Resource::Service, "s", Access::Write));
        assert!(!authz.allows(Resource::Key, "k", Access::Read));
    }

    #[test]
    fn rules_need_a_valid_name_where_there_is_a_hole() {
        assert_eq!(
            rules("builtin/service", "web"),
            Some(service_identity_rules("web"))
        );
        assert_eq!(rules("builtin/service", ""), None);
        assert_eq!(rules("builtin/node", "Bad Name"), None);
        assert_eq!(rules("builtin/nope", "web"), None);
        assert!(rules("builtin/dns", "").is_some());
    }

    #[test]
    fn invalid_names() {
        let service = find("builtin/service").expect("exists");
        assert_eq!(service.invalid_name("web"), None);
        assert_eq!(
            service.invalid_name("Web").as_deref(),
            Some("service identity \"Web\" has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed")
        );
        let node = find("builtin/node").expect("exists");
        assert!(node
            .invalid_name("n 1")
            .is_some_and(|m| m.starts_with("node identity \"n 1\"  has")));
        let dns = find("builtin/dns").expect("exists");
        assert_eq!(dns.invalid_name("Anything"), None);
    }
}
