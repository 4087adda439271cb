//! The demo shop: a realistic small shop so that every page has something real to show.

use diesel::prelude::*;

use crate::db::audit::Actor;
use crate::db::users::{self, Role};
use crate::services::accounts;

pub struct DemoLogin {
    pub role: &'static str,
    pub email: &'static str,
    pub password: &'static str,
}

pub fn demo_logins() -> Vec<DemoLogin> {
    vec![
        DemoLogin {
            role: "rep",
            email: "rep@demo.backorder-desk.test",
            password: "rep-demo-password",
        },
        DemoLogin {
            role: "manager",
            email: "manager@demo.backorder-desk.test",
            password: "manager-demo-password",
        },
        DemoLogin {
            role: "admin",
            email: "admin@demo.backorder-desk.test",
            password: "admin-demo-password",
        },
    ]
}

/// True when nobody has been added yet: the demo goes only into an empty database.
pub fn is_empty(conn: &mut PgConnection) -> anyhow::Result<bool> {
    Ok(users::count(conn)? == 0)
}

pub fn load_demo(conn: &mut PgConnection, _orders: u32) -> anyhow::Result<Vec<DemoLogin>> {
    let logins = demo_logins();
    let names = ["Riley Rep", "Morgan Manager", "Alex Admin"];
    for (login, name) in logins.iter().zip(names) {
        let role: Role = login.role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        if users::find_by_email(conn, login.email)?.is_none() {
            accounts::add_user(
                conn,
                &Actor::System,
                login.email,
                name,
                role,
                login.password,
            )
            .map_err(|e| anyhow::anyhow!("adding the demo {}: {e}", login.role))?;
        }
    }
    Ok(logins)
}
