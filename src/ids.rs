//! Ids of the kinds that meet in one call (a project's, a repository's, a run's, an
//! installation's), so they cannot be passed in each other's place. Stored and sent as the
//! integer they wrap.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            sea_orm::DeriveValueType,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        /// In the OpenAPI document: the integer it is.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <i64 as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

id!(
    /// `projects.id`.
    ProjectId
);
id!(
    /// GitHub's repository id (`repositories.id`).
    RepositoryId
);
id!(
    /// `sync_runs.id`.
    RunId
);
id!(
    /// GitHub's installation id (`installations.id`).
    InstallationId
);
id!(
    /// `webhook_subscriptions.id`: an outgoing webhook subscription.
    SubscriptionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_integer_on_the_wire() {
        assert_eq!(serde_json::to_string(&RunId(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<ProjectId>("12").unwrap(),
            ProjectId(12)
        );
        assert_eq!(RepositoryId(3).to_string(), "3");
    }
}
