//! A TechDocs command line like Backstage's `techdocs-cli`: build a docs site natively and
//! publish it where the backend (with `techdocs.builder: external`) serves it from.
//!
//! ```text
//! cargo run --example techdocs_cli -- generate --source-dir ./my-service --output-dir ./site
//! cargo run --example techdocs_cli -- publish --entity default/Component/my-service \
//!     --directory ./site --publisher-type local --directory-dest ./data/techdocs
//! cargo run --example techdocs_cli --features s3 -- publish --entity default/Component/my-service \
//!     --directory ./site --publisher-type awsS3 --storage-name docs \
//!     --awsEndpoint http://127.0.0.1:9000 --awsS3ForcePathStyle
//! ```
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use backlot::plugins::techdocs::common::DocsEntity;
use backlot::plugins::techdocs::node::{
    GenerateOptions, Generator, LocalPublisher, MkDocsGenerator, Publisher,
};

const USAGE: &str = "\
usage:
  techdocs_cli generate [--source-dir DIR] [--output-dir DIR] [--etag ETAG]
  techdocs_cli publish --entity NAMESPACE/KIND/NAME [--directory DIR]
                       --publisher-type local --directory-dest DIR
  techdocs_cli publish --entity NAMESPACE/KIND/NAME [--directory DIR]
                       --publisher-type awsS3 --storage-name BUCKET [--awsEndpoint URL]
                       [--awsRegion REGION] [--awsS3ForcePathStyle] [--awsBucketRootPath PATH]
                       (awsS3 needs the cargo feature `s3`; credentials from AWS_ACCESS_KEY_ID
                       and AWS_SECRET_ACCESS_KEY)
  --legacyUseCaseSensitiveTripletPaths keeps the case of namespace/kind/name in paths";

const FLAGS: &[&str] = &[
    "--awsS3ForcePathStyle",
    "--legacyUseCaseSensitiveTripletPaths",
];

fn parse(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if !arg.starts_with("--") {
            return Err(format!("unexpected argument '{arg}'"));
        }
        if let Some((k, v)) = arg.split_once('=') {
            out.insert(k.to_owned(), v.to_owned());
        } else if FLAGS.contains(&arg.as_str()) {
            out.insert(arg.clone(), "true".to_owned());
        } else {
            let value = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
            out.insert(arg.clone(), value.clone());
        }
    }
    Ok(out)
}

fn generate(opts: &HashMap<String, String>) -> Result<(), String> {
    let source = PathBuf::from(opts.get("--source-dir").map_or(".", String::as_str));
    let output = PathBuf::from(opts.get("--output-dir").map_or("./site", String::as_str));
    let mut options = GenerateOptions::new();
    if let Some(etag) = opts.get("--etag") {
        options = options.etag(etag.clone());
    }
    let started = std::time::Instant::now();
    let report = MkDocsGenerator::new()
        .generate(&source, &output, &options)
        .map_err(|e| e.to_string())?;
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    println!(
        "generated {} pages of '{}' into {} in {:?}",
        report.pages,
        report.metadata.site_name,
        output.display(),
        started.elapsed()
    );
    Ok(())
}

async fn publish(opts: &HashMap<String, String>) -> Result<(), String> {
    let entity: DocsEntity = opts
        .get("--entity")
        .ok_or("--entity is required")?
        .parse()
        .map_err(|e: backlot::plugins::techdocs::common::DocsEntityError| e.to_string())?;
    let directory = PathBuf::from(opts.get("--directory").map_or("./site", String::as_str));
    if !directory.join("techdocs_metadata.json").exists() {
        return Err(format!(
            "'{}' has no techdocs_metadata.json; run generate first",
            directory.display()
        ));
    }
    let case_sensitive = opts.contains_key("--legacyUseCaseSensitiveTripletPaths");
    let kind = opts.get("--publisher-type").map_or("local", String::as_str);
    let publisher: Box<dyn Publisher> = match kind {
        "local" => {
            let dest = opts
                .get("--directory-dest")
                .ok_or("--directory-dest is required for the local publisher")?;
            Box::new(LocalPublisher::new(dest).case_sensitive(case_sensitive))
        }
        #[cfg(feature = "s3")]
        "awsS3" => {
            use backlot::plugins::techdocs::node::{AwsS3Publisher, AwsS3PublisherConfig};
            let mut config = AwsS3PublisherConfig::default();
            config.bucket_name = opts
                .get("--storage-name")
                .ok_or("--storage-name is required for awsS3")?
                .clone();
            config.endpoint = opts.get("--awsEndpoint").cloned();
            config.region = opts
                .get("--awsRegion")
                .cloned()
                .unwrap_or_else(|| "us-east-1".to_owned());
            config.force_path_style = opts.contains_key("--awsS3ForcePathStyle");
            config.bucket_root_path = opts.get("--awsBucketRootPath").cloned().unwrap_or_default();
            Box::new(
                AwsS3Publisher::new(config)
                    .map_err(|e| e.to_string())?
                    .case_sensitive(case_sensitive),
            )
        }
        other => return Err(format!("unsupported --publisher-type '{other}'")),
    };
    let res = publisher
        .publish(&entity, &directory)
        .await
        .map_err(|e| e.to_string())?;
    println!("published {} files for {entity}", res.objects.len());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let opts = match parse(&args[1..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "generate" => generate(&opts),
        "publish" => publish(&opts).await,
        _ => Err(format!("unknown command '{command}'\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
