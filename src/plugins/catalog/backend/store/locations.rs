//! The `locations` table: locations registered through the API.

use crate::services::database::{PluginDatabase, Sql};

use super::super::error::CatalogError;
use super::*;

pub(crate) async fn list_locations(db: &PluginDatabase) -> Result<Vec<LocationRow>, CatalogError> {
    let rows: Vec<(String, String, String)> =
        Sql::new("SELECT id, type, target FROM catalog_locations ORDER BY type, target")
            .fetch_all(db)
            .await
            .map_err(CatalogError::db("list locations"))?;
    Ok(rows.into_iter().map(location_row).collect())
}

fn location_row((id, location_type, target): (String, String, String)) -> LocationRow {
    LocationRow {
        id,
        location_type,
        target,
    }
}

pub(crate) async fn location_by_id(
    db: &PluginDatabase,
    id: &str,
) -> Result<Option<LocationRow>, CatalogError> {
    let row: Option<(String, String, String)> =
        Sql::new("SELECT id, type, target FROM catalog_locations WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await
            .map_err(CatalogError::db("get location"))?;
    Ok(row.map(location_row))
}

pub(crate) async fn location_by_spec(
    db: &PluginDatabase,
    location_type: &str,
    target: &str,
) -> Result<Option<LocationRow>, CatalogError> {
    let row: Option<(String, String, String)> =
        Sql::new("SELECT id, type, target FROM catalog_locations WHERE type = ? AND target = ?")
            .bind(location_type)
            .bind(target)
            .fetch_optional(db)
            .await
            .map_err(CatalogError::db("find location"))?;
    Ok(row.map(location_row))
}

pub(crate) async fn insert_location(
    db: &PluginDatabase,
    row: &LocationRow,
) -> Result<bool, CatalogError> {
    let result = Sql::new("INSERT INTO catalog_locations (id, type, target) VALUES (?, ?, ?)")
        .bind(&row.id)
        .bind(&row.location_type)
        .bind(&row.target)
        .execute(db)
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(CatalogError::db("insert location")(e)),
    }
}

pub(crate) async fn delete_location(db: &PluginDatabase, id: &str) -> Result<bool, CatalogError> {
    let n = Sql::new("DELETE FROM catalog_locations WHERE id = ?")
        .bind(id)
        .execute(db)
        .await
        .map_err(CatalogError::db("delete location"))?;
    Ok(n > 0)
}

/// Replaces the type and target of location `row.id`: `Ok(false)` when no such location
/// exists, [`CatalogError::Conflict`] when another location already has that type and target.
pub(crate) async fn update_location(
    db: &PluginDatabase,
    row: &LocationRow,
) -> Result<bool, CatalogError> {
    let result = Sql::new("UPDATE catalog_locations SET type = ?, target = ? WHERE id = ?")
        .bind(&row.location_type)
        .bind(&row.target)
        .bind(&row.id)
        .execute(db)
        .await;
    match result {
        Ok(n) => Ok(n > 0),
        Err(e) if e.is_unique_violation() => Err(CatalogError::Conflict {
            what: "location",
            id: format!("{}:{}", row.location_type, row.target),
        }),
        Err(e) => Err(CatalogError::db("update location")(e)),
    }
}
