//! Access tokens: short-lived JWTs signed with HS256.
//!
//! Only HS256 is accepted (so `alg: none` and algorithm confusion fail), and
//! `exp`, `iss`, `aud` and `sub` are required and checked with no leeway
//! beyond a few seconds of clock skew. Tokens say who the caller is, never
//! what they may do: roles and suspension are read at each request.

use std::path::Path;

use base64::Engine;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Settings;

/// Shortest signing secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    /// A person, `sub` is their user id.
    User,
    /// A partner app, `sub` is its client id.
    Client,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub typ: Subject,
    /// For a partner app: the collective it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// For a partner app: its scopes, space-separated (RFC 8693 style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("jwt_secret must be at least {MIN_SECRET_BYTES} bytes long")]
    TooShort,
    #[error("cannot read or write the development key file {path}: {reason}")]
    File { path: String, reason: String },
}

/// A sign-in half done: the password was right, the second factor's code
/// is still to come. Signed like access tokens but for another audience, so
/// it is never one; it grants nothing but the chance to send a code.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChallengeClaims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
    iat: i64,
    jti: String,
}

/// How long a second-factor challenge lasts.
pub const CHALLENGE_TTL_SECS: i64 = 5 * 60;

/// The signing key and the claims every token must carry.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    challenge_validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_secs: u64,
}

impl Keys {
    /// The key from configuration, or in development one generated on first
    /// run and kept in `key_file`, with a warning.
    pub fn from_settings(settings: &Settings) -> Result<Self, KeyError> {
        let secret = match &settings.jwt_secret {
            Some(secret) => secret.clone().into_bytes(),
            None => development_key(&settings.key_file)?,
        };
        Self::new(&secret, settings)
    }

    pub fn new(secret: &[u8], settings: &Settings) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::TooShort);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&settings.jwt_issuer]);
        validation.set_audience(&[&settings.jwt_audience]);
        validation.leeway = 5;
        validation.validate_exp = true;
        let mut challenge_validation = validation.clone();
        challenge_validation.set_audience(&[challenge_audience(&settings.jwt_audience)]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            challenge_validation,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            access_ttl_secs: settings.access_token_ttl_secs,
        })
    }

    /// Signs an access token for `sub`.
    pub fn issue(
        &self,
        typ: Subject,
        sub: &str,
        cid: Option<&str>,
        scope: Option<String>,
    ) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: sub.to_owned(),
            exp: now + self.access_ttl_secs as i64,
            iat: now,
            jti: crate::ids::new_id(),
            typ,
            cid: cid.map(str::to_owned),
            scope,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with a valid key cannot fail")
    }

    /// Checks signature, algorithm, `exp`, `iss` and `aud`.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims)
    }

    /// A second-factor challenge for `user_id`, valid for
    /// [`CHALLENGE_TTL_SECS`]: the web app's sign-in carries it from the
    /// password page to the code page.
    pub fn issue_challenge(&self, user_id: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = ChallengeClaims {
            iss: self.issuer.clone(),
            aud: challenge_audience(&self.audience),
            sub: user_id.to_owned(),
            exp: now + CHALLENGE_TTL_SECS,
            iat: now,
            jti: crate::ids::new_id(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with a valid key cannot fail")
    }

    /// The user a live challenge is for.
    pub fn verify_challenge(&self, token: &str) -> Option<String> {
        decode::<ChallengeClaims>(token, &self.decoding, &self.challenge_validation)
            .ok()
            .map(|data| data.claims.sub)
    }
}

fn challenge_audience(audience: &str) -> String {
    format!("{audience}/second-factor")
}

fn development_key(path: &Path) -> Result<Vec<u8>, KeyError> {
    let fail = |e: std::io::Error| KeyError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let engine = base64::engine::general_purpose::STANDARD;
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(fail)?;
        return engine.decode(text.trim()).map_err(|e| KeyError::File {
            path: path.display().to_string(),
            reason: format!("not base64: {e}"),
        });
    }
    let key = crate::auth::password::random_bytes(48);
    write_private(path, &engine.encode(&key)).map_err(fail)?;
    tracing::warn!(
        key_file = %path.display(),
        "no jwt_secret configured: generated a development signing key; \
         set COMMONPOT_JWT_SECRET in production (and the same one on every replica)"
    );
    Ok(key)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(&[7u8; 32], &Settings::default()).unwrap()
    }

    fn forge(header: &str, claims: serde_json::Value, signature: &str) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            b64.encode(header),
            b64.encode(claims.to_string()),
            signature
        )
    }

    fn claims_json() -> serde_json::Value {
        let now = chrono::Utc::now().timestamp();
        serde_json::json!({"iss": "commonpot", "aud": "commonpot-api", "sub": "u1",
            "exp": now + 600, "iat": now, "jti": "x", "typ": "user"})
    }

    #[test]
    fn issued_tokens_verify() {
        let keys = keys();
        let token = keys.issue(Subject::User, "u1", None, None);
        assert_eq!(keys.verify(&token).unwrap().sub, "u1");
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(
            Keys::new(b"short", &Settings::default()),
            Err(KeyError::TooShort)
        ));
    }

    #[test]
    fn alg_none_is_rejected() {
        let token = forge(r#"{"alg":"none","typ":"JWT"}"#, claims_json(), "");
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn other_algorithms_are_rejected() {
        let claims: Claims = serde_json::from_value(claims_json()).unwrap();
        let secret = [7u8; 32];
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let token = encode(
                &Header::new(alg),
                &claims,
                &EncodingKey::from_secret(&secret),
            )
            .unwrap();
            assert!(keys().verify(&token).is_err(), "{alg:?} accepted");
        }
    }

    #[test]
    fn wrong_issuer_audience_or_expiry_is_rejected() {
        let secret = [7u8; 32];
        let sign = |claims: serde_json::Value| {
            encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(&secret),
            )
            .unwrap()
        };
        let mut wrong_iss = claims_json();
        wrong_iss["iss"] = "someone-else".into();
        let mut wrong_aud = claims_json();
        wrong_aud["aud"] = "other-api".into();
        let mut expired = claims_json();
        expired["exp"] = (chrono::Utc::now().timestamp() - 60).into();
        let mut no_aud = claims_json();
        no_aud.as_object_mut().unwrap().remove("aud");
        for claims in [wrong_iss, wrong_aud, expired, no_aud] {
            assert!(
                keys().verify(&sign(claims.clone())).is_err(),
                "{claims} accepted"
            );
        }
    }

    #[test]
    fn challenges_and_access_tokens_are_never_taken_for_each_other() {
        let keys = keys();
        let challenge = keys.issue_challenge("u1");
        assert_eq!(keys.verify_challenge(&challenge).as_deref(), Some("u1"));
        assert!(keys.verify(&challenge).is_err());
        let access = keys.issue(Subject::User, "u1", None, None);
        assert_eq!(keys.verify_challenge(&access), None);
        let other = Keys::new(&[9u8; 32], &Settings::default()).unwrap();
        assert_eq!(keys.verify_challenge(&other.issue_challenge("u1")), None);
    }

    #[test]
    fn a_token_signed_with_another_key_is_rejected() {
        let other = Keys::new(&[9u8; 32], &Settings::default()).unwrap();
        let token = other.issue(Subject::User, "u1", None, None);
        assert!(keys().verify(&token).is_err());
    }
}
