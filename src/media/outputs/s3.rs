//! S3 settings for the outputs that write to S3 (`record`, `hls`): from
//! the request, else the server's defaults, else the standard AWS
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, ...), which the AWS SDK
//! reads itself.

use gst::prelude::*;
use serde::Deserialize;

use crate::config::Secret;

/// Region the SDK is given when neither the request nor the server names
/// one (S3-compatible stores mostly ignore it).
const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// `http(s)://host[:port]` of an S3-compatible store; AWS by default.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    /// Bucket in the path (`host/bucket/key`), as most S3-compatible
    /// stores want, instead of in the host name.
    pub path_style: Option<bool>,
}

impl S3Config {
    /// The error names the field, relative to the `s3` object.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(e) = &self.endpoint {
            let rest = e
                .strip_prefix("http://")
                .or_else(|| e.strip_prefix("https://"))
                .ok_or((
                    "endpoint",
                    "must start with http:// or https://".to_string(),
                ))?;
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                return Err(("endpoint", "must name a host".into()));
            }
        }
        if let Some(r) = &self.region
            && (r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(("region", "must be a region name like eu-west-1".into()));
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(_), None) => Err(("secret_access_key", "is needed with access_key_id".into())),
            (None, Some(_)) => Err(("access_key_id", "is needed with secret_access_key".into())),
            _ => Ok(()),
        }
    }

    /// These settings, with `defaults` filling what they leave out. Keys
    /// come as a pair, from one place.
    pub fn or(&self, defaults: &S3Config) -> S3Config {
        let keys = if self.access_key_id.is_some() {
            (self.access_key_id.clone(), self.secret_access_key.clone())
        } else {
            (
                defaults.access_key_id.clone(),
                defaults.secret_access_key.clone(),
            )
        };
        S3Config {
            endpoint: self.endpoint.clone().or(defaults.endpoint.clone()),
            region: self.region.clone().or(defaults.region.clone()),
            access_key_id: keys.0,
            secret_access_key: keys.1,
            path_style: self.path_style.or(defaults.path_style),
        }
    }

    /// Sets these settings on an `awss3sink` or `awss3hlssink`.
    pub fn apply(&self, element: &gst::Element) {
        if let Some(e) = &self.endpoint {
            element.set_property("endpoint-uri", e);
        }
        let region = self
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| DEFAULT_REGION.into());
        element.set_property("region", region);
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            element.set_property("access-key", id.expose());
            element.set_property("secret-access-key", secret.expose());
        }
        element.set_property("force-path-style", self.path_style.unwrap_or(false));
    }

    /// An S3 client with these settings, for what callcast uploads itself.
    pub async fn client(&self) -> aws_sdk_s3::Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(
            aws_config::Region::new(
                self.region
                    .clone()
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .unwrap_or_else(|| DEFAULT_REGION.into()),
            ),
        );
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                id.expose(),
                secret.expose(),
                None,
                None,
                "callcast",
            ));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(self.path_style.unwrap_or(false));
        if let Some(e) = &self.endpoint {
            builder = builder.endpoint_url(e);
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> S3Config {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn settings_are_checked() {
        assert!(cfg(r#"{"endpoint": "http://127.0.0.1:9000", "access_key_id": "a", "secret_access_key": "b", "path_style": true}"#).validate().is_ok());
        assert_eq!(
            cfg(r#"{"endpoint": "127.0.0.1:9000"}"#)
                .validate()
                .unwrap_err()
                .0,
            "endpoint"
        );
        assert_eq!(
            cfg(r#"{"access_key_id": "a"}"#).validate().unwrap_err().0,
            "secret_access_key"
        );
        assert_eq!(
            cfg(r#"{"region": "eu west"}"#).validate().unwrap_err().0,
            "region"
        );
        assert!(serde_json::from_str::<S3Config>(r#"{"bucket": "x"}"#).is_err());
    }

    #[test]
    fn defaults_fill_gaps_and_keys_stay_paired() {
        let server = cfg(
            r#"{"endpoint": "http://s3", "region": "r1", "access_key_id": "sa", "secret_access_key": "sb"}"#,
        );
        let merged = cfg(r#"{"region": "r2"}"#).or(&server);
        assert_eq!(merged.endpoint.as_deref(), Some("http://s3"));
        assert_eq!(merged.region.as_deref(), Some("r2"));
        assert_eq!(merged.access_key_id.unwrap().expose(), "sa");
        let own = cfg(r#"{"access_key_id": "a", "secret_access_key": "b"}"#).or(&server);
        assert_eq!(own.secret_access_key.unwrap().expose(), "b");
    }

    #[test]
    fn keys_never_print() {
        let c = cfg(r#"{"access_key_id": "AKIAVERYSECRET", "secret_access_key": "hush"}"#);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("AKIAVERYSECRET") && !shown.contains("hush"),
            "{shown}"
        );
    }
}
