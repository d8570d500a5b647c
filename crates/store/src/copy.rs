//! `verbatim migrate-store`: copies a SQLite store into an empty PostgreSQL store, every table
//! in foreign-key order, value for value (integers, text and bytes as SQLite holds them), in
//! one PostgreSQL transaction, then checks that both sides hold the same number of rows.

use crate::{PostgresStore, SqliteStore, StoreError};
use futures_util::TryStreamExt;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, Row, TypeInfo, ValueRef};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where a copy is: `copied` of `total` rows of `table` (reported at the start of each table
/// and after each batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyProgress {
    pub table: String,
    pub copied: i64,
    pub total: i64,
}

/// What was copied: per table, in copy order, its rows in SQLite and then in PostgreSQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, i64, i64)>,
}

/// sqlx's record of applied migrations: each store keeps its own.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";
/// PostgreSQL allows 65,535 parameters per statement.
const MAX_PARAMETERS: usize = 60_000;
const MAX_BATCH_ROWS: usize = 1_000;
/// Keeps a batch of large values (payload bytes, item JSON) to a modest size in memory.
const MAX_BATCH_BYTES: usize = 8 << 20;

/// One SQLite value, by its storage class.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    fn size(&self) -> usize {
        match self {
            Cell::Null | Cell::Integer(_) | Cell::Real(_) => 8,
            Cell::Text(text) => text.len(),
            Cell::Blob(bytes) => bytes.len(),
        }
    }
}

/// How a PostgreSQL column takes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Integer,
    Real,
    Text,
    Bytes,
}

impl Target {
    fn of(data_type: &str) -> Option<Target> {
        match data_type {
            "bigint" | "integer" | "smallint" => Some(Target::Integer),
            "double precision" | "real" => Some(Target::Real),
            "text" | "character varying" | "character" => Some(Target::Text),
            "bytea" => Some(Target::Bytes),
            _ => None,
        }
    }
}

/// A table to copy: its columns as SQLite lists them, with the PostgreSQL column type of each.
struct Table {
    name: String,
    columns: Vec<(String, Target)>,
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Copies every table of `from` into `to`, which must be empty (migrated, with no rows).
/// Nothing is written unless everything is: one PostgreSQL transaction, row counts compared
/// before it commits. Identity sequences are set past the largest id copied.
pub async fn copy_sqlite_to_postgres(
    from: &SqliteStore,
    to: &PostgresStore,
    progress: &mut (dyn FnMut(CopyProgress) + Send),
) -> Result<CopyReport, StoreError> {
    // One read transaction: every table as of one moment, even if a process still writes.
    let mut source = from.pool().begin().await?;
    let mut target = to.pool().begin().await?;

    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> ? ORDER BY name",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(&mut *source)
    .await?;
    let mut references: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &names {
        let parents: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)")
                .bind(name)
                .fetch_all(&mut *source)
                .await?;
        references.insert(
            name.clone(),
            parents
                .into_iter()
                .filter(|parent| parent != name)
                .collect(),
        );
    }
    let order = foreign_key_order(&references)?;

    let pg_columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut *target)
    .await?;
    let mut pg_types: HashMap<(String, String), String> = HashMap::new();
    for (table, column, data_type) in pg_columns {
        pg_types.insert((table, column), data_type);
    }
    let mut tables = Vec::with_capacity(order.len());
    for name in &order {
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                .bind(name)
                .fetch_all(&mut *source)
                .await?;
        let mut typed = Vec::with_capacity(columns.len());
        for column in columns {
            let data_type = pg_types
                .get(&(name.clone(), column.clone()))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "copy: column {name}.{column} is not in the PostgreSQL schema \
                         (are both stores at the same version of Verbatim?)"
                    ))
                })?;
            let kind = Target::of(data_type).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "copy: column {name}.{column} has PostgreSQL type {data_type}, \
                     which the copy does not fill"
                ))
            })?;
            typed.push((column, kind));
        }
        tables.push(Table {
            name: name.clone(),
            columns: typed,
        });
    }

    // Only into an empty store, and nobody writes to it until the copy commits.
    let list = order.iter().map(|name| quote(name)).collect::<Vec<_>>();
    if !list.is_empty() {
        sqlx::query(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", list.join(", ")))
            .execute(&mut *target)
            .await?;
    }
    let mut occupied = Vec::new();
    for name in &order {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(name)))
            .fetch_one(&mut *target)
            .await?;
        if rows > 0 {
            occupied.push(format!("{name} ({rows} rows)"));
        }
    }
    if !occupied.is_empty() {
        return Err(StoreError::Database(sqlx::Error::Configuration(
            format!(
                "the PostgreSQL store is not empty: {}; migrate-store copies only into a new \
                 database",
                occupied.join(", ")
            )
            .into(),
        )));
    }

    let mut totals = Vec::with_capacity(tables.len());
    for table in &tables {
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(&table.name)))
                .fetch_one(&mut *source)
                .await?;
        totals.push(total);
    }

    for (table, total) in tables.iter().zip(&totals) {
        progress(CopyProgress {
            table: table.name.clone(),
            copied: 0,
            total: *total,
        });
        if table.columns.is_empty() {
            continue;
        }
        let select = format!(
            "SELECT {} FROM {}",
            table
                .columns
                .iter()
                .map(|(column, _)| quote(column))
                .collect::<Vec<_>>()
                .join(", "),
            quote(&table.name)
        );
        let per_row = table.columns.len();
        let max_rows = (MAX_PARAMETERS / per_row).clamp(1, MAX_BATCH_ROWS);
        let mut batch: Vec<Vec<Cell>> = Vec::new();
        let mut batch_bytes = 0;
        let mut copied = 0i64;
        let mut rows = sqlx::query(&select).fetch(&mut *source);
        while let Some(row) = rows.try_next().await? {
            let cells = read_row(&row, table)?;
            batch_bytes += cells.iter().map(Cell::size).sum::<usize>();
            batch.push(cells);
            if batch.len() >= max_rows || batch_bytes >= MAX_BATCH_BYTES {
                copied += insert_batch(&mut target, table, &batch).await?;
                batch.clear();
                batch_bytes = 0;
                progress(CopyProgress {
                    table: table.name.clone(),
                    copied,
                    total: *total,
                });
            }
        }
        drop(rows);
        if !batch.is_empty() {
            copied += insert_batch(&mut target, table, &batch).await?;
            progress(CopyProgress {
                table: table.name.clone(),
                copied,
                total: *total,
            });
        }
    }

    // New rows on PostgreSQL continue after the largest id copied.
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY 1, 2",
    )
    .fetch_all(&mut *target)
    .await?;
    for (table, column) in identities {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), \
             COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)",
            column = quote(&column),
            table = quote(&table),
        ))
        .bind(quote(&table))
        .bind(&column)
        .execute(&mut *target)
        .await?;
    }

    let mut report = CopyReport::default();
    let mut differ = Vec::new();
    for (table, total) in tables.iter().zip(&totals) {
        let copied: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(&table.name)))
                .fetch_one(&mut *target)
                .await?;
        if copied != *total {
            differ.push(format!(
                "{}: {total} in SQLite, {copied} in PostgreSQL",
                table.name
            ));
        }
        report.tables.push((table.name.clone(), *total, copied));
    }
    if !differ.is_empty() {
        // Dropping the transaction rolls the copy back.
        return Err(StoreError::Corrupt(format!(
            "copy: row counts differ, nothing was copied: {}",
            differ.join("; ")
        )));
    }
    target.commit().await?;
    source.rollback().await?;
    Ok(report)
}

/// Tables ordered so that every table comes after those its foreign keys reference (by name
/// where the order is free).
fn foreign_key_order(
    references: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<String>, StoreError> {
    let mut order: Vec<String> = Vec::with_capacity(references.len());
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    while order.len() < references.len() {
        let next = references.iter().find(|(name, parents)| {
            !placed.contains(name.as_str())
                && parents.iter().all(|parent| {
                    placed.contains(parent.as_str()) || !references.contains_key(parent)
                })
        });
        let Some((name, _)) = next else {
            let left: Vec<&str> = references
                .keys()
                .map(String::as_str)
                .filter(|name| !placed.contains(name))
                .collect();
            return Err(StoreError::Corrupt(format!(
                "copy: the foreign keys of {} form a cycle",
                left.join(", ")
            )));
        };
        placed.insert(name.as_str());
        order.push(name.clone());
    }
    Ok(order)
}

/// A SQLite row's values by storage class, checked against the PostgreSQL column types.
fn read_row(row: &SqliteRow, table: &Table) -> Result<Vec<Cell>, StoreError> {
    let mut cells = Vec::with_capacity(table.columns.len());
    for (index, (column, target)) in table.columns.iter().enumerate() {
        let raw = row.try_get_raw(index)?;
        let cell = if raw.is_null() {
            Cell::Null
        } else {
            let class = raw.type_info().name().to_string();
            match class.as_str() {
                "INTEGER" => Cell::Integer(row.try_get(index)?),
                "REAL" => Cell::Real(row.try_get(index)?),
                "TEXT" => Cell::Text(row.try_get(index)?),
                _ => Cell::Blob(row.try_get(index)?),
            }
        };
        let fits = matches!(
            (&cell, target),
            (Cell::Null, _)
                | (Cell::Integer(_), Target::Integer | Target::Real)
                | (Cell::Real(_), Target::Real)
                | (Cell::Text(_), Target::Text | Target::Bytes)
                | (Cell::Blob(_), Target::Bytes)
        );
        if !fits {
            return Err(StoreError::Corrupt(format!(
                "copy: {}.{column} holds a value of storage class {cell_class} that its \
                 PostgreSQL column ({target:?}) cannot take",
                table.name,
                cell_class = match cell {
                    Cell::Null => "NULL",
                    Cell::Integer(_) => "INTEGER",
                    Cell::Real(_) => "REAL",
                    Cell::Text(_) => "TEXT",
                    Cell::Blob(_) => "BLOB",
                },
            )));
        }
        cells.push(cell);
    }
    Ok(cells)
}

/// One multi-row INSERT; returns the rows written.
async fn insert_batch(
    target: &mut sqlx::Transaction<'static, Postgres>,
    table: &Table,
    batch: &[Vec<Cell>],
) -> Result<i64, StoreError> {
    let width = table.columns.len();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        quote(&table.name),
        table
            .columns
            .iter()
            .map(|(column, _)| quote(column))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for row in 0..batch.len() {
        if row > 0 {
            sql.push_str(", ");
        }
        let placeholders: Vec<String> = (1..=width)
            .map(|column| format!("${}", row * width + column))
            .collect();
        sql.push('(');
        sql.push_str(&placeholders.join(", "));
        sql.push(')');
    }
    let mut query: Query<'_, Postgres, PgArguments> = sqlx::query(&sql);
    for cells in batch {
        for (cell, (_, target)) in cells.iter().zip(&table.columns) {
            query = match (cell, target) {
                (Cell::Null, Target::Integer) => query.bind(None::<i64>),
                (Cell::Null, Target::Real) => query.bind(None::<f64>),
                (Cell::Null, Target::Text) => query.bind(None::<String>),
                (Cell::Null, Target::Bytes) => query.bind(None::<Vec<u8>>),
                (Cell::Integer(value), Target::Real) => query.bind(*value as f64),
                (Cell::Integer(value), _) => query.bind(*value),
                (Cell::Real(value), _) => query.bind(*value),
                (Cell::Text(text), Target::Bytes) => query.bind(text.as_bytes()),
                (Cell::Text(text), _) => query.bind(text.as_str()),
                (Cell::Blob(bytes), _) => query.bind(bytes.as_slice()),
            };
        }
    }
    Ok(query.execute(&mut **target).await?.rows_affected() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(table, parents)| {
                (
                    table.to_string(),
                    parents.iter().map(|parent| parent.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn parents_come_first_and_cycles_are_refused() -> Result<(), StoreError> {
        let order = foreign_key_order(&graph(&[
            ("versions", &["stories"]),
            ("webhook_deliveries", &["webhook_events"]),
            ("webhook_events", &[]),
            ("stories", &[]),
            ("aliases", &["stories", "elsewhere"]),
        ]))?;
        assert_eq!(
            order,
            vec![
                "stories",
                "aliases",
                "versions",
                "webhook_events",
                "webhook_deliveries"
            ]
        );
        assert!(foreign_key_order(&graph(&[("a", &["b"]), ("b", &["a"])])).is_err());
        Ok(())
    }
}
