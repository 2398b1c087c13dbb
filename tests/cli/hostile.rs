//! Hostile input: every case ends with a clear error, quickly, never a panic or a hang.
//! The time bound is generous (a hang guard, not a benchmark).

use super::*;
use std::time::{Duration, Instant};

fn rejects(tag: &str, content: &[u8], want: &str) {
    let s = Scratch::new(&format!("hostile-{tag}"));
    let p = s.write("input.yaml", content);
    let start = Instant::now();
    let out = run(&["policy", "validate", p.to_str().unwrap()]);
    let took = start.elapsed();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{tag}: {text}{}", stderr(&out));
    assert!(text.contains(want), "{tag}: expected {want:?} in:\n{text}");
    assert!(
        !stderr(&out).contains("panicked"),
        "{tag} panicked: {}",
        stderr(&out)
    );
    assert!(took < Duration::from_secs(5), "{tag} took {took:?}");
}

#[test]
fn alias_bomb() {
    let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb += &format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        );
    }
    rejects(
        "alias",
        bomb.as_bytes(),
        "expand to more than 10000 nodes (an alias bomb?)",
    );
}

#[test]
fn fifty_megabyte_file() {
    let big = vec![b'#'; 50 * 1024 * 1024];
    rejects("big", &big, "over the 4194304-byte limit for policy files");
}

#[test]
fn fifty_megabytes_on_stdin() {
    let big = vec![b'a'; 50 * 1024 * 1024];
    let start = Instant::now();
    let out = run_stdin(&["policy", "validate", "-"], &big);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out)
            .contains("<stdin>:1:1: error: file is 4194305 bytes, over the 4194304-byte limit"),
        "{}",
        stdout(&out)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn deep_nesting() {
    let deep = "a: ".to_string() + &"[".repeat(10_000) + &"]".repeat(10_000) + "\n";
    rejects(
        "deep-flow",
        deep.as_bytes(),
        "nesting deeper than 64 levels",
    );
    let mut block = String::new();
    for i in 0..300 {
        block += &" ".repeat(i);
        block += "k:\n";
    }
    rejects(
        "deep-block",
        block.as_bytes(),
        "nesting deeper than 64 levels",
    );
}

#[test]
fn nul_bytes_and_non_utf8() {
    rejects(
        "nul",
        b"apiVersion: v1\nkind: \x00Policy\n",
        "input.yaml:2:7: error: NUL byte: this is a binary file, not YAML",
    );
    rejects(
        "latin1",
        b"metadata:\n  name: caf\xe9\n",
        "input.yaml:2:12: error: not UTF-8 text: invalid byte (policies must be UTF-8 YAML)",
    );
}

#[test]
fn empty_and_comment_only_files() {
    rejects("empty", b"", "no YAML documents in this file");
    rejects(
        "comments",
        b"# nothing here\n---\n",
        "no YAML documents in this file",
    );
}

#[test]
fn duplicate_keys() {
    rejects(
        "dup",
        b"apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nkind: KubeArmorHostPolicy\n",
        "input.yaml:3:1: error: duplicate key 'kind' (first set at 2:1)",
    );
}

#[test]
fn syntax_errors_and_odd_shapes() {
    rejects("syntax", b"spec: [unclosed\n", "error: YAML syntax error: ");
    rejects(
        "scalar",
        b"just a string\n",
        "document is a string, not a policy",
    );
    rejects("list", b"- a\n- b\n", "document is an array, not a policy");
    rejects("complex-key", b"? [a, b]\n: c\n", "unsupported mapping key");
}

#[test]
fn huge_mappings_long_strings_and_nested_anchors_stay_fast() {
    let mut labels = String::from(
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: x\n  labels:\n",
    );
    for i in 0..100_000 {
        labels += &format!("    k{i}: v\n");
    }
    labels += "    k5: again\n";
    rejects("many-keys", labels.as_bytes(), "duplicate key 'k5'");

    let long = format!(
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: x}}\nspec:\n  nodeSelector: {{matchLabels: {{a: b}}}}\n  syscalls:\n    matchSyscalls:\n    - syscall: [{}]\n",
        "a".repeat(3_000_000)
    );
    rejects("long-enum", long.as_bytes(), "is not an accepted value");

    let mut nest = String::new();
    for i in 0..60 {
        nest += &format!("&a{i} [");
    }
    nest += &"x, ".repeat(300_000);
    nest += "x";
    nest += &"]".repeat(60);
    rejects(
        "nested-anchors",
        nest.as_bytes(),
        "more than 1000000 YAML nodes",
    );
}
