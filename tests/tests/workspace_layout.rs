//! The workspace keeps its promises to users: every published crate shares the workspace
//! lints, documents its public items and has a README.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn crates() -> Vec<PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_crate_inherits_lints_and_documents_itself() {
    let dirs = crates();
    assert!(dirs.iter().any(|d| d.ends_with("siem-core")));
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let manifest: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml")).unwrap()).unwrap();
        assert_eq!(
            manifest["lints"]["workspace"].as_bool(),
            Some(true),
            "{name}: add `[lints] workspace = true`"
        );
        assert!(dir.join("README.md").exists(), "{name}: README.md missing");
        let lib = dir.join("src/lib.rs");
        if lib.exists() {
            let text = std::fs::read_to_string(lib).unwrap();
            assert!(
                text.contains("#![warn(missing_docs)]") || text.contains("#![deny(missing_docs)]"),
                "{name}: lib.rs must warn on missing docs"
            );
        }
    }
}

#[test]
fn the_trait_crate_has_no_transport_dependencies() {
    let manifest: toml::Table = toml::from_str(
        &std::fs::read_to_string(root().join("crates/siem-core/Cargo.toml")).unwrap(),
    )
    .unwrap();
    let deps = manifest["dependencies"].as_table().unwrap();
    for banned in [
        "reqwest",
        "hyper",
        "rustls",
        "aws-config",
        "aws-sdk-secretsmanager",
    ] {
        assert!(
            !deps.contains_key(banned),
            "siem-core must not depend on {banned}"
        );
    }
}

#[tokio::test]
async fn the_reference_memory_sink_passes_the_conformance_suite() {
    use siem_core::testing::{conformance, MemorySink};
    let sink = MemorySink::new("reference").with_max_events_per_request(4);
    conformance::check_encoding(&sink).unwrap();
    conformance::check_delivery(&sink, None).await.unwrap();
}
