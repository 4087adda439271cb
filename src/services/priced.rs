//! What a page reads together with the shop's currency its money is shown in, so a
//! handler makes one call instead of reading the shop's settings itself.

use diesel::PgConnection;

use crate::db::shop_settings::{self, ShopSettings};
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

    /// Reads the shop's settings first and gives them to `read`, for a page whose data
    /// needs them too: the settings are read once.
    pub fn with_settings<E>(
        conn: &mut PgConnection,
        read: impl FnOnce(&mut PgConnection, &ShopSettings) -> Result<T, E>,
    ) -> AppResult<Self>
    where
        AppError: From<E>,
    {
        let settings = shop_settings::load(conn)?;
        let data = read(conn, &settings)?;
        Ok(Self {
            data,
            currency: settings.currency,
        })
    }
}

/// The shop's currency, for a page that shows money and reads nothing else here.
pub fn currency(conn: &mut PgConnection) -> AppResult<String> {
    Ok(shop_settings::load(conn)?.currency)
}
