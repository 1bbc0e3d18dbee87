//! Bind-parameter placeholders for statements built at run time (multi-row inserts, `in` lists),
//! in each backend's fastest form: `$1, $2, ...` on PostgreSQL, plain `?` on SQLite.
//!
//! Why not `$N` on SQLite too (it accepts them): SQLite keeps numbered and named parameters in a
//! list that `sqlite3_bind_parameter_name` walks from the start, and sqlx calls it once per
//! parameter, so binding a statement with n `$N` parameters costs O(n²). A 1,000-row insert has
//! 11,000 parameters: that walk took 60% of a rebuild's CPU. Plain `?` parameters are not in the
//! list. Statements built here therefore number their parameters strictly in bind order and
//! never reuse one.

use sqlx::AnyConnection;

use crate::db::Backend;

/// Hands out the placeholders of one statement, in bind order.
#[derive(Debug, Clone)]
pub struct Placeholders {
    backend: Backend,
    next: usize,
}

impl Placeholders {
    /// Placeholders for `backend`, starting at parameter 1.
    pub fn new(backend: Backend) -> Self {
        Self { backend, next: 1 }
    }

    /// Placeholders for the backend `conn` talks to.
    pub fn for_connection(conn: &AnyConnection) -> Self {
        Self::new(Backend::of(conn))
    }

    /// The next parameter's placeholder.
    pub fn param(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        match self.backend {
            Backend::Postgres => format!("${n}"),
            Backend::Sqlite => "?".to_owned(),
        }
    }

    /// `n` placeholders separated by commas: `$1, $2, $3` / `?, ?, ?`.
    pub fn list(&mut self, n: usize) -> String {
        (0..n).map(|_| self.param()).collect::<Vec<_>>().join(", ")
    }

    /// `rows` parenthesised tuples of `width` placeholders: `($1, $2), ($3, $4)`, the
    /// `values` list of a multi-row insert binding row after row.
    pub fn rows(&mut self, rows: usize, width: usize) -> String {
        (0..rows)
            .map(|_| format!("({})", self.list(width)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_in_bind_order_on_postgres_plain_on_sqlite() {
        let mut pg = Placeholders::new(Backend::Postgres);
        assert_eq!(pg.param(), "$1");
        assert_eq!(pg.rows(2, 2), "($2, $3), ($4, $5)");
        assert_eq!(pg.list(2), "$6, $7");
        let mut lite = Placeholders::new(Backend::Sqlite);
        assert_eq!(lite.rows(2, 3), "(?, ?, ?), (?, ?, ?)");
    }
}
