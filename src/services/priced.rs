//! What a page reads together with the shop's currency its money is shown in, so a
//! handler makes one call instead of reading the shop's settings itself.

use diesel::PgConnection;

use crate::db::shop_settings;
use crate::error::{AppError, AppResult};

/// A page's data and the shop's currency.
pub struct Priced<T> {
    pub data: T,
    pub currency: String,
}

impl<T> Priced<T> {
    /// Runs `read` (a service's read of the page's data), then reads the currency, on the
    /// same connection.
    pub fn load<E>(
        conn: &mut PgConnection,
        read: impl FnOnce(&mut PgConnection) -> Result<T, E>,
    ) -> AppResult<Self>
    where
        AppError: From<E>,
    {
        let data = read(conn)?;
        Ok(Self {
            data,
            currency: currency(conn)?,
        })
    }
}

/// The shop's currency, for a page that shows money and reads nothing else here.
pub fn currency(conn: &mut PgConnection) -> AppResult<String> {
    Ok(shop_settings::load(conn)?.currency)
}
