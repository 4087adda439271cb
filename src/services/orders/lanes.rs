//! Group commit for storefront orders (issue 17). Orders that arrive together are placed
//! in one transaction (`orders::place_orders_together`) by a lane: a thread that takes
//! what has queued up, checks out one connection, places the batch and answers each
//! order once the batch is committed. A waiting request holds no connection.
//!
//! Orders for the same SKU go to the same lane, so a launch's hot SKU is batched instead
//! of its orders queueing one by one behind the product's lock; other SKUs spread over
//! the other lanes, side by side. A lane that is full answers "try again" (503).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use chrono::NaiveDate;
use tokio::sync::oneshot;

pub use crate::config::LaneSettings;
use crate::db::PgPool;
use crate::db::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::services::orders::{self, NewOrder, Placed};

struct Job {
    actor: Actor,
    order: NewOrder,
    answer: oneshot::Sender<AppResult<Placed>>,
}

pub struct OrderLanes {
    lanes: Vec<SyncSender<Job>>,
}

impl OrderLanes {
    /// Starts the lanes' threads; they end when this is dropped.
    pub fn start(pool: PgPool, settings: LaneSettings) -> std::io::Result<Self> {
        let lanes = (0..settings.lanes.max(1))
            .map(|i| {
                let (sender, receiver) = mpsc::sync_channel(settings.depth.max(1));
                let pool = pool.clone();
                let batch_max = settings.batch_max.max(1);
                std::thread::Builder::new()
                    .name(format!("order-lane-{i}"))
                    .spawn(move || run_lane(&pool, &receiver, batch_max))?;
                Ok(sender)
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self { lanes })
    }

    /// Places the order with the others that arrive with it; the answer is the one
    /// `orders::place_order` would give, once the order is committed.
    pub async fn place(&self, actor: Actor, order: NewOrder) -> AppResult<Placed> {
        let lane = &self.lanes[lane_of(&order, self.lanes.len())];
        let (answer, answered) = oneshot::channel();
        match lane.try_send(Job {
            actor,
            order,
            answer,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(AppError::Unavailable(
                    "too many orders are waiting to be placed".to_owned(),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(AppError::Internal(anyhow::anyhow!("an order lane stopped")));
            }
        }
        answered
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("an order lane dropped an order")))?
    }
}

/// The lane of an order: by its first SKU in alphabetical order, so that all orders for
/// one SKU meet in one lane.
fn lane_of(order: &NewOrder, lanes: usize) -> usize {
    let Some(sku) = order.lines.iter().map(|l| l.sku.as_str()).min() else {
        return 0;
    };
    let mut hasher = DefaultHasher::new();
    sku.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

fn run_lane(pool: &PgPool, jobs: &Receiver<Job>, batch_max: usize) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        place_batch(pool, batch, crate::clock::today());
    }
}

fn place_batch(pool: &PgPool, batch: Vec<Job>, today: NaiveDate) {
    let (orders, answers): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|job| ((job.actor, job.order), job.answer))
        .unzip();
    let count = orders.len();
    let results: Vec<AppResult<Placed>> =
        match crate::metrics::waiting_for(&crate::metrics::PRIMARY_WAITING, || pool.get()) {
            Ok(mut conn) => orders::place_orders_together(&mut conn, orders, today),
            Err(error) => (0..count)
                .map(|_| Err(AppError::Unavailable(error.to_string())))
                .collect(),
        };
    for (answer, result) in answers.into_iter().zip(results) {
        // The request may have gone (its client hung up); the order stands regardless.
        let _ = answer.send(result);
    }
}
