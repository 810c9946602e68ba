//! The object store of a cluster (`cluster.storage.url`): S3 or an S3-compatible server, a local
//! directory (`file:///dir`, one machine) or memory (`memory://`, one process). Objects:
//!
//! ```text
//! <prefix>/wal/<broker>/<uuid>.wal                   one group commit: batches of many partitions
//! <prefix>/seg/<topic>/<p>/<base>-<end>-<uuid>.seg   one partition's batches [base, end), folded
//! ```
//! Names are never reused: a failed or fenced upload leaves an object nobody references.
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::BrokerConfig;

pub struct Store {
    inner: Arc<dyn ObjectStore>,
    root: String,
    url: String,
}

impl Store {
    pub fn open(c: &BrokerConfig) -> Result<Store, String> {
        let url = c.get("cluster.storage.url").filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            "cluster.storage.url is required in a cluster (s3://bucket/prefix, file:///dir or memory://)"
                .to_string()
        })?;
        let url = url.trim().to_string();
        let (inner, root): (Arc<dyn ObjectStore>, String) = if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("cluster.storage.url={url} names no bucket"));
            }
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(c.get("cluster.storage.region").unwrap_or_else(|| "us-east-1".into()))
                .with_allow_http(c.get("cluster.storage.allow.http").is_some_and(|v| v.trim() == "true"));
            if let Some(e) = c.get("cluster.storage.endpoint").filter(|v| !v.trim().is_empty()) {
                // An S3-compatible server: path-style requests (bucket in the path).
                b = b.with_endpoint(e.trim()).with_virtual_hosted_style_request(false);
            }
            if let Some(k) = c.get("cluster.storage.access.key.id").filter(|v| !v.trim().is_empty()) {
                b = b.with_access_key_id(k.trim());
            }
            if let Some(k) = c.get("cluster.storage.secret.access.key").filter(|v| !v.trim().is_empty()) {
                b = b.with_secret_access_key(k.trim());
            }
            (Arc::new(b.build().map_err(|e| format!("cluster.storage.url={url}: {e}"))?), prefix_of(prefix))
        } else if let Some(dir) = url.strip_prefix("file://") {
            std::fs::create_dir_all(dir).map_err(|e| format!("cluster.storage.url={url}: {e}"))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| format!("cluster.storage.url={url}: {e}"))?;
            (Arc::new(fs), String::new())
        } else if url == "memory://" {
            (Arc::new(object_store::memory::InMemory::new()), String::new())
        } else {
            return Err(format!(
                "cluster.storage.url={url}: expected s3://bucket/prefix, file:///dir or memory://"
            ));
        };
        Ok(Store { inner, root, url })
    }

    pub fn describe(&self) -> &str {
        &self.url
    }

    pub fn wal_name(&self, broker: i32) -> String {
        format!("{}wal/{broker}/{}.wal", self.root, uuid::Uuid::new_v4().simple())
    }

    pub fn segment_name(&self, key: &(String, i32), base: i64, end: i64) -> String {
        format!(
            "{}seg/{}/{}/{base:020}-{end:020}-{}.seg",
            self.root,
            key.0,
            key.1,
            uuid::Uuid::new_v4().simple()
        )
    }

    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> object_store::Result<()> {
        self.inner.put(&Path::from(name), PutPayload::from(bytes)).await.map(|_| ())
    }

    pub async fn get_range(&self, name: &str, pos: u64, len: u64) -> object_store::Result<bytes::Bytes> {
        if len == 0 {
            return Ok(bytes::Bytes::new());
        }
        self.inner.get_range(&Path::from(name), pos..pos + len).await
    }
}

fn prefix_of(p: &str) -> String {
    let p = p.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}
