//! The location half of [`CatalogService`]: listing, adding and deleting locations.

use super::*;

impl CatalogService {
    /// Whether `caller` may read registered locations (`catalog.location.read`).
    pub(crate) async fn may_read_locations(&self, caller: &Caller) -> Result<bool, CatalogError> {
        self.authorizer
            .allows(caller, &CATALOG_LOCATION_READ, None)
            .await
    }

    /// Every registered location (none for a caller who may not read them).
    pub(crate) async fn locations(
        &self,
        caller: &Caller,
    ) -> Result<Vec<LocationRow>, CatalogError> {
        if !self.may_read_locations(caller).await? {
            return Ok(Vec::new());
        }
        self.all_locations().await
    }

    pub(crate) async fn all_locations(&self) -> Result<Vec<LocationRow>, CatalogError> {
        store::list_locations(self.db()).await
    }

    /// A registered location (404 for a caller who may not read locations).
    pub(crate) async fn location(
        &self,
        id: &str,
        caller: &Caller,
    ) -> Result<LocationRow, CatalogError> {
        if !self.may_read_locations(caller).await? {
            return Err(CatalogError::not_found("location", id));
        }
        self.location_row(id).await
    }

    pub(crate) async fn location_row(&self, id: &str) -> Result<LocationRow, CatalogError> {
        store::location_by_id(self.db(), id)
            .await?
            .ok_or_else(|| CatalogError::not_found("location", id))
    }

    /// `POST /locations`: `(location json, entities, exists)`; needs a user or service with
    /// `catalog.location.create`.
    pub(crate) async fn add_location(
        &self,
        location_type: &str,
        target: &str,
        dry_run: bool,
        caller: &Caller,
    ) -> Result<(Value, Vec<Value>, bool), CatalogError> {
        caller.user_or_service("registering locations")?;
        self.authorizer
            .require(caller, &CATALOG_LOCATION_CREATE, None)
            .await?;
        check_location_spec(location_type, target)?;
        if !dry_run && self.readonly {
            return Err(CatalogError::ReadOnly {
                operation: "registering locations",
            });
        }
        self.check_location_type(location_type)?;
        let target = if location_type == "file" {
            absolute_file_target(target)
        } else {
            target.to_owned()
        };
        let spec = LocationSpec::new(location_type, target);
        let existing =
            store::location_by_spec(self.db(), &spec.location_type, &spec.target).await?;
        if location_type == "file" || location_type == "url" {
            match self.engine.reader.read(&spec).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(CatalogError::Read {
                        location: spec.to_string(),
                        message: "not found".into(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        let entity = generated_location_entity(&spec);
        if dry_run {
            let (entities, errors) = self.engine.dry_run(entity).await?;
            if let Some(first) = errors.first() {
                let message = first["message"]
                    .as_str()
                    .unwrap_or("processing failed")
                    .to_owned();
                return Err(CatalogError::Read {
                    location: spec.to_string(),
                    message,
                });
            }
            let id = existing
                .as_ref()
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), |l| l.id.clone());
            let location = LocationRow {
                id,
                location_type: spec.location_type.clone(),
                target: spec.target.clone(),
            };
            return Ok((location.to_json(), entities, existing.is_some()));
        }
        if existing.is_some() {
            return Err(CatalogError::Conflict {
                what: "location",
                id: spec.to_string(),
            });
        }
        let row = LocationRow {
            id: uuid::Uuid::new_v4().to_string(),
            location_type: spec.location_type.clone(),
            target: spec.target.clone(),
        };
        if !store::insert_location(self.db(), &row).await? {
            return Err(CatalogError::Conflict {
                what: "location",
                id: spec.to_string(),
            });
        }
        self.engine
            .apply_mutation(
                LOCATION_STORE_PROVIDER,
                EntityProviderMutation::Delta {
                    added: vec![DeferredEntity::new(entity, Some(spec.to_string()))],
                    removed: Vec::new(),
                },
            )
            .await?;
        let entities = self.entities_of_origin(&spec.to_string()).await?;
        Ok((row.to_json(), entities, false))
    }

    async fn entities_of_origin(&self, origin: &str) -> Result<Vec<Value>, CatalogError> {
        let query = Predicate::In {
            key: format!("metadata.annotations.{ANNOTATION_ORIGIN_LOCATION}"),
            values: vec![origin.to_lowercase()],
        };
        let page = self
            .engine
            .index
            .page(&query, None, &[], &Position::Start, None);
        page.items.iter().map(|t| parse_json(t)).collect()
    }

    /// `DELETE /locations/:id`: needs a user or service with `catalog.location.delete`.
    pub(crate) async fn delete_location(
        &self,
        id: &str,
        caller: &Caller,
    ) -> Result<(), CatalogError> {
        caller.user_or_service("deleting locations")?;
        self.authorizer
            .require(caller, &CATALOG_LOCATION_DELETE, None)
            .await?;
        if self.readonly {
            return Err(CatalogError::ReadOnly {
                operation: "deleting locations",
            });
        }
        let row = self.location_row(id).await?;
        store::delete_location(self.db(), id).await?;
        let spec = LocationSpec::new(row.location_type, row.target);
        self.engine
            .apply_mutation(
                LOCATION_STORE_PROVIDER,
                EntityProviderMutation::Delta {
                    added: Vec::new(),
                    removed: vec![DeferredEntity::new(
                        generated_location_entity(&spec),
                        Some(spec.to_string()),
                    )],
                },
            )
            .await
    }

    /// `GET /locations/by-entity/...`: 404 unless `caller` may read locations and the entity.
    pub(crate) async fn location_by_entity(
        &self,
        entity_ref: &str,
        caller: &Caller,
    ) -> Result<LocationRow, CatalogError> {
        if !self.may_read_locations(caller).await? {
            return Err(CatalogError::not_found("location of entity", entity_ref));
        }
        let scope = self.read_scope(caller).await?;
        let text = self
            .entity_by_ref(entity_ref, &scope)
            .await?
            .ok_or_else(|| CatalogError::not_found("entity", entity_ref))?;
        let entity = parse_json(&text)?;
        let origin = entity
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(ANNOTATION_ORIGIN_LOCATION))
            .and_then(Value::as_str)
            .ok_or_else(|| CatalogError::not_found("location of entity", entity_ref))?;
        let (t, target) = origin
            .split_once(':')
            .ok_or_else(|| CatalogError::not_found("location of entity", entity_ref))?;
        store::location_by_spec(self.db(), t, target)
            .await?
            .ok_or_else(|| CatalogError::not_found("location", origin))
    }
}
