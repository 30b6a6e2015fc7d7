#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Result

use super::*;
use figment::Jail;
use secrecy::ExposeSecret;

fn load_in(jail: &mut Jail, toml: &str) -> Result<Config, ConfigError> {
    jail.create_file("rekon.toml", toml).unwrap();
    Config::load(Some(Path::new("rekon.toml")))
}

#[test]
fn environment_variables_override_the_file_per_partner_key() {
    Jail::expect_with(|jail| {
        jail.set_env("REKON_ELKASSA_BASE_URL", "http://127.0.0.1:9");
        jail.set_env("REKON_ELKASSA_KEY", "12345");
        jail.set_env("REKON_SYNC_CONCURRENCY", "3");
        let config = load_in(
            jail,
            "[elkassa]\nbase_url = \"https://example.test\"\ntoken = \"t0ken\"\n",
        )
        .unwrap();
        let elkassa = config.elkassa.unwrap();
        assert_eq!(elkassa.base_url, "http://127.0.0.1:9");
        assert_eq!(elkassa.key.expose_secret(), "12345");
        assert_eq!(elkassa.token.expose_secret(), "t0ken");
        assert_eq!(config.sync.concurrency, 3);
        Ok(())
    });
}

#[test]
fn an_unconfigured_partner_is_none_so_it_can_be_skipped() {
    Jail::expect_with(|jail| {
        let config = load_in(jail, "[sync]\nconcurrency = 2\n").unwrap();
        assert!(config.elkassa.is_none());
        assert_eq!(config.database_url(None), DEFAULT_DATABASE_URL);
        assert_eq!(config.database_url(Some("postgres://x")), "postgres://x");
        Ok(())
    });
}

#[test]
fn a_missing_credential_names_the_field_and_its_variable() {
    Jail::expect_with(|jail| {
        let err = load_in(jail, "[elkassa]\nkey = \"k\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("elkassa.token"), "{err}");
        assert!(err.contains("REKON_ELKASSA_TOKEN"), "{err}");
        Ok(())
    });
}

#[test]
fn credentials_can_come_from_secret_files() {
    Jail::expect_with(|jail| {
        jail.create_file("key.txt", "from-file\n").unwrap();
        let config = load_in(jail, "[elkassa]\nkey_file = \"key.txt\"\ntoken = \"t\"\n").unwrap();
        assert_eq!(config.elkassa.unwrap().key.expose_secret(), "from-file");
        Ok(())
    });
}

#[test]
fn a_bad_zone_or_unknown_key_is_rejected_by_name() {
    Jail::expect_with(|jail| {
        let err = load_in(
            jail,
            "[elkassa]\nkey = \"k\"\ntoken = \"t\"\ntimezone = \"Mars/Base\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("elkassa.timezone"), "{err}");
        let err = load_in(jail, "[sync]\nconcurency = 2\n").unwrap_err();
        assert!(err.to_string().contains("concurency"), "{err}");
        Ok(())
    });
}

#[test]
fn debug_output_of_the_config_never_shows_credentials() {
    let config = ElkassaConfig::new("http://x", "super-secret-key", "super-secret-token");
    let printed = format!("{config:?}");
    assert!(!printed.contains("super-secret"), "{printed}");
}

#[test]
fn registration_partners_are_configured_from_sections_and_environment() {
    Jail::expect_with(|jail| {
        jail.set_env("REKON_QM_API_SECRET", "qm-secret");
        jail.create_file("jwt.txt", "header.payload.signature\n")
            .unwrap();
        let toml = "[mcp]\nbase_url = \"https://mcp.test\"\napi_key = \"k\"\njwt_file = \"jwt.txt\"\n\
                    [middleware]\nbase_url = \"https://mw.test\"\nusername = \"u\"\npassword = \"p\"\nrequest_out_path = \"/ro\"\n\
                    [qm]\nbase_url = \"https://qm.test\"\napi_key = \"key\"\n";
        let config = load_in(jail, toml).unwrap();
        assert_eq!(
            config.mcp.unwrap().jwt.expose_secret(),
            "header.payload.signature"
        );
        assert_eq!(config.middleware.unwrap().request_out_path, "/ro");
        assert_eq!(config.qm.unwrap().api_secret.expose_secret(), "qm-secret");
        assert!(config.elkassa.is_none());
        Ok(())
    });
}

#[test]
fn a_registration_partner_missing_a_credential_is_named() {
    Jail::expect_with(|jail| {
        let err = load_in(
            jail,
            "[qm]\nbase_url = \"https://qm.test\"\napi_key = \"key\"\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("qm.api_secret")
                && err.to_string().contains("REKON_QM_API_SECRET"),
            "{err}"
        );
        let err = load_in(
            jail,
            "[mcp]\nbase_url = \"ftp://x\"\napi_key = \"k\"\njwt = \"j\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("mcp.base_url"), "{err}");
        Ok(())
    });
}

#[test]
fn the_schedule_section_is_read_from_the_file_and_the_environment() {
    Jail::expect_with(|jail| {
        jail.set_env(
            "REKON_SCHEDULE_METRICS_FILE",
            "/var/lib/textfile/rekon.prom",
        );
        let config = load_in(
            jail,
            "[schedule]\njobs_dir = \"/etc/rekon/jobs\"\nmisfire = \"skip\"\n",
        )
        .unwrap();
        assert_eq!(config.schedule.jobs_dir, Path::new("/etc/rekon/jobs"));
        assert_eq!(config.schedule.misfire, Misfire::Skip);
        assert_eq!(
            config.schedule.metrics_file.as_deref(),
            Some(Path::new("/var/lib/textfile/rekon.prom"))
        );
        Ok(())
    });
}

#[test]
fn an_unknown_misfire_policy_is_refused_naming_the_key() {
    Jail::expect_with(|jail| {
        let err = load_in(jail, "[schedule]\nmisfire = \"replay_all\"\n").unwrap_err();
        let shown = format!("{err:#}");
        assert!(shown.contains("misfire"), "{shown}");
        Ok(())
    });
}
