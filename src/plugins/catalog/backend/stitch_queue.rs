//! Durable stitching: the `stitch_queue` table of entities whose final form must be rebuilt,
//! and the drain that rebuilds them.
//!
//! Every transaction that changes what an entity's final form depends on (its processed
//! entity, its relations, whether anything still references it) queues the entity in the same
//! transaction. The queue is drained after each processing pass and on every refresh tick, so
//! a pass interrupted at any line (a crash, a cancelled request, a database error, a shutdown)
//! is finished by the next drain, in this process or another one sharing the database.
//!
//! Each queued row carries a ticket; the drain removes only the rows whose ticket it read.
//! Every transaction that writes the queue holds the catalog's writer lock, so a mark is
//! never set between a drain's read of a row and its removal. A row marked `eager` is
//! deleted (with its unreferenced subtree) when nothing references it any more, whatever
//! `catalog.orphanStrategy` says: that is how entities a provider removed go away.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::services::database::{DbTransaction, Dialect, Sql, placeholders};
use crate::services::logger::LogLevel;

use super::error::CatalogError;
use super::index::{Codec, IndexedEntity};
use super::processing::{Engine, OrphanStrategy};
use super::stitching::{build_final, search_rows};
use super::store::{self, FinalWrite};

/// Entities stitched per transaction (a few in unit tests, so that every drain there spans
/// several chunks).
///
/// On SQLite a chunk's working set (its JSON, search rows, bound texts, page cache) lives in
/// this process and a commit is cheap, so chunks are 1,000: at 100,000 entities that holds
/// about 20 MB less at the peak than 2,000, for the same time. On PostgreSQL and MySQL each
/// commit waits for the server's log flush and the caches live in the server, so chunks are
/// 2,000: 1,000 made a 100,000-entity ingestion about 1.2 s (6 %) slower there.
#[cfg(not(test))]
fn stitch_chunk(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 1000,
        _ => 2000,
    }
}
#[cfg(test)]
fn stitch_chunk(_: Dialect) -> usize {
    3
}
/// Parts of a stitch chunk built at once while an earlier part is written: with the parts
/// read beside the writing transaction, building is the slowest stage of the three, and one
/// blocking thread per part in flight keeps both cores of a small host busy.
const BUILDING: usize = 2;
/// Rows per multi-row insert into the queue (three binds each).
const ROWS_PER_INSERT: usize = 2000;

/// Entities to queue, each with whether it is to be deleted once unreferenced.
#[derive(Debug, Default)]
pub(crate) struct StitchMarks(HashMap<String, bool>);

impl StitchMarks {
    /// Queues `entity_ref` for stitching (an earlier eager mark stays eager).
    pub(crate) fn stitch(&mut self, entity_ref: impl Into<String>) {
        self.0.entry(entity_ref.into()).or_insert(false);
    }

    /// Queues `entity_ref` for deletion once nothing references it.
    pub(crate) fn delete_if_unreferenced(&mut self, entity_ref: impl Into<String>) {
        self.0.insert(entity_ref.into(), true);
    }

    /// Queues every ref of `refs` for stitching.
    pub(crate) fn stitch_all(&mut self, refs: impl IntoIterator<Item = String>) {
        for r in refs {
            self.stitch(r);
        }
    }

    /// Writes the marks in `tx`, which holds the catalog's writer lock.
    ///
    /// A plain mark leaves a row already queued as it is (`DO NOTHING`): every transaction
    /// that writes the queue, the drain's among them, holds the writer lock from before its
    /// first queue statement until it ends (from its first statement, but for the batches of
    /// `Engine::write_fresh_beside`, which take it before their marks), so no drain can have
    /// read that row and be about to dequeue it. Re-marking
    /// costs an index probe instead of a new row version; during a first ingestion most marks
    /// are re-marks (a group or an API is marked by every batch that relates to it). An eager
    /// mark makes a queued row eager.
    pub(crate) async fn write(self, tx: &mut DbTransaction) -> Result<(), CatalogError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let ticket = uuid::Uuid::new_v4().simple().to_string();
        let (mut plain, mut eager) = (Vec::new(), Vec::new());
        for (entity_ref, is_eager) in self.0 {
            if is_eager {
                eager.push(entity_ref);
            } else {
                plain.push(entity_ref);
            }
        }
        for (refs, eager) in [(plain, false), (eager, true)] {
            if refs.is_empty() {
                continue;
            }
            #[cfg(feature = "postgres")]
            if let DbTransaction::Postgres(conn) = &mut *tx {
                pg::queue(conn, refs, &ticket, eager).await?;
                continue;
            }
            queue(tx, refs, &ticket, eager).await?;
        }
        Ok(())
    }
}

/// Queues `refs` with `ticket` (see [`StitchMarks::write`]), in multi-row inserts.
async fn queue(
    tx: &mut DbTransaction,
    refs: Vec<String>,
    ticket: &str,
    eager: bool,
) -> Result<(), CatalogError> {
    let on_conflict = match (tx.dialect(), eager) {
        (Dialect::Mysql, false) => " ON DUPLICATE KEY UPDATE entity_ref = entity_ref",
        (Dialect::Mysql, true) => " ON DUPLICATE KEY UPDATE ticket = VALUES(ticket), eager = 1",
        (_, false) => " ON CONFLICT (entity_ref) DO NOTHING",
        (_, true) => " ON CONFLICT (entity_ref) DO UPDATE SET ticket = excluded.ticket, eager = 1",
    };
    for batch in refs.chunks(ROWS_PER_INSERT) {
        let mut sql = Sql::new("INSERT INTO stitch_queue (entity_ref, ticket, eager) VALUES ");
        for (i, entity_ref) in batch.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.push_bind(entity_ref.clone())
                .push(", ")
                .push_bind(ticket.to_owned())
                .push(", ")
                .push_bind(i64::from(eager))
                .push(")");
        }
        sql.push(on_conflict);
        sql.execute(&mut *tx)
            .await
            .map_err(CatalogError::db("queue stitching"))?;
    }
    Ok(())
}

/// A queued row: `(entity ref, ticket, eager)`.
type Queued = (String, String, i64);

async fn next_chunk(tx: &mut DbTransaction) -> Result<Vec<Queued>, CatalogError> {
    Sql::new("SELECT entity_ref, ticket, eager FROM stitch_queue ORDER BY entity_ref LIMIT ?")
        .bind(stitch_chunk(tx.dialect()) as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("read stitch queue"))
}

/// Removes the rows read in `rows`, unless they were queued again since (a new ticket).
async fn dequeue(tx: &mut DbTransaction, rows: &[Queued]) -> Result<(), CatalogError> {
    #[cfg(feature = "postgres")]
    if let DbTransaction::Postgres(conn) = &mut *tx {
        return pg::dequeue(conn, rows).await;
    }
    let tickets: Vec<&String> = rows
        .iter()
        .map(|r| &r.1)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in rows.chunks(500) {
        Sql::new(format!(
            "DELETE FROM stitch_queue WHERE entity_ref IN ({}) AND ticket IN ({})",
            placeholders(chunk.len()),
            placeholders(tickets.len())
        ))
        .bind_all(chunk.iter().map(|r| r.0.clone()))
        .bind_all(tickets.iter().map(|t| (*t).clone()))
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::db("dequeue stitched entities"))?;
    }
    Ok(())
}

/// The same statements on PostgreSQL with an array per column: one statement text whatever
/// the number of rows, so it is prepared and planned once per connection.
#[cfg(feature = "postgres")]
mod pg {
    use sqlx::PgConnection;

    use super::{Queued, ROWS_PER_INSERT};
    use crate::plugins::catalog::backend::error::CatalogError;
    use crate::services::database::DatabaseError;

    fn fail(op: &'static str, text: &'static str) -> impl FnOnce(sqlx::Error) -> CatalogError {
        move |e| CatalogError::db(op)(DatabaseError::query(text, e))
    }

    pub(super) async fn queue(
        conn: &mut PgConnection,
        refs: Vec<String>,
        ticket: &str,
        eager: bool,
    ) -> Result<(), CatalogError> {
        const PLAIN: &str = "INSERT INTO stitch_queue (entity_ref, ticket, eager) \
            SELECT r, $2, 0 FROM UNNEST($1::text[]) AS v(r) \
            ON CONFLICT (entity_ref) DO NOTHING";
        const EAGER: &str = "INSERT INTO stitch_queue (entity_ref, ticket, eager) \
            SELECT r, $2, 1 FROM UNNEST($1::text[]) AS v(r) \
            ON CONFLICT (entity_ref) DO UPDATE SET ticket = excluded.ticket, eager = 1";
        let text = if eager { EAGER } else { PLAIN };
        for batch in refs.chunks(ROWS_PER_INSERT) {
            sqlx::query(text)
                .bind(batch)
                .bind(ticket)
                .execute(&mut *conn)
                .await
                .map_err(fail("queue stitching", text))?;
        }
        Ok(())
    }

    pub(super) async fn dequeue(
        conn: &mut PgConnection,
        rows: &[Queued],
    ) -> Result<(), CatalogError> {
        const TEXT: &str = "DELETE FROM stitch_queue AS q USING UNNEST($1::text[], $2::text[]) \
            AS v(r, t) WHERE q.entity_ref = v.r AND q.ticket = v.t";
        for batch in rows.chunks(ROWS_PER_INSERT) {
            let refs: Vec<&str> = batch.iter().map(|r| r.0.as_str()).collect();
            let tickets: Vec<&str> = batch.iter().map(|r| r.1.as_str()).collect();
            sqlx::query(TEXT)
                .bind(refs)
                .bind(tickets)
                .execute(&mut *conn)
                .await
                .map_err(fail("dequeue stitched entities", TEXT))?;
        }
        Ok(())
    }
}

impl Engine {
    /// Stitches everything queued, a chunk per transaction, each chunk handed to the index
    /// right after its commit; deletes the queued entities nothing references where they
    /// are eager or the orphan strategy is `delete`. Returns how many rows were drained.
    /// Callers hold the engine lock.
    pub(crate) async fn drain_stitch_queue(&self) -> Result<usize, CatalogError> {
        let mut drained = 0;
        // The index takes each chunk on a blocking thread, in order, while the next chunk's
        // transaction goes on; the drain returns once the index holds everything.
        let mut applying: Option<tokio::task::JoinHandle<()>> = None;
        loop {
            let mut tx = self.begin().await?;
            let rows = next_chunk(&mut tx).await?;
            if rows.is_empty() {
                tx.commit().await.map_err(CatalogError::db("commit"))?;
                if let Some(handle) = applying {
                    handle.await.map_err(|_| CatalogError::Interrupted)?;
                }
                return Ok(drained);
            }
            drained += rows.len();
            let refs: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
            let unreferenced = store::unreferenced(&mut tx, &refs).await?;
            let delete_orphans = self.options.orphan_strategy == OrphanStrategy::Delete;
            let mut marks = StitchMarks::default();
            let mut removed = Vec::new();
            // Eager rows take their unreferenced subtree with them; orphans under the `delete`
            // strategy leave their children to the same rule in their own turn.
            let (eager, orphans): (Vec<&Queued>, Vec<&Queued>) = rows
                .iter()
                .filter(|(r, _, _)| unreferenced.contains(r))
                .partition(|(_, _, eager)| *eager != 0);
            let orphans: Vec<&Queued> = if delete_orphans { orphans } else { Vec::new() };
            let mut doomed = HashSet::new();
            for (group, prune) in [(eager, true), (orphans, false)] {
                let refs: Vec<String> = group.iter().map(|r| r.0.clone()).collect();
                self.delete_now(&mut tx, &refs, prune, &mut marks, &mut removed)
                    .await?;
                doomed.extend(refs);
            }
            let live: Vec<String> = refs.into_iter().filter(|r| !doomed.contains(r)).collect();
            // Deleting may leave some of the rest unreferenced: then read again.
            let unreferenced = if removed.is_empty() {
                Some(unreferenced)
            } else {
                None
            };
            let changed = self.stitch(&mut tx, &live, unreferenced).await?;
            dequeue(&mut tx, &rows).await?;
            marks.write(&mut tx).await?;
            let generation = if changed.is_empty() && removed.is_empty() {
                None
            } else {
                Some(
                    store::bump_generation(
                        &mut tx,
                        changed
                            .iter()
                            .map(|e| e.entity_id.as_str())
                            .chain(removed.iter().map(String::as_str)),
                    )
                    .await?,
                )
            };
            tx.commit().await.map_err(CatalogError::db("commit"))?;
            self.checkpoint_beside_writer();
            if generation.is_some() {
                if let Some(handle) = applying.take() {
                    handle.await.map_err(|_| CatalogError::Interrupted)?;
                }
                let index = self.index.clone();
                applying = Some(tokio::task::spawn_blocking(move || {
                    index.apply(changed, &removed, generation);
                }));
            }
        }
    }

    /// Deletes entities right away (their ids go to `removed`); the entities whose relations
    /// pointed at them are queued for stitching, and so are their children: for deletion
    /// once unreferenced when `prune_children` (Backstage's eager pruning of a provider's
    /// removals), as orphan candidates otherwise.
    pub(crate) async fn delete_now(
        &self,
        tx: &mut DbTransaction,
        refs: &[String],
        prune_children: bool,
        marks: &mut StitchMarks,
        removed: &mut Vec<String>,
    ) -> Result<(), CatalogError> {
        let rows = store::ids_of(tx, refs).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
        let refs: Vec<String> = rows.into_iter().map(|(_, r)| r).collect();
        let gone: HashSet<&String> = refs.iter().collect();
        for source in store::relation_sources_of(tx, &ids).await? {
            if !gone.contains(&source) {
                marks.stitch(source);
            }
        }
        for (_, child) in store::reference_targets(tx, &refs).await? {
            if prune_children {
                marks.delete_if_unreferenced(child);
            } else {
                marks.stitch(child);
            }
        }
        store::delete_entities(tx, &ids, &refs).await?;
        removed.extend(ids);
        Ok(())
    }

    /// Stitches `refs` whose final form changed; returns what changed for the index.
    /// `unreferenced`, when given, holds which of `refs` nothing references, as of this
    /// transaction.
    ///
    /// `refs` go in parts of a quarter chunk, pipelined: while one part's final entities are
    /// built (and compressed) on a blocking thread, the next part is read and the part built
    /// before is written. The CPU work of building overlaps the database's work instead of
    /// alternating with it; the transaction's statements stay in order.
    ///
    /// When `unreferenced` is given (this transaction deleted nothing) and the database
    /// allows it ([`Engine::reads_beside`]), the parts are read on a read transaction of their
    /// own, beside this one's writes (see [`Engine::read_beside`]); otherwise in this
    /// transaction.
    async fn stitch(
        &self,
        tx: &mut DbTransaction,
        refs: &[String],
        unreferenced: Option<HashSet<String>>,
    ) -> Result<Vec<IndexedEntity>, CatalogError> {
        let part = stitch_chunk(tx.dialect()).div_ceil(4).max(1);
        let (inputs, reader) = match (unreferenced, self.me.upgrade()) {
            (Some(known), Some(engine)) if refs.len() > part && self.reads_beside() => {
                let (send, received) = tokio::sync::mpsc::channel(1);
                let parts: Vec<Vec<String>> = refs.chunks(part).map(<[String]>::to_vec).collect();
                let reader =
                    tokio::spawn(async move { engine.read_beside(parts, known, send).await });
                (Inputs::Beside(received), Some(reader))
            }
            (unreferenced, _) => (
                Inputs::Here {
                    parts: refs.chunks(part),
                    unreferenced,
                },
                None,
            ),
        };
        let result = self.stitch_parts(tx, inputs).await;
        if let Some(reader) = reader {
            // The reader stops early only when it failed, or when the parts stopped being
            // taken (then `result` holds the error).
            reader.await.map_err(|_| CatalogError::Interrupted)??;
        }
        result
    }

    /// Whether a stitching transaction may read its parts beside itself
    /// ([`Engine::read_beside`]): wherever a read never waits for another transaction's
    /// writes (PostgreSQL's and MySQL's snapshots, SQLite's write-ahead log), so not on an
    /// in-memory SQLite database. There the pool's connections share one cache with a lock
    /// per table, and a read of a table the stitching transaction has written waits for its
    /// commit, while that transaction waits for the read.
    pub(crate) fn reads_beside(&self) -> bool {
        !(self.db.dialect() == Dialect::Sqlite && self.db.location() == ":memory:")
    }

    /// Builds and writes the parts `inputs` yields, in order (see [`Engine::stitch`]).
    async fn stitch_parts(
        &self,
        tx: &mut DbTransaction,
        mut inputs: Inputs<'_>,
    ) -> Result<Vec<IndexedEntity>, CatalogError> {
        let mut changed = Vec::new();
        let mut building: VecDeque<tokio::task::JoinHandle<BuiltPart>> = VecDeque::new();
        loop {
            let next = match &mut inputs {
                Inputs::Beside(received) => match received.recv().await {
                    Some(input) => Some(input),
                    None => break,
                },
                Inputs::Here {
                    parts,
                    unreferenced,
                } => match parts.next() {
                    Some(refs) => read_part(tx, refs, unreferenced.as_ref()).await?,
                    None => break,
                },
            };
            if let Some(input) = next {
                let index = self.index.clone();
                building.push_back(tokio::task::spawn_blocking(move || {
                    build_part(input, index.codec())
                }));
            }
            // The oldest part is written while the ones after it are built.
            while building.len() > BUILDING {
                if let Some(handle) = building.pop_front() {
                    let built = handle.await.map_err(|_| CatalogError::Interrupted)?;
                    self.write_part(tx, built, &mut changed).await?;
                }
            }
        }
        for handle in building {
            let built = handle.await.map_err(|_| CatalogError::Interrupted)?;
            self.write_part(tx, built, &mut changed).await?;
        }
        Ok(changed)
    }

    /// Reads `parts` for a stitching transaction on a read transaction of its own, and sends
    /// each part's input to `send`: the database reads the next parts beside the stitching
    /// transaction's writes (on PostgreSQL and MySQL, in another server process). It reads
    /// what the stitching transaction would read. That transaction holds the catalog's writer
    /// lock, so nothing these reads see changes before it commits, and none of its own writes
    /// is among what they see: it deleted nothing, and the final rows it writes are those of
    /// other parts. `known_unreferenced` is what it found unreferenced.
    async fn read_beside(
        &self,
        parts: Vec<Vec<String>>,
        known_unreferenced: HashSet<String>,
        send: tokio::sync::mpsc::Sender<PartInput>,
    ) -> Result<(), CatalogError> {
        let mut tx = self.begin_read().await?;
        for refs in &parts {
            let Some(input) = read_part(&mut tx, refs, Some(&known_unreferenced)).await? else {
                continue;
            };
            if send.send(input).await.is_err() {
                // The stitching transaction stopped taking parts: it failed.
                break;
            }
        }
        tx.commit().await.map_err(CatalogError::db("commit"))
    }

    /// Writes a built part's final entities; what changed joins `changed`.
    async fn write_part(
        &self,
        tx: &mut DbTransaction,
        built: BuiltPart,
        changed: &mut Vec<IndexedEntity>,
    ) -> Result<(), CatalogError> {
        for (entity_ref, error) in &built.failed {
            self.logger.log(
                LogLevel::Warn,
                "cannot stitch entity",
                &[("entity", entity_ref), ("error", error)],
            );
        }
        store::write_finals(tx, built.writes, &built.stored).await?;
        changed.extend(built.indexed);
        Ok(())
    }
}

/// Reads what building a part's final entities takes; `None` when none of `refs` is
/// stored any more.
async fn read_part(
    tx: &mut DbTransaction,
    refs: &[String],
    unreferenced: Option<&HashSet<String>>,
) -> Result<Option<PartInput>, CatalogError> {
    let rows = store::stitch_rows(tx, refs).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let present: Vec<String> = rows.iter().map(|r| r.entity_ref.clone()).collect();
    let relations = store::relations_from(tx, &present).await?;
    let stored = store::stored_finals(tx, &present).await?;
    let orphans: HashSet<String> = match unreferenced {
        Some(known) => present.into_iter().filter(|r| known.contains(r)).collect(),
        None => store::unreferenced(tx, &present).await?,
    };
    Ok(Some(PartInput {
        rows,
        relations,
        orphans,
        stored,
    }))
}

/// Where a stitching transaction's parts come from.
enum Inputs<'a> {
    /// Read by [`Engine::read_beside`] on a read transaction of its own.
    Beside(tokio::sync::mpsc::Receiver<PartInput>),
    /// Read in the stitching transaction, part by part.
    Here {
        parts: std::slice::Chunks<'a, String>,
        unreferenced: Option<HashSet<String>>,
    },
}

/// What building one part of a stitch chunk takes, read in the stitching transaction or
/// beside it.
struct PartInput {
    rows: Vec<store::StitchRow>,
    /// `(type, target)` of the relations whose source is each entity ref.
    relations: HashMap<String, Vec<(String, String)>>,
    /// The refs of `rows` nothing references.
    orphans: HashSet<String>,
    /// The stored final row of each ref that has one: `(entity_id, hash)`.
    stored: HashMap<String, (String, String)>,
}

/// A part's final entities, built: the rows to write, the entities for the index, and the
/// entities that could not be built (`(ref, error)`).
struct BuiltPart {
    writes: Vec<FinalWrite>,
    indexed: Vec<IndexedEntity>,
    stored: HashMap<String, (String, String)>,
    failed: Vec<(String, String)>,
}

/// Builds a part's final entities (CPU only: runs on a blocking thread). An entity whose
/// final form did not change (same hash as stored) is left out.
fn build_part(input: PartInput, codec: &Codec) -> BuiltPart {
    let PartInput {
        rows,
        mut relations,
        orphans,
        stored,
    } = input;
    let (mut writes, mut indexed, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let orphan = orphans.contains(&row.entity_ref);
        let mut rels = relations.remove(&row.entity_ref).unwrap_or_default();
        let built = own_relations(row.relations.as_deref()).and_then(|own| {
            rels.extend(own);
            build_final(&row.processed, row.errors.as_deref(), rels, orphan)
        });
        let (entity, hash) = match built {
            Ok(x) => x,
            Err(e) => {
                failed.push((row.entity_ref, e.to_string()));
                continue;
            }
        };
        if stored
            .get(&row.entity_ref)
            .is_some_and(|(id, stored)| *id == row.entity_id && *stored == hash)
        {
            continue;
        }
        let json = entity.to_string();
        indexed.push(IndexedEntity::new(
            codec,
            row.entity_id.clone(),
            row.entity_ref.clone(),
            hash.clone(),
            &json,
            search_rows(&entity),
        ));
        drop(entity);
        // The text itself moves to the write.
        writes.push(FinalWrite {
            json,
            entity_id: row.entity_id,
            entity_ref: row.entity_ref,
            hash,
        });
    }
    BuiltPart {
        writes,
        indexed,
        stored,
        failed,
    }
}

/// An entity's own relations as stored with it (`[[type, target], …]`; none when `None`).
fn own_relations(text: Option<&str>) -> Result<Vec<(String, String)>, serde_json::Error> {
    text.map_or(Ok(Vec::new()), serde_json::from_str)
}

#[cfg(test)]
#[path = "stitch_queue_tests.rs"]
mod tests;
