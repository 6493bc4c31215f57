//! The README's promises: its first two code blocks are the two set-up commands, and the demo
//! script's principal is the demo scenario's.

use std::path::PathBuf;

fn repo_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block.trim().to_string()),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

#[test]
fn the_readme_starts_with_the_two_commands() {
    let readme = repo_file("README.md");
    let blocks = code_blocks(&readme);
    assert_eq!(blocks.first().map(String::as_str), Some("tests/demo.sh"));
    assert_eq!(blocks.get(1).map(String::as_str), Some("tests/run.sh"));
    let ci = repo_file(".ci/run");
    assert!(
        ci.contains("tests/run.sh"),
        ".ci/run runs the README's test command"
    );
}

#[test]
fn the_demo_script_uses_the_demo_scenarios_principal() {
    let script = repo_file("tests/demo.sh");
    let demo = e2e::demo_scenario_json();
    let app = &demo["tenants"][0]["applications"][0];
    for (name, value) in [
        ("DEMO_TENANT", &demo["subscriptions"][0]["tenant_id"]),
        ("DEMO_CLIENT", &app["client_id"]),
        ("DEMO_SUBSCRIPTION", &demo["subscriptions"][0]["id"]),
        ("DEMO_CLIENT_SECRET", &app["secrets"][0]["value"]),
    ] {
        let value = value.as_str().expect("string");
        assert!(
            script.contains(&format!("{name}=\"{value}\"")),
            "{name} differs from the scenario"
        );
    }
    let regions: Vec<&str> = demo["demo"]["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(script.contains(&format!("--regions {}", regions.join(","))));
}

#[test]
fn every_configuration_variable_is_documented() {
    let readme = repo_file("README.md");
    let sources = [
        "shared/src/config.rs",
        "scheduler/src/lib.rs",
        "scheduler/src/cli/mod.rs",
        "worker/src/lib.rs",
    ];
    for file in sources {
        let text = repo_file(file);
        for part in text.split("env = \"").skip(1) {
            let var = part.split('"').next().expect("name");
            assert!(
                readme.contains(var),
                "{var} (from {file}) is not in the README"
            );
        }
    }
}

/// The repository explains itself: every relative link in its Markdown pages resolves to a file
/// in the repository, and none points outside it.
#[test]
fn markdown_links_stay_inside_the_repository() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().expect("repository root");
    for page in [
        "README.md",
        "deploy/README.md",
        "shared/DESIGN.md",
        "shared/src/checks/README.md",
    ] {
        let text = repo_file(page);
        let dir = root.join(page).parent().expect("page folder").to_path_buf();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            rest = &rest[end..];
            // Not a link: URLs, anchors, and text in code that only looks like one.
            if target.contains("://")
                || target.starts_with('#')
                || target.starts_with("mailto:")
                || target.is_empty()
                || target.contains(['|', ' ', '*', '"'])
            {
                continue;
            }
            let path = target.split('#').next().unwrap_or_default();
            let resolved = dir.join(path);
            let resolved = resolved
                .canonicalize()
                .unwrap_or_else(|e| panic!("{page}: link {target} does not resolve: {e}"));
            assert!(
                resolved.starts_with(&root),
                "{page}: link {target} points outside the repository"
            );
        }
        assert!(
            !text.contains("../shared/"),
            "{page} names the team's folder"
        );
    }
}

/// The design page states the minimum broker and store versions.
#[test]
fn the_design_states_minimum_versions() {
    let design = repo_file("shared/DESIGN.md");
    assert!(design.contains("Redis 6.2") && design.contains("RabbitMQ 3.10"));
}
