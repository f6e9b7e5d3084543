//! Streaming one page: the head at once; then, once the user is resolved, every slot's
//! fragment fetched at once and each slot written in page order as soon as it and those
//! before it are ready, with the static HTML after it in the same chunk (actix-web gathers
//! what is ready into one write). "page composed" is logged when the last slot is out.

use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use futures_util::stream::{self, FuturesOrdered, Stream, StreamExt};

use super::template::Template;
use super::{Composer, Prefilled};
use crate::forwarded::Forwarded;
use crate::fragments::FragmentRequest;
use crate::overrides::Lineup;
use crate::slot::Filled;

/// One page being composed: what every slot of it shares.
pub(super) struct PageRun {
    pub composer: Arc<Composer>,
    pub template: Arc<Template>,
    /// What the upstream requests carry (the user added once resolved).
    pub fwd: Forwarded,
    /// The query passed on to the main slots ([`super::forwardable_query`]).
    pub query: Option<String>,
    /// A slot answer to show instead of fetching it.
    pub prefilled: Option<Prefilled>,
    /// When the page's budget ends.
    pub deadline: Instant,
    /// The services this browser uses instead of registered ones.
    pub lineup: Lineup,
}

impl PageRun {
    /// Fills slot `i` and returns its chunks.
    async fn slot(&self, i: usize) -> Vec<Bytes> {
        let plan = &self.template.plans[i];
        let slot = &plan.slot;
        let prefilled = self
            .prefilled
            .as_ref()
            .filter(|p| p.service == slot.service && p.fragment == slot.fragment);
        let registry = &self.composer.registry;
        let filled = match (
            prefilled,
            registry.service_in(&slot.service, self.lineup.services()),
        ) {
            (Some(p), _) => p.filled.clone(),
            (None, Some(service)) => {
                let ask = FragmentRequest {
                    fwd: &self.fwd,
                    service,
                    fragment: &slot.fragment,
                    query: if slot.chrome {
                        None
                    } else {
                        self.query.as_deref()
                    },
                    deadline: self.deadline,
                };
                self.composer.fragments.fill(&ask, &plan.metrics).await
            }
            (None, None) => Filled::unavailable(),
        };
        plan.chunks(&filled, &self.template.retry)
    }
}

/// The page's body: the head, then the slots in page order, polled inside the request's
/// span so that the fragments' log lines carry its id.
pub(super) fn body(
    mut run: PageRun,
    started: Instant,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let span = tracing::Span::current();
    let head = run.template.head.clone();
    let slots = stream::once(async move {
        let fwd = std::mem::take(&mut run.fwd);
        run.fwd = run.composer.sessions.with_user(fwd).await;
        let run = Arc::new(run);
        (0..run.template.plans.len())
            .map(|i| {
                let run = Arc::clone(&run);
                async move { run.slot(i).await }
            })
            .collect::<FuturesOrdered<_>>()
    })
    .flatten()
    .flat_map(stream::iter);
    let logged = span.clone();
    let done = stream::poll_fn(move |_| {
        logged.in_scope(|| {
            tracing::info!(ms = started.elapsed().as_millis() as u64, "page composed");
        });
        Poll::Ready(None)
    });
    let mut body = Box::pin(
        stream::once(std::future::ready(head))
            .chain(slots)
            .chain(done),
    );
    stream::poll_fn(move |cx| {
        let _entered = span.enter();
        body.poll_next_unpin(cx)
    })
    .map(Ok)
}
