//! The AppArmor enforcer's profiles: golden text for the policies in tests/apparmor/, and
//! `apparmor_parser` (parse and compile, no kernel load) accepting every profile knoxctl
//! generates for them, for the example policies and for the policy-templates corpus.
//!
//! The host kernel has no AppArmor, so the parser compiles against the feature set Debian
//! ships (/usr/share/apparmor-features/features) with `--skip-kernel-load`. Rewrite the
//! golden files after a deliberate change with `KNOXCTL_BLESS=1 cargo test --test apparmor`.
//!
//! Every profile set is generated as the agent generates it, with knoxctl's own programs
//! exempt ([`EXEMPT`]: fixed paths, so the text is the same on every machine).

mod common;

use knoxctl::enforce::Postures;
use knoxctl::enforce::apparmor::profile::{self, Exempt, Features, Profiles};
use knoxctl::policy::matcher::Posture;
use knoxctl::policy::normalize::RuleSet;
use knoxctl::policy::validate::{Options, validate_bytes};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FEATURES: &str = "/usr/share/apparmor-features/features";

/// knoxctl's own programs, as installed in the VM.
fn exempt() -> Exempt {
    Exempt {
        parser: Some("/usr/sbin/apparmor_parser".into()),
        agent: Some("/usr/local/bin/knoxctl".into()),
    }
}

/// The profiles the agent would load for `set` (paths as written).
fn generate(set: &RuleSet, postures: &Postures) -> Profiles {
    generate_resolved(set, postures, &|_| None)
}

/// The same on a merged-/usr system, where /bin/X is /usr/bin/X.
fn generate_merged(set: &RuleSet, postures: &Postures) -> Profiles {
    generate_resolved(set, postures, &|p| {
        p.strip_prefix("/bin/").map(|r| format!("/usr/bin/{r}"))
    })
}

fn generate_resolved(set: &RuleSet, postures: &Postures, resolve: profile::Resolve) -> Profiles {
    profile::generate(
        set,
        postures,
        &profile::Options {
            resolve,
            exempt: exempt(),
            features: Features::default(),
        },
    )
}

fn fixtures() -> Vec<PathBuf> {
    fixtures_in("tests/apparmor")
}

/// Container fixtures: each file's stem is the container's name.
fn container_fixtures() -> Vec<PathBuf> {
    fixtures_in("tests/apparmor/containers")
}

fn fixtures_in(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

/// `# postures: file=block network=block capabilities=block` on a fixture's first line.
fn postures(text: &str) -> Postures {
    let mut p = Postures::default();
    if let Some(rest) = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# postures:"))
    {
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=').expect("key=value");
            let v = match v {
                "block" => Posture::Block,
                "audit" => Posture::Audit,
                other => panic!("posture {other}"),
            };
            match k {
                "file" => p.file = v,
                "network" => p.network = v,
                "capabilities" => p.capabilities = v,
                other => panic!("category {other}"),
            }
        }
    }
    p
}

/// The valid policies of one file as one rule set (None when it has none).
fn rule_set(path: &Path, bytes: &[u8]) -> Option<RuleSet> {
    let r = validate_bytes(&path.display().to_string(), bytes, Options::default());
    let policies: Vec<_> = r.policies().cloned().collect();
    (!policies.is_empty()).then(|| RuleSet::from_policies(&policies))
}

/// The profile text and what the generator reported, as the golden files hold them.
fn golden_text(set: &RuleSet, p: &Profiles) -> String {
    let mut s = p.text.clone();
    s.push_str("\n# --- report (not part of the profile) ---\n");
    for i in &p.enforced {
        s.push_str(&format!("# enforced: {}\n", set.rules[*i].field));
    }
    for (i, why) in &p.unenforceable {
        s.push_str(&format!(
            "# unenforceable: {}: {why}\n",
            set.rules[*i].field
        ));
    }
    for n in &p.notes {
        s.push_str(&format!("# note: {n}\n"));
    }
    for r in &p.raw {
        s.push_str(&format!("# raw rules: {r}\n"));
    }
    s
}

/// A container's profile as the agent generates it, named after the fixture.
fn container_profile(yaml: &Path, set: &RuleSet, postures: &Postures) -> Profiles {
    let name = yaml.file_stem().unwrap().to_str().unwrap();
    profile::container(name, set, postures, &Features::default())
}

#[test]
fn generated_profiles_match_the_golden_files() {
    let bless = std::env::var_os("KNOXCTL_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    let host = fixtures().into_iter().map(|f| (f, false));
    for (yaml, container) in host.chain(container_fixtures().into_iter().map(|f| (f, true))) {
        let text = std::fs::read_to_string(&yaml).unwrap();
        let set = rule_set(&yaml, text.as_bytes())
            .unwrap_or_else(|| panic!("{} has no valid policy", yaml.display()));
        let p = if container {
            container_profile(&yaml, &set, &postures(&text))
        } else {
            generate(&set, &postures(&text))
        };
        let got = golden_text(&set, &p);
        let golden = yaml.with_extension("profile");
        if bless {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{} differs from what is generated:\n{got}",
                golden.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(KNOXCTL_BLESS=1 rewrites them)",
        failures.join("\n")
    );
}

/// Runs the parser in compile-only mode on `text`; Err holds its complaint.
fn parse(parser: &Path, text: &str) -> Result<(), String> {
    let mut cmd = Command::new(parser);
    // The configuration of the machine must not matter: its own parser.conf could point
    // at another feature set or cache.
    cmd.args([
        "--config-file=/dev/null",
        "--skip-kernel-load",
        "--skip-cache",
    ]);
    if Path::new(FEATURES).exists() {
        cmd.args(["--features-file", FEATURES]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn apparmor_parser_accepts_every_generated_profile() {
    let parser = knoxctl::enforce::apparmor::parser();
    if !common::prerequisite(
        parser.is_some(),
        "apparmor_parser (Debian package apparmor)",
    ) {
        return;
    }
    let parser = parser.unwrap();
    // A profile the parser refuses must make this test fail: check that it would.
    assert!(parse(&parser, "profile knoxctl-host /** { nonsense }\n").is_err());

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = fixtures();
    files.extend(container_fixtures());
    yaml_files(&root.join("examples/policies"), &mut files);
    if let Some(dir) = common::conformance_dir() {
        yaml_files(&dir.join("policy-templates"), &mut files);
    }
    let block = Postures {
        file: Posture::Block,
        network: Posture::Block,
        capabilities: Posture::Block,
    };
    let (mut checked, mut failures, mut raw) = (0, Vec::new(), 0);
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let Some(set) = rule_set(f, &bytes) else {
            continue;
        };
        // Block postures with /bin resolved to /usr/bin (sources then have two
        // spellings), default postures with paths as written.
        for postures in [Postures::default(), block] {
            let p = if postures == block {
                generate_merged(&set, &postures)
            } else {
                generate(&set, &postures)
            };
            checked += 1;
            raw += usize::from(!p.raw.is_empty());
            if let Err(e) = parse(&parser, &p.text) {
                failures.push(format!("{} ({postures:?}): {e}\n{}", f.display(), p.text));
            }
            // The same rules as a container's profile.
            let c = container_profile(f, &set, &postures);
            checked += 1;
            if let Err(e) = parse(&parser, &c.text) {
                failures.push(format!(
                    "{} as a container ({postures:?}): {e}\n{}",
                    f.display(),
                    c.text
                ));
            }
        }
    }
    eprintln!("apparmor_parser compiled {checked} generated profile sets, {raw} with raw rules");
    // The raw-rule fixtures (spec.apparmor, pasted as written) are among them.
    assert!(raw >= 2, "only {raw} profile sets held raw rules");
    assert!(
        checked >= 4 * 20,
        "only {checked} profile sets were generated"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Raw rules the parser refuses fail the apply before anything is loaded, naming the
/// policy, the field and the line; a rule the parser takes passes, alone and in the
/// profiles that hold it.
#[test]
fn raw_rules_the_parser_refuses_name_their_policy_field_and_line() {
    let parser = knoxctl::enforce::apparmor::parser();
    if !common::prerequisite(
        parser.is_some(),
        "apparmor_parser (Debian package apparmor)",
    ) {
        return;
    }
    let parser = parser.unwrap();
    let doc = |name: &str, raw: &str| {
        format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: {name}\nspec:\n  nodeSelector:\n    matchLabels: {{kubearmor.io/hostname: '*'}}\n  file:\n    matchPaths:\n    - path: /etc/knox-file\n  action: Block\n  apparmor: |\n{raw}"
        )
    };
    let good = doc("raw-good", "    deny /etc/knox-raw/** r,\n");
    let bad = doc(
        "raw-bad",
        "    deny /etc/knox-raw/** r,\n    deny /etc/knox-raw2 rz,\n",
    );
    let set = rule_set(Path::new("good.yaml"), good.as_bytes()).unwrap();
    let p = generate(&set, &Postures::default());
    assert!(
        p.text.contains("  audit deny /etc/knox-raw/** r,\n"),
        "{}",
        p.text
    );
    knoxctl::enforce::apparmor::check_raw(&parser, &set, &p.text).unwrap();

    let all = format!("{good}---\n{bad}");
    let set = rule_set(Path::new("both.yaml"), all.as_bytes()).unwrap();
    let p = generate(&set, &Postures::default());
    let err = knoxctl::enforce::apparmor::check_raw(&parser, &set, &p.text).unwrap_err();
    assert!(
        err.starts_with(
            "policy raw-bad: spec.apparmor (line 2: \"deny /etc/knox-raw2 rz,\"): apparmor_parser refuses these raw rules: "
        ),
        "{err}"
    );
    assert!(!err.contains("raw-good"), "{err}");
}
