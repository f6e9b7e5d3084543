//! Streaming one page: the head at once; then every slot's fragment fetched at once and each
//! slot written in page order as soon as it and those before it are ready, with the static
//! HTML after it in the same chunk (actix-web gathers what is ready into one write). Async
//! and lazy slots put their placeholder there instead ([`super::deferred`]); async
//! fragments follow the main content as they complete, then the page's end. The session is
//! looked up once, by the first slot whose fragment is personal; a fragment that is not
//! personal is fetched at once, without the user. "page composed" is logged when the last
//! byte is out.

use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use futures_util::stream::{self, FuturesOrdered, FuturesUnordered, Stream, StreamExt};
use tokio::sync::OnceCell;

use super::deferred::in_order_then_late;
use super::template::Template;
use super::{Composer, Prefilled};
use crate::forwarded::Forwarded;
use crate::fragments::FragmentRequest;
use crate::overrides::Lineup;
use crate::slot::{Filled, SlotMode};

/// One page being composed: what every slot of it shares.
pub(super) struct PageRun {
    pub composer: Arc<Composer>,
    pub template: Arc<Template>,
    /// What the upstream requests carry, the user not yet resolved.
    pub fwd: Forwarded,
    /// The same with the signed-in user, once the first personal slot looked it up; `None`
    /// when nobody is signed in, and `fwd` serves.
    pub with_user: OnceCell<Option<Forwarded>>,
    /// The query passed on to the main slots ([`super::forwardable_query`]).
    pub query: Option<String>,
    /// A slot answer to show instead of fetching it.
    pub prefilled: Option<Prefilled>,
    /// A lazy slot the request asks to see inline (`?mf-slot=`).
    pub expand: Option<(String, String)>,
    /// The script after each async fragment, with the page's nonce (empty without one).
    pub move_script: Bytes,
    /// When the page's budget ends.
    pub deadline: Instant,
    /// The services this browser uses instead of registered ones.
    pub lineup: Lineup,
}

impl PageRun {
    /// How slot `i` is written in this page: a prefilled slot, or a lazy one the request
    /// asks for, inline.
    fn mode(&self, i: usize) -> SlotMode {
        let slot = &self.template.plans[i].slot;
        let named = |s: &str, f: &str| s == slot.service && f == slot.fragment;
        let prefilled = self
            .prefilled
            .as_ref()
            .is_some_and(|p| named(&p.service, &p.fragment));
        let expanded = self.expand.as_ref().is_some_and(|(s, f)| named(s, f));
        if prefilled || expanded {
            SlotMode::Inline
        } else {
            slot.mode
        }
    }

    /// Slot `i`'s chunks in page order: filled (inline), or its placeholder.
    async fn in_order(&self, i: usize, mode: SlotMode) -> Vec<Bytes> {
        let plan = &self.template.plans[i];
        match (mode, &plan.deferred) {
            (SlotMode::Async | SlotMode::Lazy, Some(deferred)) => {
                deferred.placeholder_chunks(plan.after())
            }
            // Boxed: the fetch's state is large (kilobytes), and this future is moved into
            // the page's `FuturesOrdered` by value (three copies of it a slot, and a large
            // allocation: issue 26); the box is made when the slot is first polled.
            _ => plan.chunks(&Box::pin(self.fill(i)).await, &self.template.retry),
        }
    }

    /// Async slot `i`'s chunks after the main content.
    async fn late(&self, i: usize) -> Vec<Bytes> {
        let plan = &self.template.plans[i];
        let filled = Box::pin(self.fill(i)).await;
        match &plan.deferred {
            Some(d) => d.late_chunks(
                &plan.slot,
                (plan.title(), &self.template.retry),
                &filled,
                &self.move_script,
            ),
            None => Vec::new(),
        }
    }

    /// Fills slot `i`.
    async fn fill(&self, i: usize) -> Filled {
        let plan = &self.template.plans[i];
        let slot = &plan.slot;
        let prefilled = self
            .prefilled
            .as_ref()
            .filter(|p| p.service == slot.service && p.fragment == slot.fragment);
        if let Some(p) = prefilled {
            return p.filled.clone();
        }
        let registry = &self.composer.registry;
        let Some(service) = registry.service_in(&slot.service, self.lineup.services()) else {
            return Filled::unavailable();
        };
        let anonymous;
        let fwd = if plan.personal {
            self.user().await
        } else {
            anonymous = self.fwd.anonymous();
            &anonymous
        };
        let ask = FragmentRequest {
            fwd,
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

    /// The forwarded headers with the signed-in user, looked up once per page; signed out,
    /// the page's own headers, not a copy of them.
    async fn user(&self) -> &Forwarded {
        self.with_user
            .get_or_init(|| self.composer.sessions.signed_in(&self.fwd))
            .await
            .as_ref()
            .unwrap_or(&self.fwd)
    }
}

/// The page's body: the head, then the slots in page order, the async fragments as they
/// complete and the page's end, polled inside the request's span so that the fragments' log
/// lines carry its id.
pub(super) fn body(
    run: PageRun,
    started: Instant,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let span = tracing::Span::current();
    let head = run.template.head.clone();
    let end = run.template.late.as_ref().map(|l| l.end.clone());
    let run = Arc::new(run);
    let count = run.template.plans.len();
    let modes: Vec<SlotMode> = (0..count).map(|i| run.mode(i)).collect();
    let ordered = modes
        .iter()
        .enumerate()
        .map(|(i, &mode)| {
            let run = Arc::clone(&run);
            async move { run.in_order(i, mode).await }
        })
        .collect::<FuturesOrdered<_>>();
    let late = modes
        .iter()
        .enumerate()
        .filter(|(_, &mode)| mode == SlotMode::Async)
        .map(|(i, _)| {
            let run = Arc::clone(&run);
            async move { run.late(i).await }
        })
        .collect::<FuturesUnordered<_>>();
    let slots = in_order_then_late(ordered, late).flat_map(stream::iter);
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
            .chain(stream::iter(end))
            .chain(done),
    );
    stream::poll_fn(move |cx| {
        let _entered = span.enter();
        body.poll_next_unpin(cx)
    })
    .map(Ok)
}
