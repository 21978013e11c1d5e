//! Property: whatever the order of `--config` layers, appended rules keep
//! their own `file:line` and come out in layer order, the highest layer wins
//! for scalars, and loading is deterministic.

use proptest::prelude::*;
use warden::config::{self, LayerKind, LoadOptions, RuleDecision};

#[derive(Debug, Clone)]
struct LayerSpec {
    sandbox_mode: Option<&'static str>,
    rules: Vec<(&'static str, RuleDecision)>,
}

fn decision() -> impl Strategy<Value = RuleDecision> {
    prop_oneof![
        Just(RuleDecision::Allow),
        Just(RuleDecision::Prompt),
        Just(RuleDecision::Forbidden)
    ]
}

fn layer() -> impl Strategy<Value = LayerSpec> {
    (
        proptest::option::of(prop_oneof![Just("read-only"), Just("workspace-write")]),
        proptest::collection::vec(
            (
                prop_oneof![Just("alpha"), Just("beta"), Just("gamma")],
                decision(),
            ),
            0..4,
        ),
    )
        .prop_map(|(sandbox_mode, rules)| LayerSpec {
            sandbox_mode,
            rules,
        })
}

/// The layer's TOML and the line of each `[[command_rules]]` header.
fn render(spec: &LayerSpec) -> (String, Vec<u32>) {
    let mut text = String::from("# generated\n");
    if let Some(mode) = spec.sandbox_mode {
        text.push_str(&format!("sandbox_mode = \"{mode}\"\n"));
    }
    let mut lines = Vec::new();
    for (word, d) in &spec.rules {
        text.push('\n');
        lines.push(text.lines().count() as u32 + 1);
        text.push_str(&format!(
            "[[command_rules]]\npattern = [\"{word}\", \"run\"]\ndecision = \"{}\"\nmatch = [\"{word} run now\"]\n",
            d.as_str()
        ));
    }
    (text, lines)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn layer_order_is_respected_and_sources_kept(
        (specs, order) in proptest::collection::vec(layer(), 1..5)
            .prop_flat_map(|specs| {
                let n = specs.len();
                (Just(specs), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
            })
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        let mut header_lines = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let (text, lines) = render(spec);
            let path = dir.path().join(format!("layer{i}.toml"));
            std::fs::write(&path, text).unwrap();
            files.push(path);
            header_lines.push(lines);
        }
        let opts = LoadOptions {
            config_files: order.iter().map(|&i| files[i].clone()).collect(),
            ..LoadOptions::builtin("ci")
        };
        let base = config::load(&LoadOptions::builtin("ci")).unwrap().config.command_rules.len();
        let loaded = config::load(&opts).unwrap();

        // Appended rules: in layer order, each with its own file:line.
        let added = &loaded.config.command_rules[base..];
        let mut expected = Vec::new();
        for &i in &order {
            for (k, (word, d)) in specs[i].rules.iter().enumerate() {
                expected.push((format!("{}:{}", files[i].display(), header_lines[i][k]), *word, *d));
            }
        }
        prop_assert_eq!(added.len(), expected.len());
        for (rule, (source, word, d)) in added.iter().zip(&expected) {
            prop_assert_eq!(rule.source.to_string(), source.clone());
            prop_assert_eq!(rule.decision, *d);
            prop_assert_eq!(rule.pattern[0].matches(word), true);
            prop_assert!(!rule.managed);
        }

        // Scalars: the last layer in order that sets it wins.
        let setter = order.iter().rev().find(|&&i| specs[i].sandbox_mode.is_some());
        let p = loaded.provenance_of("sandbox_mode").unwrap();
        match setter {
            Some(&i) => {
                prop_assert_eq!(loaded.config.sandbox_mode.as_str(), specs[i].sandbox_mode.unwrap());
                prop_assert_eq!(p.layer, LayerKind::ConfigFile);
                prop_assert_eq!(p.source.as_ref().unwrap().file.clone(), files[i].display().to_string());
            }
            None => prop_assert_eq!(p.layer, LayerKind::Builtin),
        }

        // Deterministic.
        let again = config::load(&opts).unwrap();
        prop_assert_eq!(&loaded.digest(), &again.digest());
        prop_assert_eq!(&loaded.provenance, &again.provenance);
    }
}
