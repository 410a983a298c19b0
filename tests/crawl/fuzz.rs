//! Arbitrary text never panics any crawl parser, and line numbers stay inside the input.

use proptest::prelude::*;
use sonic_lock::crawl::text::Sink;
use sonic_lock::crawl::{debcontrol, dockerfile, gitmodules, gomod, jinja, make, python, shell};
use sonic_lock::manifest::Context;
use std::collections::{BTreeSet, HashMap};

fn alphabet() -> impl Strategy<Value = String> {
    // Syntax-heavy characters, multi-byte characters and newlines, so that
    // quotes, continuations, tags and references are cut in odd places.
    proptest::collection::vec(
        prop_oneof![
            Just("\\\n".to_string()),
            Just("\n".to_string()),
            Just("$(".to_string()),
            Just("${".to_string()),
            Just("{%".to_string()),
            Just("%}".to_string()),
            Just("{{".to_string()),
            Just("}}".to_string()),
            Just("apt-get install -y ".to_string()),
            Just("pip3 install ".to_string()),
            Just("git clone ".to_string()),
            Just("RUN ".to_string()),
            Just("ifeq (".to_string()),
            Just("endif\n".to_string()),
            Just("define X\n".to_string()),
            "[a-z=:;&|'\"()<>#@,.*%/ \t-]{0,6}",
            "[é€😀]{0,2}",
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

fn lines(s: &str) -> u32 {
    u32::try_from(s.matches('\n').count() + 1).unwrap()
}

proptest! {
    // Regressions live beside this file; by default proptest keeps them in
    // tests/proptest-regressions/<module>.txt, one name space for all binaries.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::with_cases(400)
    })]

    #[test]
    fn parsers_never_panic(text in alphabet()) {
        let ctx = Context::default();
        let max = lines(&text);
        let mut s = Sink::new("f");
        let mut st = shell::ShellState::default();
        shell::scan(&text, 1, &mut st, &ctx, &mut s);
        for d in &s.deps {
            prop_assert!(d.origin.line >= 1 && d.origin.line <= max, "line {} of {}", d.origin.line, max);
        }
        let mut s = Sink::new("f");
        let vars: HashMap<String, String> = [("A".to_string(), "x".to_string())].into();
        let out = jinja::render(&text, &vars, &mut s);
        prop_assert_eq!(lines(&out), max);
        let mut s = Sink::new("f");
        dockerfile::parse(&text, &ctx, &BTreeSet::new(), &mut s);
        let mut e = make::Evaluator::new(None, None);
        let mut s = Sink::new("f");
        e.eval_text(&text, &mut s);
        e.keep_undefined = true;
        let _ = e.expand(&text);
        let mut s = Sink::new("f");
        python::requirements_txt(&text, &ctx, &mut s);
        python::setup_py(&text, &ctx, &mut s);
        debcontrol::parse(&text, &ctx, &mut s);
        gomod::parse(&text, Some(&gomod::sum_hashes(&text)), &ctx, &mut s);
        gitmodules::parse(&text, &mut s);
    }
}
