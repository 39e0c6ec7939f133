use super::*;
use serde_json::json;

fn canon_of(text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    canonical_string(&v).unwrap()
}

// RFC 8785 appendix B / cyberphone test vectors: number serialisation (ES6 Number.toString).
#[test]
fn rfc8785_numbers() {
    let cases = [
        ("0", "0"),
        ("-0", "0"),
        ("1e30", "1e+30"),
        ("4.50", "4.5"),
        ("0.002", "0.002"),
        ("1e-7", "1e-7"),
        ("0.000001", "0.000001"),
        ("333333333.33333329", "333333333.3333333"),
        ("1E21", "1e+21"),
        ("1E20", "100000000000000000000"),
        ("9007199254740992", "9007199254740992"),
        ("295147905179352830000", "295147905179352830000"),
        ("-5e-324", "-5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
    ];
    for (input, want) in cases {
        assert_eq!(canon_of(input), want, "number {input}");
    }
}

// RFC 8785 §3.2.3: properties sorted by their UTF-16 code units, not by UTF-8 bytes.
#[test]
fn rfc8785_utf16_key_ordering() {
    let input = r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#;
    let got = canon_of(input);
    let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(got, want);
}

// RFC 8785 §3.2.2.2: string escapes — only the mandatory ones, lowercase \u00xx for controls.
#[test]
fn rfc8785_string_escapes() {
    let input = r#"{"a":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","b":"\u0008\u0009\u000c\u000d\u001f"}"#;
    let got = canon_of(input);
    assert_eq!(
        got,
        "{\"a\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\"b\":\"\\b\\t\\f\\r\\u001f\"}"
    );
}

// RFC 8785 §3.2.4 sample: nested structures, literals, whitespace removed.
#[test]
fn rfc8785_structures() {
    let input = r#"{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"#;
    let want = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(canon_of(input), want);
}

#[test]
fn digest_is_key_order_independent_and_spelled() {
    let a = digest(&json!({"b": 1, "a": [1, 2]})).unwrap();
    let b = digest(&json!({"a": [1, 2], "b": 1})).unwrap();
    assert_eq!(a, b);
    assert!(parse_digest(&a).is_ok());
    // sha256 of the canonical text {"a":[1,2],"b":1}
    assert_eq!(a, sha256_bytes(br#"{"a":[1,2],"b":1}"#));
    assert_ne!(a, digest(&json!({"a": [2, 1], "b": 1})).unwrap());
}

#[test]
fn bad_digests_are_refused() {
    for bad in [
        "",
        "sha256:",
        "sha1:abcd",
        "sha256:ABCDEF",
        &format!("sha256:{}", "g".repeat(64)),
    ] {
        let err = parse_digest(bad).unwrap_err();
        assert_eq!(err.code(), "CANON_BAD_DIGEST");
    }
    assert_eq!(short_id(&sha256_bytes(b"x")).len(), 12);
}
