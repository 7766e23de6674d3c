//! The simulated organization: users, admins, applications, groups, network
//! locations and user agents, built once from the seed. Everything an event
//! repeats (actor objects, geo contexts, user-agent objects) is pre-rendered as a
//! JSON fragment here so that generating an event is mostly concatenation.

use super::json::{fragment, JsonWriter};
use crate::rng::Rng;

/// A place clients connect from, with a consistent geo context and network owner.
pub(crate) struct Location {
    /// `{"city":..,"state":..,"country":..,"postalCode":..,"geolocation":{..}}`
    pub(crate) geo_json: String,
    /// `{"asNumber":..,"asOrg":..,"isp":..,"domain":..,"isProxy":..}`
    pub(crate) security_json: String,
    /// First two octets of the IPv4 range this network announces.
    ipv4_prefix: [u8; 2],
    /// The /48 IPv6 prefix (e.g. `2a01:cb00:8a1`) when the network has IPv6.
    ipv6_prefix: Option<&'static str>,
    /// Whether the network is a hosting/VPN provider (used by threat events).
    pub(crate) hosting: bool,
    /// Latitude of `geo_json`, in degrees.
    pub(crate) lat: f64,
    /// Longitude of `geo_json`, in degrees.
    pub(crate) lon: f64,
}

impl Location {
    /// A client address on this network; IPv6 with probability `v6_share` when available.
    pub(crate) fn address(&self, rng: &mut Rng, v6_share: f64) -> (String, bool) {
        match self.ipv6_prefix {
            Some(prefix) if rng.chance(v6_share) => (
                format!(
                    "{prefix}:{:x}:{:x}:{:x}:{:x}:{:x}",
                    rng.below(0x10000),
                    rng.below(0x10000),
                    rng.below(0x10000),
                    rng.below(0x10000),
                    rng.below(0x10000)
                ),
                true,
            ),
            _ => (
                format!(
                    "{}.{}.{}.{}",
                    self.ipv4_prefix[0],
                    self.ipv4_prefix[1],
                    rng.below(256),
                    1 + rng.below(254)
                ),
                false,
            ),
        }
    }
}

/// `(city, state, country, postal code, lat, lon, AS number, AS org, ISP, domain, IPv4 /16, IPv6 /48, hosting)`
type LocationRow = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    f64,
    f64,
    u32,
    &'static str,
    &'static str,
    &'static str,
    [u8; 2],
    Option<&'static str>,
    bool,
);

const LOCATIONS: &[LocationRow] = &[
    (
        "San Francisco",
        "California",
        "United States",
        Some("94107"),
        37.7697,
        -122.3933,
        7922,
        "comcast",
        "Comcast Cable Communications LLC",
        "comcast.net",
        [73, 162],
        Some("2601:646:8f00"),
        false,
    ),
    (
        "Oakland",
        "California",
        "United States",
        Some("94612"),
        37.8044,
        -122.2712,
        7018,
        "at&t services",
        "AT&T Corp.",
        "att.net",
        [99, 37],
        Some("2600:1700:3c40"),
        false,
    ),
    (
        "New York",
        "New York",
        "United States",
        Some("10001"),
        40.7506,
        -73.9972,
        701,
        "verizon business",
        "Verizon Fios",
        "verizon.net",
        [100, 2],
        Some("2600:4040:2a1b"),
        false,
    ),
    (
        "Brooklyn",
        "New York",
        "United States",
        Some("11201"),
        40.6944,
        -73.9906,
        12271,
        "charter communications",
        "Spectrum",
        "rr.com",
        [67, 243],
        None,
        false,
    ),
    (
        "Chicago",
        "Illinois",
        "United States",
        Some("60601"),
        41.8858,
        -87.6181,
        7922,
        "comcast",
        "Comcast Cable Communications LLC",
        "comcast.net",
        [98, 226],
        Some("2601:240:c400"),
        false,
    ),
    (
        "Austin",
        "Texas",
        "United States",
        Some("78701"),
        30.2713,
        -97.7426,
        11427,
        "charter communications",
        "Spectrum",
        "rr.com",
        [70, 114],
        None,
        false,
    ),
    (
        "Seattle",
        "Washington",
        "United States",
        Some("98101"),
        47.6101,
        -122.3343,
        20115,
        "charter communications",
        "Charter Communications",
        "charter.com",
        [97, 113],
        None,
        false,
    ),
    (
        "Denver",
        "Colorado",
        "United States",
        Some("80202"),
        39.7525,
        -104.9995,
        209,
        "centurylink communications",
        "CenturyLink",
        "centurylink.net",
        [174, 16],
        None,
        false,
    ),
    (
        "Boston",
        "Massachusetts",
        "United States",
        Some("02110"),
        42.3570,
        -71.0514,
        7922,
        "comcast",
        "Comcast Cable Communications LLC",
        "comcast.net",
        [24, 61],
        Some("2601:19b:4a00"),
        false,
    ),
    (
        "Ashburn",
        "Virginia",
        "United States",
        Some("20149"),
        39.0469,
        -77.4903,
        14618,
        "amazon.com, inc.",
        "Amazon.com, Inc.",
        "amazonaws.com",
        [3, 84],
        Some("2600:1f18:63b"),
        true,
    ),
    (
        "Boardman",
        "Oregon",
        "United States",
        Some("97818"),
        45.8399,
        -119.7006,
        16509,
        "amazon.com, inc.",
        "Amazon.com, Inc.",
        "amazonaws.com",
        [44, 234],
        Some("2600:1f14:9a2"),
        true,
    ),
    (
        "Toronto",
        "Ontario",
        "Canada",
        Some("M5H"),
        43.6510,
        -79.3830,
        577,
        "bell canada",
        "Bell Canada",
        "bell.ca",
        [142, 114],
        None,
        false,
    ),
    (
        "Montréal",
        "Quebec",
        "Canada",
        Some("H2Y"),
        45.5017,
        -73.5673,
        5769,
        "videotron telecom ltee",
        "Videotron",
        "videotron.ca",
        [24, 203],
        None,
        false,
    ),
    (
        "London",
        "England",
        "United Kingdom",
        Some("EC2V"),
        51.5141,
        -0.0930,
        2856,
        "british telecommunications plc",
        "BT",
        "bt.com",
        [86, 146],
        Some("2a00:23c8:1c81"),
        false,
    ),
    (
        "Manchester",
        "England",
        "United Kingdom",
        Some("M1"),
        53.4809,
        -2.2374,
        5089,
        "virgin media limited",
        "Virgin Media",
        "virginm.net",
        [82, 14],
        None,
        false,
    ),
    (
        "Paris",
        "Ile-de-France",
        "France",
        Some("75001"),
        48.8634,
        2.3411,
        3215,
        "orange",
        "Orange",
        "orange.fr",
        [90, 35],
        Some("2a01:cb00:8a1"),
        false,
    ),
    (
        "Lyon",
        "Auvergne-Rhone-Alpes",
        "France",
        Some("69002"),
        45.7485,
        4.8467,
        12322,
        "free sas",
        "Free SAS",
        "free.fr",
        [88, 160],
        Some("2a01:e0a:3b2"),
        false,
    ),
    (
        "Berlin",
        "Land Berlin",
        "Germany",
        Some("10117"),
        52.5170,
        13.3889,
        3320,
        "deutsche telekom ag",
        "Deutsche Telekom AG",
        "telekom.de",
        [79, 192],
        Some("2003:e5:6f1a"),
        false,
    ),
    (
        "München",
        "Bavaria",
        "Germany",
        Some("80331"),
        48.1371,
        11.5754,
        3209,
        "vodafone gmbh",
        "Vodafone GmbH",
        "vodafone.de",
        [188, 192],
        None,
        false,
    ),
    (
        "Frankfurt am Main",
        "Hesse",
        "Germany",
        Some("60313"),
        50.1155,
        8.6842,
        24940,
        "hetzner online gmbh",
        "Hetzner Online GmbH",
        "hetzner.com",
        [116, 202],
        Some("2a01:4f8:c17"),
        true,
    ),
    (
        "Amsterdam",
        "North Holland",
        "Netherlands",
        Some("1012"),
        52.3740,
        4.8897,
        1136,
        "kpn b.v.",
        "KPN",
        "kpn.com",
        [77, 161],
        None,
        false,
    ),
    (
        "Madrid",
        "Madrid",
        "Spain",
        Some("28013"),
        40.4168,
        -3.7038,
        3352,
        "telefonica de espana",
        "Telefonica de Espana",
        "telefonica.es",
        [83, 43],
        None,
        false,
    ),
    (
        "Stockholm",
        "Stockholm",
        "Sweden",
        Some("111 20"),
        59.3293,
        18.0686,
        3301,
        "telia company ab",
        "Telia Sverige",
        "telia.com",
        [90, 224],
        Some("2001:2043:5c1"),
        false,
    ),
    (
        "København",
        "Capital Region",
        "Denmark",
        Some("1050"),
        55.6761,
        12.5683,
        3292,
        "tdc holding a/s",
        "TDC",
        "tdc.dk",
        [87, 49],
        None,
        false,
    ),
    (
        "Warszawa",
        "Mazovia",
        "Poland",
        Some("00-001"),
        52.2297,
        21.0122,
        5617,
        "orange polska spolka akcyjna",
        "Orange Polska",
        "orange.pl",
        [83, 24],
        None,
        false,
    ),
    (
        "Bengaluru",
        "Karnataka",
        "India",
        Some("560001"),
        12.9716,
        77.5946,
        24560,
        "bharti airtel ltd.",
        "Bharti Airtel",
        "airtel.in",
        [122, 171],
        Some("2401:4900:1c3"),
        false,
    ),
    (
        "Mumbai",
        "Maharashtra",
        "India",
        Some("400001"),
        18.9388,
        72.8354,
        55836,
        "reliance jio infocomm limited",
        "Reliance Jio",
        "jio.com",
        [49, 36],
        Some("2409:4040:e0b"),
        false,
    ),
    (
        "Singapore",
        "Central Singapore",
        "Singapore",
        Some("018989"),
        1.2800,
        103.8500,
        9506,
        "singtel fibre broadband",
        "Singtel",
        "singtel.com",
        [116, 86],
        None,
        false,
    ),
    (
        "Tokyo",
        "Tokyo",
        "Japan",
        Some("100-0001"),
        35.6895,
        139.6917,
        2516,
        "kddi corporation",
        "KDDI",
        "kddi.com",
        [106, 72],
        Some("240b:10:a2c0"),
        false,
    ),
    (
        "Sydney",
        "New South Wales",
        "Australia",
        Some("2000"),
        -33.8688,
        151.2093,
        1221,
        "telstra corporation ltd",
        "Telstra",
        "telstra.net",
        [101, 160],
        Some("2001:8003:e4d"),
        false,
    ),
    (
        "São Paulo",
        "Sao Paulo",
        "Brazil",
        Some("01310"),
        -23.5614,
        -46.6559,
        28573,
        "claro nxt telecomunicacoes ltda",
        "Claro NXT",
        "claro.com.br",
        [177, 12],
        None,
        false,
    ),
    (
        "Ciudad de México",
        "Mexico City",
        "Mexico",
        Some("06000"),
        19.4326,
        -99.1332,
        8151,
        "uninet s.a. de c.v.",
        "Telmex",
        "telmex.com",
        [187, 189],
        None,
        false,
    ),
    (
        "Lagos",
        "Lagos",
        "Nigeria",
        None,
        6.4541,
        3.3947,
        29465,
        "mtn nigeria communication limited",
        "MTN Nigeria",
        "mtnnigeria.net",
        [102, 89],
        None,
        false,
    ),
    (
        "Moscow",
        "Moscow",
        "Russia",
        Some("101000"),
        55.7522,
        37.6156,
        12389,
        "rostelecom",
        "Rostelecom",
        "rt.ru",
        [95, 24],
        None,
        false,
    ),
    (
        "Bucharest",
        "Bucuresti",
        "Romania",
        None,
        44.4323,
        26.1063,
        9009,
        "m247 europe srl",
        "M247 Europe",
        "m247.com",
        [185, 220],
        None,
        true,
    ),
    (
        "Amsterdam",
        "North Holland",
        "Netherlands",
        Some("1098"),
        52.3520,
        4.9392,
        60781,
        "leaseweb netherlands b.v.",
        "LeaseWeb Netherlands",
        "leaseweb.com",
        [37, 48],
        Some("2a00:c98:2060"),
        true,
    ),
];

/// Indexes of locations where most employees live (the org is US/EU-centric).
const HOME_LOCATIONS: std::ops::Range<usize> = 0..31;

fn build_locations() -> Vec<Location> {
    LOCATIONS
        .iter()
        .map(
            |&(
                city,
                state,
                country,
                postal,
                lat,
                lon,
                asn,
                as_org,
                isp,
                domain,
                v4,
                v6,
                hosting,
            )| {
                let geo_json = fragment(|w| {
                    w.open();
                    w.kv("city", city);
                    w.kv("state", state);
                    w.kv("country", country);
                    w.kv_opt("postalCode", postal);
                    w.key("geolocation");
                    w.raw(&format!("{{\"lat\":{lat:.4},\"lon\":{lon:.4}}}"));
                    w.close();
                });
                let security_json = fragment(|w| {
                    w.open();
                    w.key("asNumber");
                    w.int(i64::from(asn));
                    w.kv("asOrg", as_org);
                    w.kv("isp", isp);
                    w.kv("domain", domain);
                    w.key("isProxy");
                    w.bool(hosting);
                    w.close();
                });
                Location {
                    geo_json,
                    security_json,
                    ipv4_prefix: v4,
                    ipv6_prefix: v6,
                    hosting,
                    lat,
                    lon,
                }
            },
        )
        .collect()
}

/// A browser or API client, with Okta's own classification of it.
pub(crate) struct UserAgent {
    /// `{"rawUserAgent":..,"os":..,"browser":..}`
    pub(crate) json: String,
    /// Okta's `client.device` value for it.
    pub(crate) device: &'static str,
}

fn user_agent(
    raw: &str,
    os: &str,
    browser: &str,
    device: &'static str,
    _mobile: bool,
) -> UserAgent {
    let json = fragment(|w| {
        w.open();
        w.kv("rawUserAgent", raw);
        w.kv("os", os);
        w.kv("browser", browser);
        w.close();
    });
    UserAgent { json, device }
}

/// Builds a few hundred distinct, realistic user agents: browser/OS/version
/// combinations plus the API clients that talk to Okta.
fn build_user_agents(rng: &mut Rng) -> Vec<UserAgent> {
    let mut uas = Vec::new();
    let win = ["Windows NT 10.0; Win64; x64"];
    let mac = ["10_15_7", "14_4_1", "13_6_6"];
    for chrome in 118..=131u32 {
        let build = 6000 + chrome * 7;
        for plat in win {
            uas.push(user_agent(
                &format!("Mozilla/5.0 ({plat}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.{build}.{} Safari/537.36", 60 + chrome % 90),
                "Windows 10",
                "CHROME",
                "Computer",
                false,
            ));
            uas.push(user_agent(
                &format!("Mozilla/5.0 ({plat}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.{}.{}", 2000 + chrome * 3, 40 + chrome % 50),
                "Windows 10",
                "EDGE_CHROMIUM",
                "Computer",
                false,
            ));
        }
        for m in mac {
            uas.push(user_agent(
                &format!("Mozilla/5.0 (Macintosh; Intel Mac OS X {m}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36"),
                &format!("Mac OS X {}", m.replace('_', ".")),
                "CHROME",
                "Computer",
                false,
            ));
        }
        uas.push(user_agent(
            &format!("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36"),
            "Linux",
            "CHROME",
            "Computer",
            false,
        ));
        for (model, android) in [("SM-S918B", 14), ("Pixel 8", 14), ("SM-A536B", 13)] {
            uas.push(user_agent(
                &format!("Mozilla/5.0 (Linux; Android {android}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Mobile Safari/537.36"),
                &format!("Android {android}"),
                "CHROME",
                "Mobile",
                true,
            ));
        }
    }
    for firefox in 115..=133u32 {
        uas.push(user_agent(
            &format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0"),
            "Windows 10",
            "FIREFOX",
            "Computer",
            false,
        ));
        uas.push(user_agent(
            &format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0"),
            "Mac OS X 10.15",
            "FIREFOX",
            "Computer",
            false,
        ));
        uas.push(user_agent(
            &format!("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0"),
            "Linux",
            "FIREFOX",
            "Computer",
            false,
        ));
    }
    for (safari, mac_os) in [
        ("16.6", "10_15_7"),
        ("17.2.1", "10_15_7"),
        ("17.4.1", "10_15_7"),
        ("17.5", "10_15_7"),
        ("18.0", "10_15_7"),
        ("18.1.1", "10_15_7"),
    ] {
        uas.push(user_agent(
            &format!("Mozilla/5.0 (Macintosh; Intel Mac OS X {mac_os}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{safari} Safari/605.1.15"),
            "Mac OS X 10.15.7",
            "SAFARI",
            "Computer",
            false,
        ));
        let ios = safari.replace('.', "_");
        for device in ["iPhone", "iPad"] {
            let cpu = if device == "iPhone" {
                "CPU iPhone OS"
            } else {
                "CPU OS"
            };
            uas.push(user_agent(
                &format!("Mozilla/5.0 ({device}; {cpu} {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{safari} Mobile/15E148 Safari/604.1"),
                &format!("iOS {safari}"),
                "MOBILE_SAFARI",
                "Mobile",
                true,
            ));
        }
    }
    for (ver, build) in [
        ("9.21.0", "9210000"),
        ("9.22.1", "9221001"),
        ("9.24.0", "9240000"),
        ("9.26.2", "9262002"),
    ] {
        uas.push(user_agent(
            &format!("Okta Verify/{ver} ({build}) Darwin/23.4.0 iPhone15,2"),
            "iOS",
            "UNKNOWN",
            "Mobile",
            true,
        ));
        uas.push(user_agent(
            &format!("OktaVerify/{ver}.{build} Android/14 (Pixel 8)"),
            "Android",
            "UNKNOWN",
            "Mobile",
            true,
        ));
    }
    for raw in [
        "okta-sdk-java/8.2.5 java/17.0.9 Linux/5.15.0-1051-aws",
        "okta-sdk-python/2.9.5 python/3.11.6 Linux/6.1.0",
        "okta-sdk-golang/2.20.0 golang/go1.21.5 linux/amd64",
        "okta-terraform/4.6.3",
        "python-requests/2.31.0",
        "python-requests/2.32.3",
        "curl/8.4.0",
        "curl/7.81.0",
        "axios/1.6.2",
        "Go-http-client/2.0",
        "PostmanRuntime/7.36.0",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
        "Microsoft Office/16.0 (Macintosh; Mac OS X 14.4; Microsoft Teams 24046.2813)",
        "Apache-HttpClient/4.5.14 (Java/11.0.21)",
        "Okta AD Agent/3.17.0.0 (Microsoft Windows NT 10.0.17763.0; .NET CLR 4.0.30319.42000; 64-bit OS; 64-bit Process)",
        "Okta-Integrations",
    ] {
        uas.push(user_agent(raw, "Unknown", "UNKNOWN", "Unknown", false));
    }
    // A stable shuffle so that "popular" agents (the low indexes users prefer)
    // are a realistic mix rather than all one browser.
    for i in (1..uas.len()).rev() {
        let j = rng.below(i + 1);
        uas.swap(i, j);
    }
    uas
}

/// A person in the directory.
pub(crate) struct User {
    /// `{"id":..,"type":"User","alternateId":..,"displayName":..,"detailEntry":null}`
    pub(crate) actor_json: String,
    /// Same identity as an `AppUser` target.
    pub(crate) app_user_json: String,
    /// Okta user id (`00u...`).
    pub(crate) id: String,
    /// `profile.login` (also the email).
    pub(crate) login: String,
    /// `profile.firstName`.
    pub(crate) first: &'static str,
    /// `profile.lastName`.
    pub(crate) last: &'static str,
    /// Index of the user's usual location.
    pub(crate) home: usize,
    /// Indexes of the user agents this user usually has.
    pub(crate) agents: [usize; 3],
    /// A stable device id (`guo...`) for device-bound events.
    pub(crate) device_id: String,
    /// The address the user usually connects from.
    pub(crate) home_ip: String,
    /// Whether `home_ip` is IPv6.
    pub(crate) home_v6: bool,
}

/// An application integration.
pub(crate) struct App {
    /// `{"id":..,"type":"AppInstance","alternateId":..,"displayName":..,"detailEntry":{..}}`
    pub(crate) target_json: String,
    /// Okta app id (`0oa...`).
    pub(crate) id: String,
    /// The instance name used in URLs (`salesforce`).
    pub(crate) name: &'static str,
    /// `SAML_2_0`, `OPENID_CONNECT`, ...
    pub(crate) sign_on_mode: &'static str,
}

/// A group.
pub(crate) struct Group {
    /// `{"id":..,"type":"UserGroup","alternateId":"unknown","displayName":..,"detailEntry":null}`
    pub(crate) target_json: String,
    /// Okta group id (`00g...`).
    pub(crate) id: String,
    /// `profile.name`.
    pub(crate) name: &'static str,
}

/// The whole simulated organization.
pub(crate) struct Org {
    pub(crate) users: Vec<User>,
    pub(crate) admins: Vec<usize>,
    pub(crate) apps: Vec<App>,
    pub(crate) groups: Vec<Group>,
    pub(crate) locations: Vec<Location>,
    pub(crate) hosting_locations: Vec<usize>,
    pub(crate) user_agents: Vec<UserAgent>,
    pub(crate) policies: Vec<String>,
    pub(crate) zones: Vec<String>,
    pub(crate) authorization_server_json: String,
    pub(crate) system_actor_json: String,
    pub(crate) support_actor_json: String,
    pub(crate) ad_agent_json: String,
    pub(crate) idp_json: String,
    /// Salt of the users' travel plans ([`super::whereabouts`]), drawn from the seed.
    pub(crate) travel_salt: u64,
}

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Christopher",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Priya",
    "Wei",
    "Hiroshi",
    "Aisha",
    "Mohammed",
    "Olga",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "François",
    "Björn",
    "Chloé",
    "Ana",
    "Mateo",
    "Yuki",
    "Fatima",
    "Chidi",
    "Ingrid",
    "Ravi",
    "Mei",
    "Nikolai",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Müller",
    "Nguyễn",
    "Kowalski",
    "Ørsted",
    "Dubois",
    "Schmidt",
    "Rossi",
    "Tanaka",
    "Patel",
    "Kim",
    "Chen",
    "O'Brien",
    "Novak",
    "Ivanova",
    "Okafor",
];
const APPS: &[(&str, &str, &str)] = &[
    ("salesforce", "Salesforce.com", "SAML_2_0"),
    ("office365", "Microsoft Office 365", "WS_FEDERATION"),
    ("google", "Google Workspace", "SAML_2_0"),
    ("slack", "Slack", "SAML_2_0"),
    ("zoomus", "Zoom", "SAML_2_0"),
    ("github_enterprise", "GitHub Enterprise Cloud", "SAML_2_0"),
    ("atlassian", "Atlassian Cloud", "SAML_2_0"),
    ("workday", "Workday", "SAML_2_0"),
    ("box", "Box", "SAML_2_0"),
    (
        "aws_account_federation",
        "AWS Account Federation",
        "SAML_2_0",
    ),
    ("servicenow_ud", "ServiceNow", "SAML_2_0"),
    ("docusign", "DocuSign", "SAML_2_0"),
    ("tableau_online", "Tableau Online", "SAML_2_0"),
    ("oidc_client", "Expense Portal", "OPENID_CONNECT"),
    ("oidc_client", "Internal Wiki", "OPENID_CONNECT"),
    ("oidc_client", "Customer Admin Console", "OPENID_CONNECT"),
    ("oidc_client", "Okta Log Collector", "OPENID_CONNECT"),
    ("bookmark", "HR Handbook", "BOOKMARK"),
    ("template_swa", "Legacy Payroll", "BROWSER_PLUGIN"),
    ("okta_enduser", "Okta Dashboard", "OPENID_CONNECT"),
    ("saasure", "Okta Admin Console", "OPENID_CONNECT"),
];
const GROUPS: &[&str] = &[
    "Everyone",
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Human Resources",
    "IT Admins",
    "Security Operations",
    "Contractors",
    "AWS Production Admins",
    "GitHub Org Members",
    "Salesforce Users",
    "VPN Users",
    "Executives",
    "Support",
    "Legal",
    "Data Science",
    "Interns",
    "EMEA",
    "APAC",
    "Remote Workers",
    "Okta Super Admins",
    "Okta Read Only Admins",
    "Zoom Licensed",
    "Service Accounts",
];
const POLICIES: &[(&str, &str)] = &[
    ("Default Policy", "OKTA_SIGN_ON"),
    ("Require MFA Off Network", "OKTA_SIGN_ON"),
    ("Admin Console Strict", "ACCESS_POLICY"),
    ("Default Password Policy", "PASSWORD"),
    ("Contractor Password Policy", "PASSWORD"),
    ("Authenticator Enrollment", "MFA_ENROLL"),
    ("Salesforce App Sign-On", "ACCESS_POLICY"),
    ("Block Legacy Authentication", "ACCESS_POLICY"),
];
const ZONES: &[(&str, &str)] = &[
    ("LegacyIpZone", "IP"),
    ("BlockedIpZone", "IP"),
    ("Corporate Offices", "IP"),
    ("Blocked Countries", "DYNAMIC"),
    ("Default Enhanced Dynamic Zone", "DYNAMIC_V2"),
];

/// Base-62 alphabet used by Okta object ids.
pub(crate) const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// An Okta object id: a 3-character type prefix plus 17 base-62 characters.
pub(crate) fn okta_id(rng: &mut Rng, prefix: &str) -> String {
    let mut s = String::with_capacity(20);
    s.push_str(prefix);
    push_base62(rng, &mut s, 20 - prefix.len());
    s
}

/// Appends `n` random base-62 characters.
pub(crate) fn push_base62(rng: &mut Rng, out: &mut String, n: usize) {
    let mut bits = rng.next_u64();
    let mut left = 10; // 10 * 6 bits per u64
    for _ in 0..n {
        if left == 0 {
            bits = rng.next_u64();
            left = 10;
        }
        out.push(BASE62[(bits & 63) as usize % 62] as char);
        bits >>= 6;
        left -= 1;
    }
}

fn actor(
    id: &str,
    kind: &str,
    alternate_id: &str,
    display_name: &str,
    detail: Option<&str>,
) -> String {
    fragment(|w| {
        w.open();
        w.kv("id", id);
        w.kv("type", kind);
        w.kv("alternateId", alternate_id);
        w.kv("displayName", display_name);
        match detail {
            Some(d) => w.kv_raw("detailEntry", d),
            None => {
                w.key("detailEntry");
                w.null();
            }
        }
        w.close();
    })
}

impl Org {
    /// Builds the organization from its own RNG stream.
    pub(crate) fn new(rng: &mut Rng) -> Org {
        let domain = "acme.com";
        let locations = build_locations();
        let hosting_locations = (0..locations.len())
            .filter(|&i| locations[i].hosting)
            .collect();
        let user_agents = build_user_agents(rng);
        let browser_agents = user_agents.len();

        let mut users = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while users.len() < 600 {
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let base = format!("{}.{}", ascii_login(first), ascii_login(last));
            let mut login = format!("{base}@{domain}");
            let mut n = 2;
            while !seen.insert(login.clone()) {
                login = format!("{base}{n}@{domain}");
                n += 1;
            }
            let id = okta_id(rng, "00u");
            let name = format!("{first} {last}");
            let home = HOME_LOCATIONS.start + rng.below(HOME_LOCATIONS.len());
            // Users favour the first agents of the shuffled list: a realistic
            // long-tail distribution over a few hundred agents.
            let skewed = |rng: &mut Rng| {
                let r = rng.unit();
                ((r * r * r) * browser_agents as f64) as usize % browser_agents
            };
            let agents = [skewed(rng), skewed(rng), skewed(rng)];
            let (home_ip, home_v6) = locations[home].address(rng, 0.2);
            users.push(User {
                actor_json: actor(&id, "User", &login, &name, None),
                app_user_json: actor(&id, "AppUser", &login, &name, None),
                id,
                login,
                first,
                last,
                home,
                agents,
                device_id: okta_id(rng, "guo"),
                home_ip,
                home_v6,
            });
        }
        let admins = (0..8).map(|i| i * 37 % users.len()).collect();

        let apps = APPS
            .iter()
            .map(|&(name, label, mode)| {
                let id = okta_id(rng, "0oa");
                let detail = format!("{{\"signOnModeType\":\"{mode}\"}}");
                App {
                    target_json: actor(&id, "AppInstance", label, label, Some(&detail)),
                    id,
                    name,
                    sign_on_mode: mode,
                }
            })
            .collect();
        let groups = GROUPS
            .iter()
            .map(|name| {
                let id = okta_id(rng, "00g");
                Group {
                    target_json: actor(&id, "UserGroup", "unknown", name, None),
                    id,
                    name,
                }
            })
            .collect();
        let policies = POLICIES
            .iter()
            .map(|&(name, kind)| {
                let detail = format!("{{\"policyType\":\"{kind}\"}}");
                actor(
                    &okta_id(rng, "00p"),
                    "PolicyEntity",
                    "unknown",
                    name,
                    Some(&detail),
                )
            })
            .collect();
        let zones = ZONES
            .iter()
            .map(|&(name, kind)| {
                let detail = format!("{{\"zoneType\":\"{kind}\"}}");
                actor(
                    &okta_id(rng, "nzo"),
                    "NetworkZone",
                    name,
                    name,
                    Some(&detail),
                )
            })
            .collect();
        let authorization_server_json = actor(
            &okta_id(rng, "aus"),
            "AuthorizationServer",
            "default",
            "default",
            None,
        );
        let system_actor_json = actor(
            &okta_id(rng, "0oa"),
            "SystemPrincipal",
            "system@okta.com",
            "Okta System",
            None,
        );
        let support_actor_json = actor(
            &okta_id(rng, "00u"),
            "User",
            "support@okta.com",
            "Okta Support",
            None,
        );
        let ad_agent_json = actor(
            &okta_id(rng, "0oa"),
            "PublicClientApp",
            "DC01.corp.acme.com",
            "Okta AD Agent (DC01)",
            None,
        );
        let idp_json = actor(
            &okta_id(rng, "0oa"),
            "IdentityProvider",
            "Azure AD (Entra ID)",
            "Azure AD (Entra ID)",
            Some("{\"idpType\":\"OIDC\"}"),
        );
        let travel_salt = rng.next_u64();
        Org {
            travel_salt,
            users,
            admins,
            apps,
            groups,
            locations,
            hosting_locations,
            user_agents,
            policies,
            zones,
            authorization_server_json,
            system_actor_json,
            support_actor_json,
            ad_agent_json,
            idp_json,
        }
    }
}

/// Lower-cases and strips accents from the few non-ASCII letters used in names.
fn ascii_login(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'é' | 'è' => 'e',
            'ë' => 'e',
            'ç' => 'c',
            'ö' | 'ø' | 'Ø' => 'o',
            'ü' => 'u',
            'Ł' | 'ł' => 'l',
            'ễ' => 'e',
            '\'' => '-',
            c => c,
        })
        .filter(|c| c.is_ascii())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Writes a `geographicalContext` + address pair used by `client` and `request.ipChain`.
pub(crate) fn write_ip_chain_entry(
    w: &mut JsonWriter<'_>,
    ip: &str,
    v6: bool,
    geo_json: &str,
    source: Option<&str>,
) {
    w.open();
    w.kv("ip", ip);
    w.kv_raw("geographicalContext", geo_json);
    w.kv("version", if v6 { "V6" } else { "V4" });
    w.kv_opt("source", source);
    w.close();
}
