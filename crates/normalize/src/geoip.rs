//! Optional MaxMind (GeoLite2 / GeoIP2 / DB-IP) enrichment of `source.*`.
//!
//! The library never opens files: the caller reads the `.mmdb` files and hands
//! over their bytes.

use std::net::IpAddr;
use std::sync::Arc;

use maxminddb::{geoip2, Reader};

use crate::error::GeoIpError;

/// MaxMind databases for enrichment; cheap to clone (the data is shared).
#[derive(Clone)]
pub struct GeoIp {
    city: Option<Arc<Reader<Vec<u8>>>>,
    asn: Option<Arc<Reader<Vec<u8>>>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = |r: &Option<Arc<Reader<Vec<u8>>>>| {
            r.as_ref().map(|r| r.metadata().database_type.clone())
        };
        f.debug_struct("GeoIp")
            .field("city", &kind(&self.city))
            .field("asn", &kind(&self.asn))
            .finish()
    }
}

/// What the databases know about one IP address.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct GeoFacts {
    pub(crate) city_name: Option<String>,
    pub(crate) region_name: Option<String>,
    pub(crate) country_name: Option<String>,
    pub(crate) country_iso_code: Option<String>,
    pub(crate) continent_name: Option<String>,
    pub(crate) timezone: Option<String>,
    pub(crate) postal_code: Option<String>,
    pub(crate) location: Option<(f64, f64)>,
    pub(crate) as_number: Option<u64>,
    pub(crate) as_organization: Option<String>,
}

impl GeoIp {
    /// From the bytes of .mmdb files (caller reads the files). city: GeoLite2-City/DB-IP City; asn: GeoLite2-ASN.
    ///
    /// At least one database must be given; each must be a valid MaxMind DB.
    pub fn from_bytes(city: Option<Vec<u8>>, asn: Option<Vec<u8>>) -> Result<GeoIp, GeoIpError> {
        if city.is_none() && asn.is_none() {
            return Err(GeoIpError::NoDatabase);
        }
        let open = |bytes: Vec<u8>, which: &'static str| {
            Reader::from_source(bytes)
                .map(Arc::new)
                .map_err(|source| GeoIpError::InvalidDatabase { which, source })
        };
        Ok(GeoIp {
            city: city.map(|b| open(b, "city")).transpose()?,
            asn: asn.map(|b| open(b, "ASN")).transpose()?,
        })
    }

    /// Looks `ip` up in both databases. A database error or a miss yields
    /// nothing for that database: enrichment never fails an event.
    pub(crate) fn lookup(&self, ip: IpAddr) -> GeoFacts {
        let mut facts = GeoFacts::default();
        if let Some(reader) = &self.city {
            if let Ok(Some(city)) = reader.lookup(ip).and_then(|r| r.decode::<geoip2::City>()) {
                let owned = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
                facts.city_name = owned(city.city.names.english);
                facts.region_name = owned(city.subdivisions.first().and_then(|s| s.names.english));
                facts.country_name = owned(city.country.names.english);
                facts.country_iso_code = owned(city.country.iso_code);
                facts.continent_name = owned(city.continent.names.english);
                facts.timezone = owned(city.location.time_zone);
                facts.postal_code = owned(city.postal.code);
                facts.location = city.location.latitude.zip(city.location.longitude);
            }
        }
        if let Some(reader) = &self.asn {
            if let Ok(Some(asn)) = reader.lookup(ip).and_then(|r| r.decode::<geoip2::Asn>()) {
                facts.as_number = asn.autonomous_system_number.map(u64::from);
                facts.as_organization = asn
                    .autonomous_system_organization
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
            }
        }
        facts
    }
}
