//! Reading `backend.listen`.

use serde_json::Value;

use super::error::ConfigError;
use super::value::Config;

/// Backstage's default backend port.
pub const DEFAULT_PORT: u16 = 7007;

/// Reads the backend's listen address from `backend.listen` in the root config.
///
/// `backend.listen` may be a string, `"7007"`, `":7007"`, `"127.0.0.1:7007"` or
/// `"[::1]:7007"`, or an object `{ host?, port? }`. The defaults are Backstage's: port `7007`
/// and host `""`, which means every interface (bind `0.0.0.0`). A bare number is a port.
///
/// ```
/// use backlot::services::config::{Config, parse_listen};
/// use serde_json::json;
///
/// let config = Config::from_value(json!({"backend": {"listen": ":8080"}}));
/// assert_eq!(parse_listen(&config)?, (String::new(), 8080));
///
/// let config = Config::from_value(json!({"backend": {"listen": {"host": "127.0.0.1"}}}));
/// assert_eq!(parse_listen(&config)?, ("127.0.0.1".to_owned(), 7007));
///
/// assert_eq!(parse_listen(&Config::empty())?, (String::new(), 7007));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_listen(config: &Config) -> Result<(String, u16), ConfigError> {
    const PATH: &str = "backend.listen";
    let full_path = || {
        let prefix = config.path_prefix();
        if prefix.is_empty() {
            PATH.to_owned()
        } else {
            format!("{prefix}.{PATH}")
        }
    };
    match config.get(PATH) {
        None | Some(Value::Null) => Ok((String::new(), DEFAULT_PORT)),
        Some(Value::String(s)) => parse_listen_str(s).ok_or_else(|| ConfigError::Invalid {
            path: full_path(),
            message: "unable to parse listen address, expected '<port>' or '<host>:<port>'"
                .to_owned(),
        }),
        Some(Value::Number(_)) => Ok((String::new(), config.u16(PATH)?)),
        Some(Value::Object(_)) => {
            let listen = config.config(PATH)?;
            let host = match listen.get("host") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(h)) => h.clone(),
                Some(_) => {
                    return Err(ConfigError::WrongType {
                        path: format!("{}.host", full_path()),
                        expected: "a string",
                    });
                }
            };
            let port = listen.opt_u16("port")?.unwrap_or(DEFAULT_PORT);
            Ok((host, port))
        }
        Some(_) => Err(ConfigError::WrongType {
            path: full_path(),
            expected: "a string or an object with host and port",
        }),
    }
}

fn parse_listen_str(s: &str) -> Option<(String, u16)> {
    let s = s.trim();
    let parse_port = |p: &str| {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u16>().ok())
            .flatten()
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host.to_owned(), parse_port(port)?));
    }
    match s.split(':').collect::<Vec<_>>().as_slice() {
        [port] => Some((String::new(), parse_port(port)?)),
        [host, port] => Some(((*host).to_owned(), parse_port(port)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listen(v: Value) -> Result<(String, u16), ConfigError> {
        parse_listen(&Config::from_value(json!({"backend": {"listen": v}})))
    }

    #[test]
    fn string_forms() {
        assert_eq!(listen(json!(":7008")).unwrap(), (String::new(), 7008));
        assert_eq!(listen(json!("7009")).unwrap(), (String::new(), 7009));
        assert_eq!(
            listen(json!("0.0.0.0:80")).unwrap(),
            ("0.0.0.0".to_owned(), 80)
        );
        assert_eq!(
            listen(json!("localhost:3000")).unwrap(),
            ("localhost".to_owned(), 3000)
        );
        assert_eq!(
            listen(json!("[::1]:7007")).unwrap(),
            ("::1".to_owned(), 7007)
        );
        for bad in ["", "host", "a:b:c", "host:", "host:99999", ":-1", "[::1]"] {
            let err = listen(json!(bad)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "backend.listen: unable to parse listen address, expected '<port>' or '<host>:<port>'",
                "{bad}"
            );
        }
    }

    #[test]
    fn object_and_number_forms_with_defaults() {
        assert_eq!(
            listen(json!({"port": 8080})).unwrap(),
            (String::new(), 8080)
        );
        assert_eq!(
            listen(json!({"port": "8081"})).unwrap(),
            (String::new(), 8081)
        );
        assert_eq!(
            listen(json!({"host": "127.0.0.1"})).unwrap(),
            ("127.0.0.1".to_owned(), 7007)
        );
        assert_eq!(listen(json!({})).unwrap(), (String::new(), 7007));
        assert_eq!(listen(json!(null)).unwrap(), (String::new(), 7007));
        assert_eq!(listen(json!(9000)).unwrap(), (String::new(), 9000));
        assert_eq!(
            parse_listen(&Config::empty()).unwrap(),
            (String::new(), 7007)
        );
    }

    #[test]
    fn errors_name_the_path() {
        assert_eq!(
            listen(json!({"port": "abc"})).unwrap_err().to_string(),
            "backend.listen.port: expected a number"
        );
        assert_eq!(
            listen(json!({"port": 70000})).unwrap_err().to_string(),
            "backend.listen.port: expected an integer between 0 and 65535"
        );
        assert_eq!(
            listen(json!({"host": 1})).unwrap_err().to_string(),
            "backend.listen.host: expected a string"
        );
        assert_eq!(
            listen(json!(true)).unwrap_err().to_string(),
            "backend.listen: expected a string or an object with host and port"
        );
    }
}
