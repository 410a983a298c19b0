//! The pipeline as the time axis's lock producer: one crawl, then index and
//! solve as of each probed timestamp through one source cache.

use super::{Crawled, Pipeline};
use crate::bisect::BisectError;
use crate::bisect::asof::LockAt;
use crate::date::Cutoff;
use crate::lock::Lock;
use std::sync::Mutex;

/// The lock pipeline in-process: one crawl, then index + solve per timestamp.
pub struct PipelineLocks<'p, 's> {
    pipeline: &'p Pipeline<'s>,
    crawled: Crawled,
    source_key: String,
    warnings: Mutex<Vec<String>>,
}

impl<'p, 's> PipelineLocks<'p, 's> {
    /// Crawls the pipeline's tree once; every later [`LockAt::lock_at`] indexes
    /// and solves that manifest as of its timestamp.
    pub fn crawl(
        pipeline: &'p Pipeline<'s>,
    ) -> Result<PipelineLocks<'p, 's>, super::PipelineError> {
        Ok(PipelineLocks {
            crawled: pipeline.crawl()?,
            pipeline,
            source_key: String::new(),
            warnings: Mutex::new(Vec::new()),
        })
    }

    /// The crawled tree (its commit is the tree every timestamp is solved for).
    pub fn crawled(&self) -> &Crawled {
        &self.crawled
    }

    /// Names where the sources are (URLs, mirrors) for [`LockAt::fingerprint`]:
    /// locks stored for other sources are then not reused.
    pub fn with_source_key(mut self, key: &str) -> Self {
        self.source_key = key.to_string();
        self
    }
}

impl LockAt for PipelineLocks<'_, '_> {
    fn lock_at(&self, ts: &str) -> Result<Lock, BisectError> {
        let cutoff =
            Cutoff::parse(ts).map_err(|e| BisectError::TimeAxis(format!("timestamp {ts}: {e}")))?;
        let out = match self
            .pipeline
            .candidate_at(&self.crawled, Some(cutoff), &|_| {})
        {
            Ok(o) => o,
            Err(e) if e.is_unsat() => {
                return Err(BisectError::NoCandidate {
                    timestamp: ts.to_string(),
                    message: e.to_string(),
                });
            }
            Err(e) => {
                return Err(BisectError::TimeAxis(format!("lock as of {ts}: {e}")));
            }
        };
        if let Ok(mut w) = self.warnings.lock() {
            w.extend(out.warnings.iter().map(|m| format!("{ts}: {m}")));
        }
        Ok(out.candidate)
    }

    fn take_warnings(&self) -> Vec<String> {
        match self.warnings.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "lock pipeline: {} at {} indexed as of each timestamp",
            self.pipeline.tree.crawl.repo, self.crawled.manifest.commit
        )
    }

    fn fingerprint(&self) -> String {
        format!(
            "{}\nplatform {}\nmake {:?}\nsuites {:?}\ndomain {}\npy-metadata {}\nsources {}\ngaps {}",
            self.describe(),
            self.pipeline.platform,
            self.crawled.manifest.make_vars,
            self.pipeline.tree.suites,
            self.pipeline.tree.domain,
            self.pipeline.options.py_metadata,
            self.source_key,
            self.crawled.gaps.len()
        )
    }
}
