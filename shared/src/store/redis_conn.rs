//! One Redis connection type for a single server and for Redis Cluster (DESIGN.md "Redis").
//!
//! A single server is reached through a `ConnectionManager` (reconnects by itself); a cluster
//! through the redis crate's async cluster client (follows slot moves and failovers). Every
//! multi-key atomic operation of the store touches keys of one hash tag, so both work the same.
//! `FLEET_REDIS_URL` with several comma-separated node URLs (or `FLEET_REDIS_CLUSTER=true`)
//! selects the cluster client.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A connection to a single Redis or to a Redis Cluster; cheap to clone.
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl RedisConn {
    /// Connects to `urls`: one URL is a single server unless `cluster` is set; several URLs are
    /// the seed nodes of a cluster.
    pub async fn connect(urls: &[&str], cluster: bool) -> redis::RedisResult<Self> {
        if cluster || urls.len() > 1 {
            let client = redis::cluster::ClusterClientBuilder::new(urls.to_vec())
                .connection_timeout(Duration::from_secs(5))
                .response_timeout(Duration::from_secs(10))
                .retries(6)
                .build()?;
            return Ok(RedisConn::Cluster(client.get_async_connection().await?));
        }
        let client = redis::Client::open(urls.first().copied().unwrap_or_default())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(6)
            .set_max_delay(Duration::from_secs(2));
        Ok(RedisConn::Single(
            ConnectionManager::new_with_config(client, config).await?,
        ))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisConn::Cluster(_))
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Single(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(c) => c.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
        }
    }
}
