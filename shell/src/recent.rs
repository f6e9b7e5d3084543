//! The shell's own recent figures, for the status page of the admin port
//! ([`crate::routes::status`]): each fragment's slot outcomes and times over the last
//! [`WINDOW`], each service's last contact, and the last fragment errors with their trace
//! ids. Held in memory and bounded: at most [`MAX_SAMPLES`] samples per fragment (older
//! ones are dropped first, and anything past the window on every write) and
//! [`MAX_ERRORS`] errors; fragments and services are the configured ones, never a client's.
//!
//! Layer: beside [`crate::metrics`], which records into it; it knows the slot words of
//! [`crate::slot`] and nothing above.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::slot::Status;

/// How far back the figures go.
pub const WINDOW: Duration = Duration::from_secs(300);
/// Samples kept per fragment at most (a busy fragment keeps its latest ones).
pub const MAX_SAMPLES: usize = 4096;
/// Errors kept at most.
pub const MAX_ERRORS: usize = 20;

/// One slot filled with a fragment.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was filled.
    pub at: Instant,
    /// How long it took, in milliseconds.
    pub ms: u32,
    /// How.
    pub status: Status,
}

/// One fragment's samples of the last [`WINDOW`].
#[derive(Debug, Default)]
pub struct FragmentWindow {
    samples: Mutex<VecDeque<Sample>>,
}

impl FragmentWindow {
    /// Adds a sample, dropping those past the window (and the oldest past the bound).
    pub fn push(&self, status: Status, took: Duration) {
        let now = Instant::now();
        let Ok(mut samples) = self.samples.lock() else {
            return;
        };
        while samples
            .front()
            .is_some_and(|s| now.duration_since(s.at) > WINDOW)
        {
            samples.pop_front();
        }
        if samples.len() >= MAX_SAMPLES {
            samples.pop_front();
        }
        let ms = u32::try_from(took.as_millis()).unwrap_or(u32::MAX);
        samples.push_back(Sample {
            at: now,
            ms,
            status,
        });
    }

    /// The samples within the window, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        let now = Instant::now();
        self.samples.lock().map_or_else(
            |_| Vec::new(),
            |s| {
                s.iter()
                    .filter(|x| now.duration_since(x.at) <= WINDOW)
                    .copied()
                    .collect()
            },
        )
    }
}

/// A fragment fetch that failed.
#[derive(Debug, Clone)]
pub struct ErrorRecord {
    /// When.
    pub at: SystemTime,
    /// The service.
    pub service: String,
    /// The fragment.
    pub fragment: String,
    /// One of the failure reasons of `shell_fragment_failures_total`.
    pub reason: &'static str,
    /// The error, as logged.
    pub detail: String,
    /// The page's trace id (what to look for in the logs).
    pub trace_id: Option<String>,
}

/// A service's last fragment answer: when, and its error if it failed.
#[derive(Debug, Clone)]
pub struct Contact {
    /// When.
    pub at: Instant,
    /// The failure, or `None` for a good answer.
    pub error: Option<String>,
}

/// Everything the status page shows of the shell's own traffic.
#[derive(Debug, Default)]
pub struct Recent {
    fragments: Mutex<Vec<(String, String, Arc<FragmentWindow>)>>,
    errors: Mutex<VecDeque<ErrorRecord>>,
    contacts: Mutex<HashMap<String, Contact>>,
}

impl Recent {
    /// The window of `service`/`fragment`, made the first time it is asked for.
    pub fn window(&self, service: &str, fragment: &str) -> Arc<FragmentWindow> {
        let Ok(mut all) = self.fragments.lock() else {
            return Arc::default();
        };
        if let Some((_, _, w)) = all.iter().find(|(s, f, _)| s == service && f == fragment) {
            return Arc::clone(w);
        }
        let window = Arc::new(FragmentWindow::default());
        all.push((service.to_owned(), fragment.to_owned(), Arc::clone(&window)));
        window
    }

    /// Every fragment's window, in the order they were first used.
    pub fn fragments(&self) -> Vec<(String, String, Arc<FragmentWindow>)> {
        self.fragments.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// A service answered a fragment (`error: None`) or failed to.
    pub fn contact(&self, service: &str, error: Option<String>) {
        if let Ok(mut contacts) = self.contacts.lock() {
            let contact = Contact {
                at: Instant::now(),
                error,
            };
            contacts.insert(service.to_owned(), contact);
        }
    }

    /// The last fragment answer of `service`, if any.
    pub fn last_contact(&self, service: &str) -> Option<Contact> {
        self.contacts.lock().ok()?.get(service).cloned()
    }

    /// Keeps a failed fetch among the last [`MAX_ERRORS`], and as its service's contact.
    pub fn failed(&self, error: ErrorRecord) {
        self.contact(
            &error.service,
            Some(format!("{}: {}", error.reason, error.detail)),
        );
        if let Ok(mut errors) = self.errors.lock() {
            if errors.len() >= MAX_ERRORS {
                errors.pop_back();
            }
            errors.push_front(error);
        }
    }

    /// The last errors, newest first.
    pub fn errors(&self) -> Vec<ErrorRecord> {
        self.errors
            .lock()
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The `p`-th percentile (0 to 100, nearest rank) of sorted `ms`.
pub fn percentile(sorted: &[u32], p: u32) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&ms, 50), Some(50));
        assert_eq!(percentile(&ms, 95), Some(95));
        assert_eq!(percentile(&ms, 99), Some(99));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn a_window_keeps_at_most_its_bound_and_errors_theirs() {
        let window = FragmentWindow::default();
        for _ in 0..MAX_SAMPLES + 10 {
            window.push(Status::Ok, Duration::from_millis(3));
        }
        assert_eq!(window.samples().len(), MAX_SAMPLES);
        let recent = Recent::default();
        for i in 0..MAX_ERRORS + 5 {
            recent.failed(ErrorRecord {
                at: SystemTime::now(),
                service: "pricing".into(),
                fragment: "plans".into(),
                reason: "transport",
                detail: format!("error {i}"),
                trace_id: None,
            });
        }
        let errors = recent.errors();
        assert_eq!(errors.len(), MAX_ERRORS);
        assert_eq!(errors[0].detail, format!("error {}", MAX_ERRORS + 4));
        let contact = recent.last_contact("pricing").unwrap();
        assert!(contact.error.unwrap().starts_with("transport"));
    }
}
