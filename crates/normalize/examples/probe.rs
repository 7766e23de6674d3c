fn main() {
    let mut n = oktaflow_normalize::Normalizer::default();
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let msg = v["input"]["message"].as_str().map(str::to_owned).unwrap_or(text);
        let mut out = Vec::new();
        n.normalize_into(msg.as_bytes(), &mut out).unwrap();
        println!("{}", String::from_utf8(out).unwrap());
    }
}
#[allow(dead_code)]
fn unused() {}
