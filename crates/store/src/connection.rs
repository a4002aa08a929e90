//! `Reader`: a read-only connection to the store (WAL readers never block the writer). Its
//! questions are answered in `reader` (totals, sessions, events), `series` (charts) and `fleet`
//! (per-user and per-team tables).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{StoreError, schema};

pub struct Reader {
    pub(crate) conn: Connection,
    path: std::path::PathBuf,
}

impl Reader {
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The database file this reader reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the database read-only. Fails clearly when it does not exist yet.
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        schema::check_version(&conn)?;
        crate::sql::register_functions(&conn)?;
        Ok(Reader {
            conn,
            path: path.to_path_buf(),
        })
    }
}
