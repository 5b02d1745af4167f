//! Address blocks in the settings (`server.trusted_proxies`).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A CIDR block (`10.0.0.0/8`, `fd00::/8`) or one address (`10.1.2.3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(pub IpNet);

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Cidr(net.trunc()));
        }
        text.parse::<IpAddr>()
            .map(|ip| Cidr(IpNet::from(ip)))
            .map_err(|_| {
                format!("`{text}` is neither an address nor a CIDR block such as 10.0.0.0/8")
            })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.contains(ip)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(d)?;
        Cidr::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_single_addresses() {
        let block = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(block.contains(&"10.200.1.1".parse().unwrap()));
        assert!(!block.contains(&"11.0.0.1".parse().unwrap()));
        let one = Cidr::parse(" 192.0.2.7 ").unwrap();
        assert!(one.contains(&"192.0.2.7".parse().unwrap()));
        assert!(!one.contains(&"192.0.2.8".parse().unwrap()));
        // Host bits are dropped, as a block means the network.
        assert_eq!(Cidr::parse("10.1.2.3/8").unwrap(), block);
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(&"fd12::1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0.0/8/1"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
