//! Reading the ELKASSA listing: ordered pages with bounded concurrency, each
//! fetched and parsed on its own task so parsing uses every core.

use super::normalize::{normalize_page, PacketCatalog};
use super::progress::Progress;
use super::SyncError;
use crate::providers::elkassa::{parse_listing, ElkassaClient, USERS_ENDPOINT};
use crate::warehouse::LandedPage;
use chrono_tz::Tz;
use futures::StreamExt;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Attempts at a page whose body is not the documented envelope (a proxy
/// error page, a truncated body that still closed cleanly).
const MALFORMED_ATTEMPTS: u32 = 3;

/// Pages worth reading again to confirm repeated records, at least; past
/// this (or a quarter of the listing) the pass is re-read whole instead.
const MAX_PAGES_TO_CONFIRM: usize = 64;

/// Fetches and normalizes single pages; shared by every page task.
pub struct PageFetcher {
    /// The partner client.
    pub client: ElkassaClient,
    /// Packets, to tell trials.
    pub catalog: PacketCatalog,
    /// Zone of the partner's naive timestamps.
    pub zone: Tz,
}

impl PageFetcher {
    /// One page, fetched, checked and normalized.
    pub async fn fetch(&self, pass: u32, page: u32) -> Result<(LandedPage, Vec<u64>), SyncError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let fetched = self.client.fetch_users_page(page).await?;
            match parse_listing(fetched.http_status, &fetched.body) {
                Ok(slots) => {
                    return Ok(normalize_page(
                        pass,
                        page,
                        fetched,
                        slots,
                        &self.catalog,
                        self.zone,
                    ))
                }
                Err(err) if err.is_garbled_success() && attempt < MALFORMED_ATTEMPTS => {
                    tracing::warn!(
                        provider = "elkassa",
                        page,
                        attempt,
                        "unreadable page body, fetching it again"
                    );
                }
                // Read liberally: past the end some partners refuse ("not
                // found", HTTP 404) instead of sending an empty list. Page 1
                // refusing means something else, so it stays an error.
                Err(err) if page > 1 && !err.is_auth() && err.is_no_data() => {
                    tracing::debug!(provider = "elkassa", page, %err, "refusal read as the end of the listing");
                    return Ok(normalize_page(
                        pass,
                        page,
                        fetched,
                        Vec::new(),
                        &self.catalog,
                        self.zone,
                    ));
                }
                Err(source) => {
                    return Err(SyncError::partner(
                        USERS_ENDPOINT,
                        format!("page {page}"),
                        source,
                    ))
                }
            }
        }
    }
}

/// The ids of one read of the listing, page by page.
#[derive(Debug, Default)]
pub struct PassRead {
    /// Id fingerprints per page, in listing order (index 0 is page 1).
    pub pages: Vec<Vec<u64>>,
    /// Entries read, duplicates and rejects included.
    pub entries: u64,
    /// Entries rejected.
    pub rejected: u64,
    /// Entries that appeared at the end while the pass was verified.
    pub grown_entries: u64,
}

/// Reads passes and hands every fetched page to the writer.
pub struct Pager {
    fetcher: Arc<PageFetcher>,
    concurrency: usize,
    to_writer: mpsc::Sender<LandedPage>,
    progress: Arc<Progress>,
    /// Pages fetched so far, verification reads included.
    pub pages_fetched: u64,
}

impl Pager {
    /// A pager feeding `to_writer`.
    pub fn new(
        fetcher: Arc<PageFetcher>,
        concurrency: usize,
        to_writer: mpsc::Sender<LandedPage>,
        progress: Arc<Progress>,
    ) -> Self {
        Self {
            fetcher,
            concurrency: concurrency.max(1),
            to_writer,
            progress,
            pages_fetched: 0,
        }
    }

    /// Pages fetched and normalized concurrently, yielded in the order asked.
    fn fetch_in_order(
        &self,
        pass: u32,
        pages: impl Iterator<Item = u32> + Send + 'static,
    ) -> impl futures::Stream<Item = Result<(LandedPage, Vec<u64>), SyncError>> {
        let fetcher = Arc::clone(&self.fetcher);
        futures::stream::iter(pages)
            .map(move |page| {
                let fetcher = Arc::clone(&fetcher);
                AbortOnDrop(tokio::spawn(
                    async move { fetcher.fetch(pass, page).await }.in_current_span(),
                ))
            })
            .buffered(self.concurrency)
    }

    /// Reads the whole listing once, up to its first empty page.
    pub async fn read_pass(&mut self, pass: u32) -> Result<PassRead, SyncError> {
        let mut pages = self.fetch_in_order(pass, 1u32..);
        let mut read = PassRead::default();
        while let Some(result) = pages.next().await {
            let (landed, ids) = result?;
            let empty = landed.entries == 0;
            read.entries += u64::from(landed.entries);
            read.rejected += landed
                .issues
                .iter()
                .filter(|issue| issue.severity == "rejected")
                .count() as u64;
            self.progress.add_page(u64::from(landed.entries));
            self.land(landed).await?;
            if empty {
                break;
            }
            read.pages.push(ids);
        }
        Ok(read)
    }

    /// Checks that the listing did not move while `read` was taken; returns
    /// why it moved, or `None` when the read is a consistent snapshot.
    ///
    /// Insertions at the head (the usual newest-first order) change page 1;
    /// any insertion or removal before the end shifts the tail. Growth at
    /// the end only (an oldest-first listing) shifts nothing, so it is read
    /// on as part of this pass. A record on two pages is either the partner
    /// listing it twice (then both pages read back the same) or a shift
    /// mid-read; those pages are read again too, unless there are so many
    /// that a full re-read is as cheap.
    pub async fn verify(
        &mut self,
        pass: u32,
        read: &mut PassRead,
    ) -> Result<Option<String>, SyncError> {
        if let Some(reason) = self.compare(pass, read, vec![1]).await? {
            return Ok(Some(reason));
        }
        if let Some(reason) = self.settle_tail(pass, read).await? {
            return Ok(Some(reason));
        }
        let last = read.pages.len() as u32;
        let mut repeated: Vec<u32> = cross_page_repeats(&read.pages)
            .into_iter()
            .flat_map(|(first, second)| [first, second])
            .filter(|&page| page != 1 && page < last)
            .collect();
        repeated.sort_unstable();
        repeated.dedup();
        if repeated.len() > MAX_PAGES_TO_CONFIRM.max(read.pages.len() / 4) {
            return Ok(Some(format!(
                "{} pages share records with another page",
                repeated.len()
            )));
        }
        self.compare(pass, read, repeated).await
    }

    /// Reads the tail again: unchanged, or only grown (old entries still in
    /// place, new ones after them), is consistent and the growth is read on;
    /// anything else means the listing shifted.
    async fn settle_tail(
        &mut self,
        pass: u32,
        read: &mut PassRead,
    ) -> Result<Option<String>, SyncError> {
        const MAX_GROWTH_PAGES: usize = 10_000;
        for _ in 0..MAX_GROWTH_PAGES {
            let last = read.pages.len() as u32;
            if last > 0 {
                let (landed, ids) = self.fetcher.fetch(pass, last).await?;
                self.land(landed).await?;
                let before = &read.pages[last as usize - 1];
                if !ids.starts_with(before) {
                    return Ok(Some(format!("the end of the listing moved (page {last})")));
                }
                let appended = (ids.len() - before.len()) as u64;
                read.entries += appended;
                read.grown_entries += appended;
                read.pages[last as usize - 1] = ids;
            }
            let (landed, ids) = self.fetcher.fetch(pass, last + 1).await?;
            let grown = landed.entries;
            self.land(landed).await?;
            if ids.is_empty() {
                return Ok(None);
            }
            read.entries += u64::from(grown);
            read.grown_entries += u64::from(grown);
            read.pages.push(ids);
        }
        Ok(Some("the listing kept growing at its end".to_owned()))
    }

    /// Reads `pages` again (landing them too) and says which one differs.
    async fn compare(
        &mut self,
        pass: u32,
        read: &PassRead,
        pages: Vec<u32>,
    ) -> Result<Option<String>, SyncError> {
        let last = read.pages.len() as u32;
        let mut again = self.fetch_in_order(pass, pages.into_iter());
        while let Some(result) = again.next().await {
            let (landed, ids) = result?;
            let page = landed.page;
            self.land(landed).await?;
            let expected = read
                .pages
                .get(page as usize - 1)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if ids != expected {
                return Ok(Some(if page == 1 {
                    "page 1 changed (new records at the head)".to_owned()
                } else if page >= last {
                    format!("the end of the listing moved (page {page})")
                } else {
                    format!("page {page} shifted (a record appeared on two pages)")
                }));
            }
        }
        Ok(None)
    }

    async fn land(&mut self, landed: LandedPage) -> Result<(), SyncError> {
        self.pages_fetched += 1;
        self.to_writer
            .send(landed)
            .await
            .map_err(|_| SyncError::WriterStopped)
    }
}

/// Pairs of pages (first, later) on which the same record appeared.
fn cross_page_repeats(pages: &[Vec<u64>]) -> Vec<(u32, u32)> {
    let mut first_page: HashMap<u64, u32> = HashMap::with_capacity(pages.len() * 10);
    let mut pairs = Vec::new();
    for (index, ids) in pages.iter().enumerate() {
        let page = index as u32 + 1;
        for &id in ids {
            match first_page.get(&id) {
                Some(&earlier) if earlier != page => pairs.push((earlier, page)),
                Some(_) => {}
                None => {
                    first_page.insert(id, page);
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// A spawned page task that is cancelled if the pass stops early (end of
/// listing reached, or a page failed), instead of retrying on in the background.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<Result<T, SyncError>> {
    type Output = Result<T, SyncError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| joined.unwrap_or_else(|err| Err(SyncError::Task(err.to_string()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_repeated_on_another_page_is_reported_once_per_page_pair() {
        let pages = vec![vec![1, 2, 3], vec![3, 4, 4], vec![5, 3]];
        assert_eq!(cross_page_repeats(&pages), vec![(1, 2), (1, 3)]);
    }

    #[test]
    fn a_repeat_within_one_page_is_not_a_shift() {
        assert!(cross_page_repeats(&[vec![1, 1, 2], vec![3]]).is_empty());
    }
}
