//! A minimal MaxMind DB writer for tests (format: MaxMind DB File Format
//! Specification 2.0): IPv4 search tree with 24-bit records, a data section
//! and the metadata map. Enough to build tiny GeoLite2-like City/ASN databases.

use std::net::Ipv4Addr;

/// A value of the MaxMind DB data section.
#[derive(Debug, Clone)]
pub enum V {
    Str(String),
    F64(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(String, V)>),
    Arr(Vec<V>),
}

/// `V::Map` from pairs.
pub fn map(pairs: Vec<(&str, V)>) -> V {
    V::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `V::Str`.
pub fn s(text: &str) -> V {
    V::Str(text.to_owned())
}

fn control(out: &mut Vec<u8>, type_id: u8, size: usize) {
    let (size_bits, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if type_id <= 7 {
        out.push((type_id << 5) | size_bits);
    } else {
        out.push(size_bits);
        out.push(type_id - 7);
    }
    out.extend_from_slice(&extra);
}

fn unsigned(out: &mut Vec<u8>, type_id: u8, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, type_id, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

/// Encodes one value.
pub fn encode(v: &V, out: &mut Vec<u8>) {
    match v {
        V::Str(text) => {
            control(out, 2, text.len());
            out.extend_from_slice(text.as_bytes());
        }
        V::F64(f) => {
            control(out, 3, 8);
            out.extend_from_slice(&f.to_be_bytes());
        }
        V::U16(n) => unsigned(out, 5, u64::from(*n)),
        V::U32(n) => unsigned(out, 6, u64::from(*n)),
        V::U64(n) => unsigned(out, 9, *n),
        V::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(&V::Str(k.clone()), out);
                encode(v, out);
            }
        }
        V::Arr(items) => {
            control(out, 11, items.len());
            for item in items {
                encode(item, out);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds an IPv4 database mapping each (non-overlapping) network to a value.
pub fn build(database_type: &str, networks: &[(Ipv4Addr, u8, V)]) -> Vec<u8> {
    let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
    let mut data = Vec::new();
    let mut offsets = Vec::new();
    for (index, (addr, prefix, value)) in networks.iter().enumerate() {
        offsets.push(data.len());
        encode(value, &mut data);
        let bits = u32::from(*addr);
        let mut node = 0;
        for depth in 0..*prefix {
            let bit = ((bits >> (31 - depth)) & 1) as usize;
            if depth + 1 == *prefix {
                nodes[node][bit] = Record::Data(index);
            } else {
                node = match nodes[node][bit] {
                    Record::Node(next) => next,
                    _ => {
                        nodes.push([Record::Empty; 2]);
                        let next = nodes.len() - 1;
                        nodes[node][bit] = Record::Node(next);
                        next
                    }
                };
            }
        }
    }
    let node_count = nodes.len();
    let mut out = Vec::new();
    for node in &nodes {
        for record in node {
            let value = match *record {
                Record::Empty => node_count,
                Record::Node(i) => i,
                Record::Data(i) => node_count + 16 + offsets[i],
            };
            out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    let metadata = map(vec![
        ("binary_format_major_version", V::U16(2)),
        ("binary_format_minor_version", V::U16(0)),
        ("build_epoch", V::U64(1_700_000_000)),
        ("database_type", s(database_type)),
        (
            "description",
            map(vec![("en", s("oktaflow test database"))]),
        ),
        ("ip_version", V::U16(4)),
        ("languages", V::Arr(vec![s("en")])),
        ("node_count", V::U32(node_count as u32)),
        ("record_size", V::U16(24)),
    ]);
    encode(&metadata, &mut out);
    out
}
