//! Internal macro that turns a list of payload structs into an aggregate's event enum with
//! its `DomainEvent` impl, so the type-name <-> payload mapping is written once per event.

/// `event_enum!(Enum { Variant(Payload) = ("TypeName", 1), ... })`: 1 is the schema version..
macro_rules! event_enum {
    (
        $(#[$meta:meta])*
        $enum:ident {
            $( $(#[$vmeta:meta])* $variant:ident($payload:ident) = ($name:literal, $version:literal) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $enum {
            $( $(#[$vmeta])* $variant($payload), )+
        }

        impl $enum {
            /// Every event type name of this aggregate with its current schema version.
            pub const TYPES: &'static [(&'static str, i32)] = &[ $( ($name, $version), )+ ];
        }

        $(
            impl $payload {
                /// Stable type name stored with the event.
                pub const EVENT_TYPE: &'static str = $name;
                /// Current schema version of the payload.
                pub const SCHEMA_VERSION: i32 = $version;
            }

            impl From<$payload> for $enum {
                fn from(e: $payload) -> Self {
                    Self::$variant(e)
                }
            }
        )+

        impl $crate::aggregate::DomainEvent for $enum {
            fn event_type(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $name, )+
                }
            }

            fn schema_version(&self) -> i32 {
                match self {
                    $( Self::$variant(_) => $version, )+
                }
            }

            fn to_data(&self) -> serde_json::Value {
                match self {
                    $( Self::$variant(e) => $crate::aggregate::payload(e), )+
                }
            }

            fn from_data(
                event_type: &str,
                data: &serde_json::Value,
            ) -> Result<Self, $crate::error::DomainError> {
                match event_type {
                    $( $name => $crate::aggregate::read_payload(event_type, data).map(Self::$variant), )+
                    other => Err($crate::error::DomainError::UnknownEventType {
                        event_type: other.to_owned(),
                    }),
                }
            }
        }
    };
}
