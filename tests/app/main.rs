//! One test binary over HTTP and PostgreSQL: each module is a part of the product.

mod foundation;
mod helpers;
