//! The S3-compatible publisher against a real server (`BACKLOT_TEST_S3_URL`, e.g. a local
//! `moto_server -H 127.0.0.1 -p 9000`).
#![cfg(feature = "s3")]
#![allow(clippy::unwrap_used, clippy::print_stdout)] // test helpers outside #[test] fns

use std::fs;

use backlot::plugins::techdocs::common::DocsEntity;
use backlot::plugins::techdocs::node::{
    AwsS3Publisher, AwsS3PublisherConfig, GenerateOptions, Generator, MkDocsGenerator, Publisher,
    PublisherError,
};

fn s3_url() -> Option<String> {
    match std::env::var("BACKLOT_TEST_S3_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: BACKLOT_TEST_S3_URL not set");
            None
        }
    }
}

fn publisher(url: &str, bucket: &str) -> AwsS3Publisher {
    let mut config = AwsS3PublisherConfig::default();
    config.bucket_name = bucket.to_owned();
    config.bucket_root_path = "techdocs".to_owned();
    config.region = "us-east-1".to_owned();
    config.endpoint = Some(url.to_owned());
    config.force_path_style = true;
    config.access_key_id = Some("testing".to_owned());
    config.secret_access_key = Some("testing".to_owned());
    AwsS3Publisher::new(config).unwrap()
}

#[tokio::test]
async fn publish_read_and_republish_through_s3() {
    let Some(url) = s3_url() else { return };
    let bucket = format!("backlot-techdocs-{}", std::process::id());
    let s3 = publisher(&url, &bucket);
    s3.create_bucket().await.unwrap();

    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("mkdocs.yml"), "site_name: Cloud\n").unwrap();
    fs::create_dir_all(src.path().join("docs")).unwrap();
    fs::write(src.path().join("docs/index.md"), "# Cloud\n").unwrap();
    fs::write(src.path().join("docs/old.md"), "# Old\n").unwrap();
    let site = tempfile::tempdir().unwrap();
    MkDocsGenerator::new()
        .generate(src.path(), site.path(), &GenerateOptions::new().etag("v1"))
        .unwrap();

    let entity: DocsEntity = "default/Component/Cloud".parse().unwrap();
    assert!(!s3.has_docs(&entity).await.unwrap());
    let res = s3.publish(&entity, site.path()).await.unwrap();
    assert!(
        res.objects
            .contains(&"techdocs/default/component/cloud/index.html".to_owned())
    );
    assert_eq!(s3.fetch_metadata(&entity).await.unwrap().etag, "v1");
    let home = s3.read_file(&entity, "").await.unwrap();
    assert_eq!(home.content_type, "text/html; charset=utf-8");
    assert!(String::from_utf8_lossy(&home.content).contains("<h1 id=\"cloud\">Cloud</h1>"));
    assert!(s3.read_file(&entity, "old").await.is_ok());

    // Republish without old.md: its object is removed.
    fs::remove_file(src.path().join("docs/old.md")).unwrap();
    let site2 = tempfile::tempdir().unwrap();
    MkDocsGenerator::new()
        .generate(src.path(), site2.path(), &GenerateOptions::new().etag("v2"))
        .unwrap();
    s3.publish(&entity, site2.path()).await.unwrap();
    assert_eq!(s3.fetch_metadata(&entity).await.unwrap().etag, "v2");
    assert!(matches!(
        s3.read_file(&entity, "old/").await,
        Err(PublisherError::NotFound { .. })
    ));
    assert!(matches!(
        s3.read_file(&entity, "../x").await,
        Err(PublisherError::UnsafePath { .. })
    ));
}
