//! Leader election with a `coordination.k8s.io/v1` Lease, so several replicas can run and only
//! one reconciles (`--enable-leader-election`, as Flux's controllers). The rules are client-go's:
//! a replica takes the Lease when it does not exist, has no holder, or was not renewed within
//! its duration; the holder renews it every retry period; every write carries the Lease's
//! resourceVersion, so of two replicas racing for it exactly one wins. A replica that cannot
//! renew within the renew deadline stops (the process exits and is restarted) rather than risk
//! two leaders.
//!
//! ```text
//!  get Lease ─► decide (pure) ─► Acquire: create / replace with resourceVersion (409 = lost race)
//!                              ├► Renew: replace renewTime
//!                              └► Wait: held by someone else and fresh
//! ```

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};

/// What a replica should do about the Lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStep {
    /// Nobody holds it (or the holder stopped renewing): take it.
    Acquire,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it and renews it.
    Wait,
}

/// The parts of a Lease the decision reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    /// `spec.holderIdentity`.
    pub holder: Option<String>,
    /// `spec.renewTime`.
    pub renewed: Option<Timestamp>,
    /// `spec.leaseDurationSeconds`.
    pub duration: Duration,
}

/// client-go's rule for one replica (`me`) at `now`.
pub fn decide(lease: Option<&LeaseState>, me: &str, now: Timestamp) -> LeaseStep {
    let Some(lease) = lease else {
        return LeaseStep::Acquire;
    };
    match lease.holder.as_deref().filter(|h| !h.is_empty()) {
        None => LeaseStep::Acquire,
        Some(h) if h == me => LeaseStep::Renew,
        Some(_) => {
            let expired = lease.renewed.is_none_or(|renewed| {
                let duration =
                    SignedDuration::try_from(lease.duration).unwrap_or(SignedDuration::MAX);
                renewed.checked_add(duration).is_ok_and(|until| until < now)
            });
            if expired {
                LeaseStep::Acquire
            } else {
                LeaseStep::Wait
            }
        }
    }
}

/// Timings and names of an election (Flux's defaults: 35 s, 30 s, 5 s).
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease (one per group of replicas that must not overlap).
    pub name: String,
    /// This replica's identity.
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leadership.
    pub renew_deadline: Duration,
    /// How often to try to acquire or renew.
    pub retry_period: Duration,
}

/// Talking to the API about the Lease failed.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    /// Reading or writing the Lease failed.
    #[error("leader election Lease {namespace}/{name}")]
    Lease {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The leader could not renew within the renew deadline (or another replica took over).
    #[error(
        "lost leadership of Lease {namespace}/{name}: not renewed within {deadline:?}; stopping so that only one replica reconciles"
    )]
    Lost {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The renew deadline.
        deadline: Duration,
    },
}

fn state(lease: &Lease) -> LeaseState {
    let spec = lease.spec.clone().unwrap_or_default();
    LeaseState {
        holder: spec.holder_identity,
        renewed: spec.renew_time.map(|t| t.0),
        duration: Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        ),
    }
}

/// One replica's side of the election.
pub struct Elector {
    api: Api<Lease>,
    config: ElectionConfig,
}

impl Elector {
    /// An elector for `config`.
    pub fn new(client: Client, config: ElectionConfig) -> Self {
        Elector {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    fn lease_error(&self, source: kube::Error) -> ElectionError {
        ElectionError::Lease {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            source,
        }
    }

    /// One round: `Ok(true)` when this replica holds the Lease afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, ElectionError> {
        let now = Timestamp::now();
        let current = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.lease_error(e))?;
        let step = decide(
            current.as_ref().map(state).as_ref(),
            &self.config.identity,
            now,
        );
        let seconds = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let result = match (step, current) {
            (LeaseStep::Wait, _) => return Ok(false),
            (_, None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.config.identity.clone()),
                        lease_duration_seconds: Some(seconds),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (step, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                if step == LeaseStep::Acquire {
                    spec.holder_identity = Some(self.config.identity.clone());
                    spec.acquire_time = Some(MicroTime(now));
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(seconds);
                spec.renew_time = Some(MicroTime(now));
                // metadata.resourceVersion is kept: a concurrent writer makes this a 409.
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(self.lease_error(e)),
        }
    }

    /// Waits until this replica leads.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
                    return;
                }
                Ok(false) => {
                    tracing::debug!(lease = %self.config.name, "another replica leads; waiting")
                }
                Err(e) => tracing::warn!(error = %e, "leader election"),
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews the Lease until that fails for longer than the renew deadline or another replica
    /// holds it; then returns why leadership was lost.
    pub async fn keep(&self) -> ElectionError {
        let mut last = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last = tokio::time::Instant::now(),
                Ok(false) => break,
                Err(e) => tracing::warn!(error = %e, "renewing the leader election Lease"),
            }
            if last.elapsed() > self.config.renew_deadline {
                break;
            }
        }
        ElectionError::Lost {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            deadline: self.config.renew_deadline,
        }
    }

    /// Gives the Lease up (on shutdown), so another replica can take over at once.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        let _ = self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_lease(holder: Option<&str>, renewed_secs_ago: Option<i64>, now: Timestamp) -> LeaseState {
        LeaseState {
            holder: holder.map(str::to_owned),
            renewed: renewed_secs_ago
                .map(|s| now.checked_sub(SignedDuration::from_secs(s)).expect("time")),
            duration: Duration::from_secs(15),
        }
    }

    #[test]
    fn a_missing_or_unheld_lease_is_taken() {
        let now = Timestamp::now();
        assert_eq!(decide(None, "a", now), LeaseStep::Acquire);
        assert_eq!(
            decide(Some(&mk_lease(None, Some(1), now)), "a", now),
            LeaseStep::Acquire
        );
        assert_eq!(
            decide(Some(&mk_lease(Some(""), Some(1), now)), "a", now),
            LeaseStep::Acquire
        );
    }

    #[test]
    fn the_holder_renews_and_others_wait_until_it_expires() {
        let now = Timestamp::now();
        assert_eq!(
            decide(Some(&mk_lease(Some("a"), Some(100), now)), "a", now),
            LeaseStep::Renew
        );
        assert_eq!(
            decide(Some(&mk_lease(Some("a"), Some(5), now)), "b", now),
            LeaseStep::Wait
        );
        assert_eq!(
            decide(Some(&mk_lease(Some("a"), Some(16), now)), "b", now),
            LeaseStep::Acquire
        );
        assert_eq!(
            decide(Some(&mk_lease(Some("a"), None, now)), "b", now),
            LeaseStep::Acquire
        );
    }
}
